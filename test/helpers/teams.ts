/**
 * Bot Framework activity builders for the Teams tests, and a POST to `/api/messages`
 * over real HTTP (optionally from another local source address).
 */
import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';

export const BOT = { id: '28:mde-chatops-bot', name: 'MDE Bot' };
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

export interface TeamsUser {
  aad: string;
  name: string;
  /** The Teams MRI (`29:…`); defaults to one derived from the object id. */
  mri?: string;
}

export type ConversationKind = 'personal' | 'channel' | 'groupChat';

export interface Where {
  serviceUrl: string;
  conversationId: string;
  kind?: ConversationKind;
  channelName?: string;
}

export const mriOf = (user: TeamsUser) => user.mri ?? `29:${user.aad}`;

function base(user: TeamsUser, where: Where) {
  const kind = where.kind ?? 'personal';
  return {
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: where.serviceUrl,
    timestamp: new Date().toISOString(),
    from: { id: mriOf(user), name: user.name, aadObjectId: user.aad },
    recipient: { ...BOT },
    conversation: { id: where.conversationId, conversationType: kind, tenantId: TENANT, ...(kind === 'personal' ? {} : { isGroup: true }) },
    channelData: {
      tenant: { id: TENANT },
      ...(kind === 'channel' ? { channel: { id: '19:general@thread.tacv2', name: where.channelName ?? 'General' }, team: { id: '19:team@thread.tacv2', name: 'Security' } } : {}),
    },
    locale: 'en-US',
  };
}

/** A message; in a channel or group chat the text starts with the bot's @mention. */
export function messageActivity(text: string, user: TeamsUser, where: Where, options: { mention?: boolean } = {}) {
  const mention = options.mention ?? (where.kind ?? 'personal') !== 'personal';
  const at = `<at>${BOT.name}</at>`;
  return {
    ...base(user, where),
    type: 'message',
    text: mention ? `${at} ${text}` : text,
    textFormat: 'plain',
    entities: mention ? [{ type: 'mention', mentioned: { ...BOT }, text: at }] : [],
  };
}

/** The `adaptiveCard/action` invoke Teams sends for a press of `action` (an Action.Execute of a card). */
export function invokeActivity(action: { verb: string; data?: unknown; title?: string }, user: TeamsUser, where: Where, options: { replyToId?: string; inputs?: Record<string, unknown>; id?: string; trigger?: 'manual' | 'automatic' } = {}) {
  const data = { ...((action.data as object) ?? {}), ...(options.inputs ?? {}) };
  return {
    ...base(user, where),
    ...(options.id ? { id: options.id } : {}),
    type: 'invoke',
    name: 'adaptiveCard/action',
    replyToId: options.replyToId,
    value: { action: { type: 'Action.Execute', title: action.title, verb: action.verb, data }, trigger: options.trigger ?? 'manual' },
  };
}

export interface PostResult {
  status: number;
  body: any;
  text: string;
}

/** POSTs an activity as JSON (from `localAddress` when given). */
export function postActivity(url: string, activity: unknown, options: { localAddress?: string; headers?: Record<string, string>; rawBody?: string } = {}): Promise<PostResult> {
  const target = new URL(url);
  const payload = options.rawBody ?? JSON.stringify(activity);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        localAddress: options.localAddress,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: any;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, body, text });
        });
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** A non-loopback IPv4 address of this machine, to act as "another machine" (undefined if none). */
export function otherLocalAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
}
