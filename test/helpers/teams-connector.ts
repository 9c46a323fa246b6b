/**
 * A local Bot Framework connector stub: the `serviceUrl` of test activities. It records
 * what the bot sends and answers with ids, like the real connector:
 *
 *   POST /v3/conversations/:conversationId/activities              send      → { id }
 *   POST /v3/conversations/:conversationId/activities/:activityId  reply     → { id }
 *   PUT  /v3/conversations/:conversationId/activities/:activityId  update    → { id }
 *   POST /v3/conversations                                         create    → { id, activityId }
 *   GET  /v3/conversations/:conversationId/members/:userId         member    → a TeamsChannelAccount (setMember), else 404
 *
 * `refuseCreateFor` holds member ids for which `create` answers 403, as Teams does when the
 * app is not installed for that user.
 *
 * A typing indicator sent or replied is recorded as kind `typing`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** `typing`: a typing indicator (sent or replied), kept apart so a test waiting for a reply gets the reply. */
export type ConnectorCallKind = 'send' | 'reply' | 'update' | 'create' | 'typing' | 'member' | 'other';

/** What the member lookup answers for a user (Teams' TeamsChannelAccount). */
export interface StubMember {
  aadObjectId: string;
  name?: string;
  email?: string;
  userPrincipalName?: string;
}

export interface ConnectorCall {
  kind: ConnectorCallKind;
  method: string;
  path: string;
  conversationId?: string;
  /** The id in the path (reply-to or updated activity). */
  activityId?: string;
  /** The id the stub gave this call's activity (send, reply, create). */
  id?: string;
  authorization?: string;
  body: any;
  /** When the stub received it (Date.now()). */
  at: number;
}

export interface ConnectorStub {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  calls: ConnectorCall[];
  /** Adaptive Card contents of every sent, replied and updated activity, in order. */
  cards(): any[];
  /** Calls recorded after `mark` (an index from `calls.length`). */
  since(mark: number): ConnectorCall[];
  /** Member ids (Entra object ids) whose personal chat Teams refuses to create (the app is not installed for them). */
  refuseCreateFor: Set<string>;
  /** Resolves with the first call (from `from`) that matches, or rejects after `timeoutMs`. */
  waitFor(predicate: (call: ConnectorCall) => boolean, options?: { from?: number; timeoutMs?: number }): Promise<ConnectorCall>;
  /** Teaches the member lookup a user (found by object id or by the MRI `29:<object id>`). */
  setMember(member: StubMember): void;
  /** The next `times` member lookups answer this status (an outage). */
  failMembers(status: number, times?: number): void;
  close(): Promise<void>;
}

export const CARD_TYPE = 'application/vnd.microsoft.card.adaptive';

export function cardsOf(call: ConnectorCall): any[] {
  const attachments: any[] = call.body?.attachments ?? call.body?.activity?.attachments ?? [];
  return attachments.filter((a) => a?.contentType === CARD_TYPE).map((a) => a.content);
}

/** What a backslash-escaped markdown string shows (the bot escapes every text it binds into a card). */
export function unescapeMarkdown(text: string): string {
  return text.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/** Every TextBlock text / fact title and value / action title of a card, in order, as the user reads them. */
/**
 * Every text a card shows, as a person reads it: markdown-rendering texts (TextBlock, facts,
 * titles) unescaped, and RichTextBlocks (never markdown) as their runs joined.
 */
export function cardTexts(card: any): string[] {
  const out: string[] = [];
  const walk = (node: any) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    if (node.type === 'RichTextBlock' && Array.isArray(node.inlines)) {
      out.push(node.inlines.map((r: any) => (typeof r === 'string' ? r : (r?.text ?? ''))).join(''));
      return;
    }
    if (node.type === 'TextBlock' && typeof node.text === 'string') out.push(unescapeMarkdown(node.text));
    if (typeof node.title === 'string' && (node.type?.startsWith('Action.') || 'value' in node)) out.push(unescapeMarkdown(node.title));
    if (typeof node.value === 'string' && 'title' in node) out.push(unescapeMarkdown(node.value));
    for (const [k, v] of Object.entries(node)) if (k !== 'data') walk(v);
  };
  walk(card);
  return out;
}

/** The texts of a card that Teams renders as markdown (TextBlocks, facts, titles), as the card carries them (escaped). */
export function rawCardTexts(card: any): string[] {
  const out: string[] = [];
  const walk = (node: any) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    if (node.type === 'TextBlock' && typeof node.text === 'string') out.push(node.text);
    if (typeof node.title === 'string' && (node.type?.startsWith('Action.') || 'value' in node)) out.push(node.title);
    if (typeof node.value === 'string' && 'title' in node) out.push(node.value);
    for (const [k, v] of Object.entries(node)) if (k !== 'data') walk(v);
  };
  walk(card);
  return out;
}

