/**
 * The gate in front of Bolt's HTTPReceiver: a request is handed to Bolt only when it is
 * correctly signed, recent (its timestamp within 5 minutes of now, in the past or the
 * future), and its body is one of the envelopes this bot reads (zod). Bolt itself reads
 * fields of the body before any listener runs (and outside its own error handling: a
 * signed `payload=null` used to crash the process), so nothing it cannot read reaches it.
 *
 *   checkSlackRequest({ rawBody, headers, signingSecret }) → { ok: true, kind } | { ok: false, status, reason }
 *
 * Pure: no I/O. The reason names what is wrong, never a value from the body.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse as parseQuery } from 'node:querystring';
import { z } from 'zod';

/** Slack's rule: a request more than 5 minutes from now (either way) is refused. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

const FORM = 'application/x-www-form-urlencoded';

const text = (max = 100_000) => z.string().max(max);
const id = z.string().min(1).max(255);
/** A key that must not be there. */
const absent = z.never().optional();

const user = z.looseObject({ id, username: text(500).optional(), name: text(500).optional(), team_id: text(255).optional() });
const team = z.looseObject({ id, domain: text(500).optional(), enterprise_id: text(255).optional() }).nullable().optional();
const enterprise = z.looseObject({ id: text(255).optional(), name: text(500).optional() }).nullable().optional();
const common = {
  user,
  team,
  enterprise,
  api_app_id: text(255).optional(),
  token: text(500).optional(),
  trigger_id: text(500).optional(),
  is_enterprise_install: z.boolean().optional(),
  // Bolt decides what kind of request a body is by these keys before looking at `type`.
  event: absent,
  command: absent,
  name: absent,
};

const stateSchema = z.looseObject({ values: z.record(z.string(), z.unknown()) }).optional();
const blockSchema = z.looseObject({ type: text(100), block_id: text(255).optional() });

const viewSchema = z.looseObject({
  id,
  callback_id: text(255).optional(),
  hash: text(500).optional(),
  private_metadata: text(3000).optional(),
  app_installed_team_id: text(255).nullable().optional(),
  team_id: text(255).nullable().optional(),
  blocks: z.array(blockSchema).max(100).optional(),
  // The values inside are read by modal.ts (readFormValues), which takes anything.
  state: stateSchema,
});

const blockActions = z.looseObject({
  ...common,
  type: z.literal('block_actions'),
  channel: z.looseObject({ id, name: text(500).optional() }).optional(),
  container: z.looseObject({ type: text(100).optional(), channel_id: text(255).optional(), view_id: text(255).optional(), message_ts: text(100).optional() }).optional(),
  response_url: text(2000).optional(),
  actions: z
    .array(
      z.looseObject({
        action_id: id,
        block_id: text(255).optional(),
        type: text(100).optional(),
        value: text(2000).optional(),
        action_ts: text(100).optional(),
      }),
    )
    .min(1)
    .max(25),
  message: z.looseObject({}).optional(),
  view: viewSchema.optional(),
});

const viewSubmission = z.looseObject({
  ...common,
  type: z.literal('view_submission'),
  view: viewSchema.extend({ callback_id: text(255) }),
  response_urls: z.array(z.looseObject({ response_url: text(2000), channel_id: text(255).optional() })).optional(),
});

const viewClosed = z.looseObject({
  ...common,
  type: z.literal('view_closed'),
  view: viewSchema.extend({ callback_id: text(255) }),
});

/** Interaction payloads (`payload=<json>`): the kinds the bot registers listeners for. */
export const interactionSchema = z.discriminatedUnion('type', [blockActions, viewSubmission, viewClosed]);

/** A slash command (form fields; a repeated field arrives as an array and is refused). */
export const slashCommandSchema = z.looseObject({
  command: z.string().min(1).max(255),
  user_id: id,
  text: text(50_000).optional(),
  user_name: text(500).optional(),
  channel_id: text(255).optional(),
  channel_name: text(500).optional(),
  team_id: text(255).optional(),
  team_domain: text(500).optional(),
  enterprise_id: text(255).optional(),
  trigger_id: text(500).optional(),
  response_url: text(2000).optional(),
  api_app_id: text(255).optional(),
  token: text(500).optional(),
  is_enterprise_install: text(10).optional(),
  payload: absent,
  event: absent,
});

