/**
 * Requests as Slack sends them: signed (`v0=` HMAC-SHA256 of `v0:{ts}:{raw body}` with
 * the signing secret), slash commands form-encoded, interactions as `payload=<json>`.
 * Fixture builders for the payloads the adapter reads.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const TEAM = { id: 'T0TEST', domain: 'test' };

export function slackSignature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface SendOptions {
  secret: string;
  /** Unix seconds; default now. */
  timestamp?: number;
  /** Replace the signature (wrong-signature tests). */
  signature?: string;
  retryNum?: number;
  /** Default `application/x-www-form-urlencoded`; Events API bodies are `application/json`. */
  contentType?: string;
}

export interface SlackHttpResult {
  status: number;
  text: string;
  json?: any;
  ms: number;
}

/** POSTs a form-encoded body to the bot's `/slack/events`, signed. */
export async function postSigned(url: string, body: string, options: SendOptions): Promise<SlackHttpResult> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': options.signature ?? slackSignature(options.secret, timestamp, body),
  };
  if (options.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(options.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  const started = performance.now();
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  const ms = performance.now() - started;
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, ms };
}

export const randomId = (prefix: string) => `${prefix}${randomBytes(6).toString('hex').toUpperCase()}`;

export interface UserRef {
  id: string;
  name: string;
}

export interface CommandFields {
  user: UserRef;
  text: string;
  channel?: { id: string; name: string };
  responseUrl: string;
  triggerId?: string;
  command?: string;
}

/** A slash command body (`application/x-www-form-urlencoded`). */
export function slashCommandBody(f: CommandFields): { body: string; triggerId: string } {
  const triggerId = f.triggerId ?? `${Date.now()}.${randomId('')}`;
  const channel = f.channel ?? { id: 'C0OPS', name: 'secops' };
  const body = new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: TEAM.id,
    team_domain: TEAM.domain,
    channel_id: channel.id,
    channel_name: channel.name,
    user_id: f.user.id,
    user_name: f.user.name,
    command: f.command ?? '/mde',
    text: f.text,
    api_app_id: 'A0TEST',
    is_enterprise_install: 'false',
    response_url: f.responseUrl,
    trigger_id: triggerId,
  }).toString();
  return { body, triggerId };
}

export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

export interface ButtonClick {
  user: UserRef;
  /** The message the button is on (as posted: ts, channel, blocks). */
  message: { ts: string; channel: string; blocks: any[] };
  /** The Block Kit button clicked. */
  button: { action_id: string; value?: string; text?: unknown };
  responseUrl: string;
  actionTs?: string;
  triggerId?: string;
}

/** A `block_actions` payload for a button on a message. */
export function blockActionPayload(c: ButtonClick): Record<string, unknown> {
  const blockId = c.message.blocks.find((b) => b.type === 'actions' && b.elements?.some((e: any) => e.action_id === c.button.action_id))?.block_id ?? 'b1';
  return {
    type: 'block_actions',
    user: { id: c.user.id, username: c.user.name, name: c.user.name, team_id: TEAM.id },
    api_app_id: 'A0TEST',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: c.message.ts, channel_id: c.message.channel, is_ephemeral: false },
    trigger_id: c.triggerId ?? `${Date.now()}.${randomId('')}`,
    team: TEAM,
    enterprise: null,
    is_enterprise_install: false,
    channel: { id: c.message.channel, name: 'secops' },
    message: { type: 'message', ts: c.message.ts, text: '', blocks: c.message.blocks },
    response_url: c.responseUrl,
    actions: [
      {
        action_id: c.button.action_id,
        block_id: blockId,
        text: c.button.text ?? { type: 'plain_text', text: 'button' },
        value: c.button.value,
        type: 'button',
        action_ts: c.actionTs ?? `${(Date.now() / 1000).toFixed(6)}`,
      },
    ],
  };
}

/** A view's `state.values` from `{ blockId: value }`, typed after the input elements of the view. */
export function stateFor(view: { blocks: any[] }, values: Record<string, string | boolean | undefined>): Record<string, Record<string, unknown>> {
  const state: Record<string, Record<string, unknown>> = {};
  for (const block of view.blocks) {
    if (block.type !== 'input') continue;
    const el = block.element;
    const v = values[block.block_id];
    let out: Record<string, unknown>;
    switch (el.type) {
      case 'static_select': {
        const chosen = v === undefined ? el.initial_option : el.options.find((o: any) => o.value === v);
        out = { type: 'static_select', selected_option: chosen ?? null };
        break;
      }
      case 'checkboxes': {
        const on = v === undefined ? Boolean(el.initial_options?.length) : v === true || v === 'true';
        out = { type: 'checkboxes', selected_options: on ? el.options : [] };
        break;
      }
      case 'number_input':
        out = { type: 'number_input', value: v === undefined ? (el.initial_value ?? null) : String(v) };
        break;
      default:
        out = { type: el.type, value: v === undefined ? (el.initial_value ?? null) : String(v) };
    }
    state[block.block_id] = { [el.action_id]: out };
  }
  return state;
}

/** A `view_submission` payload for a view the bot opened (as recorded by the stub). */
export function viewSubmissionPayload(user: UserRef, view: { id: string; hash?: string; blocks: any[]; private_metadata?: string; callback_id?: string }, values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  return {
    type: 'view_submission',
    team: TEAM,
    user: { id: user.id, username: user.name, name: user.name, team_id: TEAM.id },
    api_app_id: 'A0TEST',
    token: 'legacy-verification-token',
    trigger_id: `${Date.now()}.${randomId('')}`,
    view: {
      ...view,
      type: 'modal',
      team_id: TEAM.id,
      hash: view.hash ?? '1.hash',
      state: { values: stateFor(view, values) },
    },
    response_urls: [],
    is_enterprise_install: false,
  };
}

/** A `block_actions` payload from an input inside a modal (dispatch_action). */
export function modalFieldPayload(user: UserRef, view: { id: string; hash?: string; blocks: any[]; private_metadata?: string }, blockId: string, values: Record<string, string | boolean | undefined>): Record<string, unknown> {
  return {
    type: 'block_actions',
    user: { id: user.id, username: user.name, name: user.name, team_id: TEAM.id },
    api_app_id: 'A0TEST',
    token: 'legacy-verification-token',
    container: { type: 'view', view_id: view.id },
    trigger_id: `${Date.now()}.${randomId('')}`,
    team: TEAM,
    view: { ...view, type: 'modal', hash: view.hash ?? '1.hash', state: { values: stateFor(view, values) } },
    actions: [{ type: 'static_select', action_id: 'mde_field', block_id: blockId, selected_option: { value: values[blockId] }, action_ts: `${(Date.now() / 1000).toFixed(6)}` }],
  };
}