export function cardText(card: any): string {
  return cardTexts(card).join('\n');
}

/** Action.Execute titles of a card (card-level and inside ActionSets). */
export function actionTitles(card: any): string[] {
  const out: string[] = [];
  const walk = (node: any) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    if (node.type === 'Action.Execute') out.push(node.title);
    for (const [k, v] of Object.entries(node)) if (k !== 'data' && k !== 'refresh') walk(v);
  };
  walk(card);
  return out;
}

/** The Action.Execute of a card with this title. */
export function findAction(card: any, title: string): any {
  let found: any;
  const walk = (node: any) => {
    if (found || !node || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach(walk);
    if (node.type === 'Action.Execute' && node.title === title) found = node;
    for (const [k, v] of Object.entries(node)) if (k !== 'data') walk(v);
  };
  walk(card);
  if (!found) throw new Error(`no action "${title}" in card: ${actionTitles(card).join(', ')}`);
  return found;
}

export async function startConnectorStub(): Promise<ConnectorStub> {
  const calls: ConnectorCall[] = [];
  const waiters = new Set<() => void>();
  const members = new Map<string, StubMember>();
  let memberFailure: { status: number; times: number } | undefined;
  const refuseCreateFor = new Set<string>();
  let next = 1;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any = undefined;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = text;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      const member = /^\/v3\/conversations\/([^/]+)\/members\/([^/]+)\/?$/.exec(path);
      if (member && req.method === 'GET') {
        const userId = decodeURIComponent(member[2]!).toLowerCase();
        calls.push({ kind: 'member', method: 'GET', path, conversationId: decodeURIComponent(member[1]!), authorization: req.headers.authorization, body, at: Date.now() });
        for (const w of [...waiters]) w();
        const found = members.get(userId.replace(/^29:/, ''));
        const failing = memberFailure && memberFailure.times > 0 ? memberFailure : undefined;
        if (failing) failing.times -= 1;
        const status = failing ? failing.status : found ? 200 : 404;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(status === 200 ? { id: `29:${found!.aadObjectId}`, objectId: found!.aadObjectId, ...found, tenantId: 'tenant-1', userRole: 'user' } : { error: { code: status === 404 ? 'MemberNotFoundInConversation' : 'ServiceError', message: 'stub' } }));
        return;
      }
      const m = /^\/v3\/conversations(?:\/([^/]+)\/activities(?:\/([^/]+))?)?\/?$/.exec(path);
      const conversationId = m?.[1] ? decodeURIComponent(m[1]) : undefined;
      const activityId = m?.[2] ? decodeURIComponent(m[2]) : undefined;
      let kind: ConnectorCallKind = 'other';
      if (m && req.method === 'POST' && !conversationId) kind = 'create';
      else if (m && req.method === 'POST' && conversationId && !activityId) kind = 'send';
      else if (m && req.method === 'POST' && activityId) kind = 'reply';
      else if (m && req.method === 'PUT' && activityId) kind = 'update';
      if ((kind === 'send' || kind === 'reply') && body?.type === 'typing') kind = 'typing';
      const id = kind === 'update' ? activityId : `stub-activity-${next++}`;
      const call: ConnectorCall = { kind, method: req.method ?? '', path, conversationId, activityId, id, authorization: req.headers.authorization, body, at: Date.now() };
      calls.push(call);
      for (const w of [...waiters]) w();
      if (kind === 'create' && (body?.members ?? []).some((m: { id?: string }) => m?.id && refuseCreateFor.has(m.id))) {
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'Forbidden', message: 'The bot is not installed for this user.' } }));
        return;
      }
      res.writeHead(kind === 'other' ? 404 : 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(kind === 'create' ? { id: `stub-conversation-${next++}`, activityId: id } : kind === 'other' ? { error: 'not a connector route' } : { id }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    calls,
    refuseCreateFor,
    cards: () => calls.filter((c) => c.kind !== 'other' && c.kind !== 'member').flatMap(cardsOf),
    since: (mark) => calls.slice(mark),
    waitFor(predicate, options = {}) {
      const from = options.from ?? 0;
      const timeoutMs = options.timeoutMs ?? 5000;
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = calls.slice(from).find(predicate);
          if (hit) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`connector stub: no matching call within ${timeoutMs} ms; calls: ${calls.slice(from).map((c) => `${c.method} ${c.path}`).join(', ')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    setMember(m) {
      members.set(m.aadObjectId.toLowerCase(), m);
    },
    failMembers(status, times = 1) {
      memberFailure = { status, times };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