/** Events API JSON: only the URL check (the app subscribes to no events). */
export const eventsSchema = z.looseObject({ type: z.literal('url_verification'), challenge: text(500) });

export type SlackRequestKind = 'ssl_check' | 'command' | 'interaction' | 'url_verification';

export type SlackCheck = { ok: true; kind: SlackRequestKind } | { ok: false; status: 400 | 401; reason: string };

export interface SlackRequestParts {
  rawBody: Buffer;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  signingSecret: string;
  /** Default Date.now(). */
  nowMs?: number;
}

function header(headers: SlackRequestParts['headers'], name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

/** Signature and timestamp, as Slack documents them, with the 5-minute rule both ways. */
export function verifySignature(parts: SlackRequestParts): { ok: true } | { ok: false; reason: string } {
  const stamp = header(parts.headers, 'x-slack-request-timestamp');
  const signature = header(parts.headers, 'x-slack-signature');
  if (stamp === undefined || !/^\d{1,12}$/.test(stamp)) return { ok: false, reason: 'missing or malformed x-slack-request-timestamp' };
  if (signature === undefined || !/^v0=[0-9a-f]{64}$/.test(signature)) return { ok: false, reason: 'missing or malformed x-slack-signature' };
  const skew = Math.floor((parts.nowMs ?? Date.now()) / 1000) - Number(stamp);
  if (skew > MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'request timestamp more than 5 minutes old' };
  if (skew < -MAX_CLOCK_SKEW_SECONDS) return { ok: false, reason: 'request timestamp more than 5 minutes in the future' };
  const expected = createHmac('sha256', parts.signingSecret).update(`v0:${stamp}:`).update(parts.rawBody).digest();
  const given = Buffer.from(signature.slice(3), 'hex');
  if (!timingSafeEqual(expected, given)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}

function issuePath(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.map(String).join('.') || '(body)'}: ${issue.code}` : 'invalid';
}

/**
 * Whether this request may go to Bolt. Parses the body the way Bolt's receiver does (a
 * form only when the content type is exactly `application/x-www-form-urlencoded`, then
 * `payload` as JSON when present; anything else as JSON).
 */
export function checkSlackRequest(parts: SlackRequestParts): SlackCheck {
  const contentType = header(parts.headers, 'content-type');
  const raw = parts.rawBody.toString('utf8');
  const form = contentType === FORM ? parseQuery(raw) : undefined;
  // Slack's SSL check is not signed; Bolt answers it without looking further.
  if (form?.ssl_check === '1') return { ok: true, kind: 'ssl_check' };
  const signed = verifySignature(parts);
  if (!signed.ok) return { ok: false, status: 401, reason: signed.reason };

  if (form) {
    if (typeof form.payload === 'string') {
      let payload: unknown;
      try {
        payload = JSON.parse(form.payload);
      } catch {
        return { ok: false, status: 400, reason: 'payload is not JSON' };
      }
      const parsed = interactionSchema.safeParse(payload);
      return parsed.success ? { ok: true, kind: 'interaction' } : { ok: false, status: 400, reason: `not an interaction payload the bot reads (${issuePath(parsed.error)})` };
    }
    const parsed = slashCommandSchema.safeParse(form);
    return parsed.success ? { ok: true, kind: 'command' } : { ok: false, status: 400, reason: `not a slash command the bot reads (${issuePath(parsed.error)})` };
  }

  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return { ok: false, status: 400, reason: 'body is not JSON' };
  }
  const parsed = eventsSchema.safeParse(body);
  return parsed.success ? { ok: true, kind: 'url_verification' } : { ok: false, status: 400, reason: `not a Slack request the bot reads (${issuePath(parsed.error)})` };
}
