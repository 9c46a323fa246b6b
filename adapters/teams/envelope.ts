/**
 * The shape of a Bot Framework activity as far as botbuilder and this adapter read it,
 * checked (zod) before botbuilder sees the activity. botbuilder trusts the fields it
 * reads (a `type` that is a number, a `conversation` that is a string, …) and fails deep
 * inside a turn; such an activity is answered 400 here instead. Unknown fields pass.
 */
import { z } from 'zod';

const text = (max: number) => z.string().max(max);
const id = z.string().min(1).max(1000);

const account = z.looseObject({
  id,
  name: text(1000).optional(),
  aadObjectId: text(200).optional(),
  role: text(100).optional(),
});

const entity = z.looseObject({
  type: text(200),
  // Mention entities: botbuilder's removeRecipientMention reads these.
  mentioned: z.looseObject({ id: text(1000), name: text(1000).optional() }).optional(),
  text: text(10_000).optional(),
});

const channelData = z.looseObject({
  tenant: z.looseObject({ id: text(200) }).optional(),
  channel: z.looseObject({ id: text(1000), name: text(1000).optional() }).optional(),
  team: z.looseObject({ id: text(1000), name: text(1000).optional(), aadGroupId: text(200).optional() }).optional(),
  eventType: text(200).optional(),
});

export const activityEnvelopeSchema = z.looseObject({
  type: z.string().min(1).max(100),
  id: text(1000).optional(),
  channelId: text(100).optional(),
  serviceUrl: text(2000),
  timestamp: text(100).optional(),
  localTimestamp: text(100).optional(),
  expiration: text(100).optional(),
  from: account,
  recipient: account,
  conversation: z.looseObject({
    id,
    conversationType: text(100).optional(),
    tenantId: text(200).optional(),
    isGroup: z.boolean().optional(),
    name: text(1000).optional(),
  }),
  text: text(100_000).optional(),
  textFormat: text(100).optional(),
  locale: text(100).optional(),
  name: text(1000).optional(),
  replyToId: text(1000).optional(),
  entities: z.array(entity).max(100).optional(),
  attachments: z.array(z.looseObject({ contentType: text(200) })).max(50).optional(),
  channelData: channelData.optional(),
  membersAdded: z.array(account).max(1000).optional(),
  membersRemoved: z.array(account).max(1000).optional(),
});

export type EnvelopeCheck = { ok: true } | { ok: false; reason: string };

/** Whether botbuilder may be given this body; the reason names the field, never its value. */
export function checkActivityEnvelope(body: unknown): EnvelopeCheck {
  const parsed = activityEnvelopeSchema.safeParse(body);
  if (parsed.success) return { ok: true };
  const issue = parsed.error.issues[0];
  return { ok: false, reason: `not a Bot Framework activity the bot reads (${issue ? `${issue.path.map(String).join('.') || '(body)'}: ${issue.code}` : 'invalid'})` };
}
