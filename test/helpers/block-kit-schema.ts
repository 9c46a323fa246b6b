/**
 * Block Kit's limits as a zod schema (https://docs.slack.dev/reference/block-kit): a
 * message has at most 50 blocks (a modal 100), a section text at most 3,000 characters,
 * at most 10 fields of 2,000, a header 150, a button label 75 and its value 2,000, an
 * actions block 25 elements, a context block 10, an overflow menu 2–5 options whose text
 * and value are at most 75, and every `action_id` / `block_id` at most 255.
 */
import { z } from 'zod';

const chars = (max: number) => z.string().refine((s) => [...s].length <= max, `longer than ${max} characters`);
const id = chars(255).optional();
const plain = (max: number) => z.strictObject({ type: z.literal('plain_text'), text: chars(max).pipe(z.string().min(1)), emoji: z.boolean().optional() });
const mrkdwn = (max: number) => z.strictObject({ type: z.literal('mrkdwn'), text: chars(max).pipe(z.string().min(1)), verbatim: z.boolean().optional() });
const text = (max: number) => z.union([plain(max), mrkdwn(max)]);

const button = z.strictObject({
  type: z.literal('button'),
  text: plain(75),
  action_id: chars(255),
  value: chars(2000).optional(),
  url: chars(3000).optional(),
  style: z.enum(['primary', 'danger']).optional(),
});
const option = z.strictObject({ text: plain(75), value: chars(75) });
const overflow = z.strictObject({ type: z.literal('overflow'), action_id: chars(255), options: z.array(option).min(2).max(5) });

export const blockSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('header'), text: plain(150), block_id: id }),
  z
    .strictObject({ type: z.literal('section'), text: text(3000).optional(), fields: z.array(text(2000)).min(1).max(10).optional(), accessory: z.union([button, overflow]).optional(), block_id: id })
    .refine((s) => s.text !== undefined || s.fields !== undefined, 'a section needs text or fields'),
  z.strictObject({ type: z.literal('context'), elements: z.array(text(3000)).min(1).max(10), block_id: id }),
  z
    .strictObject({ type: z.literal('actions'), elements: z.array(z.union([button, overflow])).min(1).max(25), block_id: id })
    .refine((a) => new Set(a.elements.map((e) => e.action_id)).size === a.elements.length, 'action_ids repeat'),
  z.strictObject({ type: z.literal('divider'), block_id: id }),
]);

/** A message as `chat.postMessage`, `chat.update` or `respond()` send it. */
export const messageSchema = z
  .looseObject({ text: chars(40_000), blocks: z.array(blockSchema).min(1).max(50) })
  .refine((m) => {
    const ids = m.blocks.flatMap((b) => ('elements' in b ? b.elements : 'accessory' in b && b.accessory ? [b.accessory] : []).flatMap((e) => ('action_id' in e ? [e.action_id] : [])));
    return new Set(ids).size === ids.length;
  }, 'action_ids repeat within the message');

/** The problems of a message; empty when it keeps to Block Kit's limits. */
export function blockKitProblems(message: unknown): string[] {
  const parsed = messageSchema.safeParse(message);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}
