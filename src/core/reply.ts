/**
 * The platform-neutral reply model. The core answers with these; each adapter renders
 * them (Block Kit, Adaptive Cards, terminal text). Text is plain: adapters escape it for
 * their platform; `code` marks spans to show in monospace.
 */
import { z } from 'zod';
import type { ApprovalState } from './records.js';

export type Tone = 'info' | 'success' | 'warning' | 'error';

/** What a button does when pressed. Buttons carry only this, never the data they act on. */
export type ButtonAction =
  /** Runs a chat command as the presser (paging, "show", "history"). */
  | { type: 'command'; command: string }
  /** Decides an approval request; everything else comes from the store. */
  | { type: 'approval'; approvalId: string; decision: 'approve' | 'reject' }
  /** Opens a form. */
  | { type: 'form'; form: FormKind; definitionId?: string };

/** What adapters read back from a pressed button: never trusted without this check. */
export const buttonActionSchema: z.ZodType<ButtonAction> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('command'), command: z.string().min(1).max(1900) }),
  z.object({ type: z.literal('approval'), approvalId: z.string().min(1).max(64), decision: z.enum(['approve', 'reject']) }),
  z.object({ type: z.literal('form'), form: z.enum(['create', 'update']), definitionId: z.string().min(1).max(200).optional() }),
]);

export interface Button {
  label: string;
  action: ButtonAction;
  style?: 'primary' | 'danger';
}

export interface Fact {
  label: string;
  value: string;
}

export interface Paging {
  page: number;
  pages: number;
  total: number;
  /** The command for another page, with `{page}` where the number goes. */
  command: string;
}

/**
 * A status in the core's one vocabulary (`STATUS` in views.ts): the word every platform
 * shows, and its kind, which adapters map to their own semantic style (an emoji in Slack,
 * a `good` / `attention` / `warning` colour in Teams, a mark in the console).
 */
export interface Badge {
  text: string;
  kind: 'good' | 'bad' | 'warning' | 'running' | 'neutral';
}

/** One line of a compact list: a badge, a title, short facts after it, buttons at the end. */
export interface Item {
  badge?: Badge;
  title: string;
  /** Show the title in monospace (a command, an id). */
  code?: boolean;
  /** Short facts for the same line, in order ("Network", "10.0.0.1 +2", "Success 3 h ago"). */
  meta: string[];
  /** A second line, for what needs words (a failure reason). */
  note?: { text: string; tone?: Tone };
  buttons?: Button[];
}

/** One step of an approval's story, oldest first. */
export interface TimelineStep {
  /** "Requested by Rita Requester", "Approved by Adam Approver", "Started", "In progress", "Finished: Succeeded". */
  text: string;
  /** UTC (`2026-11-23 01:35 UTC`) and relative ("3 min ago"); absent for a step not reached yet. */
  at?: string;
  ago?: string;
  tone?: Tone;
  /** Not reached yet (shown dimmed). */
  pending?: boolean;
}

export type Block =
  | { type: 'heading'; text: string }
  /** A compact list: one line per item; `title` names the group (history: one per definition). */
  | { type: 'items'; title?: string; items: Item[]; paging?: Paging; empty?: string }
  | { type: 'text'; text: string; tone?: Tone }
  | { type: 'facts'; facts: Fact[] }
  | { type: 'table'; columns: string[]; rows: string[][]; paging?: Paging }
  | { type: 'buttons'; buttons: Button[] }
  /** A usage line or example, shown in monospace. */
  | { type: 'code'; text: string }
  | { type: 'approval'; approval: ApprovalView }
  | { type: 'form'; form: FormSpec }
  /** A file for the caller: Slack uploads it, Teams shows its download link, the console writes it. */
  | { type: 'file'; file: FileView };

export interface FileView {
  name: string;
  mimeType: string;
  content: string;
  /** How many records it holds (entries of an export). */
  entries: number;
  /** A short-lived download of the same file from the bot (platforms that take no upload). */
  link?: { url: string; expiresAt: string };
}

export interface Reply {
  /** `private`: only the caller sees it (help, errors, forms); `public`: the conversation does. */
  visibility: 'private' | 'public';
  blocks: Block[];
  /** One line for notifications and text-only surfaces. */
  summary: string;
  /** The approval request this reply created or shows, when there is one. */
  approvalId?: string;
}

/** Everything an approval card shows; rendered the same way wherever the card lives. */
export interface ApprovalView {
  id: string;
  state: ApprovalState;
  /** The state in words (the same everywhere). */
  stateLabel: string;
  title: string;
  /** What will happen: targets, machine, scan type. */
  facts: Fact[];
  requester: string;
  reason: string;
  createdAt: string;
  expiresAt: string;
  decidedBy?: string;
  decidedAt?: string;
  decisionReason?: string;
  /** The outcome or the latest progress, once there is one. */
  outcome?: { text: string; tone: Tone };
  /** What to do next, after a failure ("Check that the device is online, then request the scan again."). */
  nextStep?: string;
  /** The story so far: requested, decided, started, in progress, finished (with times). */
  timeline: TimelineStep[];
  /** The state as a badge (the same word as `stateLabel`). */
  badge: Badge;
  /** Long ids in the facts, in full, for a copyable code line (the facts show them short). */
  ids: Fact[];
  /** Decision buttons, present only while the request is pending. */
  buttons: Button[];
}

export type FormKind = 'create' | 'update';

export type FieldKind = 'text' | 'number' | 'choice' | 'secret' | 'toggle';

export interface FormField {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  options?: Array<{ value: string; label: string }>;
  /** Prefilled value; never set for secrets. */
  value?: string;
  placeholder?: string;
  hint?: string;
  error?: string;
  /** Show only when another field has one of these values (e.g. SNMP fields by type). */
  showWhen?: { field: string; values: string[] };
}

export interface FormSpec {
  kind: FormKind;
  title: string;
  /** For updates: the definition being changed. */
  definitionId?: string;
  fields: FormField[];
  submitLabel: string;
  /** A form-level error (not tied to one field). */
  error?: string;
  /**
   * Update forms only: the non-secret values the form was first prefilled with (scanName,
   * target, targetType, intervalInHours, active, agent, credentials). Adapters carry it
   * through the round trip and hand it back in the `FormSubmission`, so that only what
   * the user changed is sent, not values someone else changed meanwhile. Never secrets.
   */
  baseline?: Record<string, string>;
}

/** The reply with `clean` applied to every string in it (redaction). */
export function redactReply(reply: Reply, clean: (text: string) => string): Reply {
  const walk = (value: unknown): unknown =>
    typeof value === 'string' ? clean(value) : Array.isArray(value) ? value.map(walk) : value && typeof value === 'object' ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v)])) : value;
  return walk(reply) as Reply;
}

export function textReply(text: string, options: { tone?: Tone; visibility?: Reply['visibility'] } = {}): Reply {
  return { visibility: options.visibility ?? 'private', blocks: [{ type: 'text', text, tone: options.tone }], summary: text };
}

export function errorReply(message: string, usage?: string): Reply {
  const blocks: Block[] = [{ type: 'text', text: message, tone: 'error' }];
  if (usage) blocks.push({ type: 'code', text: `Usage: ${usage}` });
  return { visibility: 'private', blocks, summary: message };
}
