/**
 * A local Slack Web API for tests: answers `auth.test`, `chat.postMessage` (with a ts),
 * `chat.update`, `chat.postEphemeral`, `views.open`, `views.update`, `usergroups.users.list`
 * and `users.info` (from `setUserGroup` / `setUser`), and `{ok:true}` for anything else; records every call with its decoded body, and serves response_urls
 * (`/response/<n>`) that record what `respond()` sends. File uploads (`files.uploadV2`)
 * work as Slack's do: `files.getUploadURLExternal` gives an upload URL on the stub, the
 * bytes posted there are kept (`uploads`), `files.completeUploadExternal` shares them.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  method: string;
  /** Form fields (JSON-looking values decoded) or the JSON body. */
  body: Record<string, any>;
  authorization?: string;
  at: number;
  /** What the stub answered. */
  response?: Record<string, any>;
}

export interface ResponseUrlCall {
  id: string;
  body: Record<string, any>;
  at: number;
}

export interface SlackUpload {
  fileId: string;
  filename?: string;
  /** The bytes posted to the upload URL. */
  bytes: Buffer;
  /** From files.completeUploadExternal: where it was shared, and its title. */
  channel?: string;
  title?: string;
  completed: boolean;
}

export interface SlackStub {
  url: string;
  /** Files uploaded, by file id. */
  uploads: Map<string, SlackUpload>;
  /** Give this as SLACK_API_URL. */
  apiUrl: string;
  calls: SlackCall[];
  responses: ResponseUrlCall[];
  /** A fresh response_url. */
  responseUrl(): string;
  callsTo(method: string): SlackCall[];
  /** The next `times` calls of `method` answer `{ ok: false, error }`. */
  fail(method: string, error: string, times?: number): void;
  /** What `usergroups.users.list` answers for this group (unknown groups: `no_such_subteam`). */
  setUserGroup(groupId: string, userIds: string[]): void;
  /** What `users.info` answers for this user (unknown users: `user_not_found`). */
  setUser(userId: string, profile: { email?: string; confirmed?: boolean; name?: string }): void;
  /** Delay every answer of `method`. */
  delay(method: string, ms: number): void;
  /** Resolves when `predicate` holds (checked on every recorded call and every 20 ms). */
  waitFor<T>(predicate: () => T | undefined | false | null, timeoutMs?: number): Promise<T>;
  reset(): void;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The file in an upload: the first part of a multipart body (as @slack/web-api sends it), else the body itself. */
function fileBytes(body: Buffer, contentType: string | undefined): Buffer {
  const boundary = /multipart\/form-data;.*boundary=("?)([^";]+)\1/i.exec(contentType ?? '')?.[2];
  if (!boundary) return body;
  const start = body.indexOf('\r\n\r\n', body.indexOf(`--${boundary}`));
  const end = body.indexOf(`\r\n--${boundary}`, start);
  return start < 0 || end < 0 ? body : body.subarray(start + 4, end);
}

function decode(raw: string, contentType: string | undefined): Record<string, any> {
  if (contentType?.includes('application/json')) {
    try {
      return JSON.parse(raw) as Record<string, any>;
    } catch {
      return { raw };
    }
  }
  const out: Record<string, any> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (/^[[{]/.test(value)) {
      try {
        out[key] = JSON.parse(value);
        continue;
      } catch {
        // not JSON after all
      }
    }
    out[key] = value;
  }
  return out;
}

export async function startSlackStub(): Promise<SlackStub> {
  const calls: SlackCall[] = [];
  const responses: ResponseUrlCall[] = [];
  const uploads = new Map<string, SlackUpload>();
  let url = '';
  const failures = new Map<string, { error: string; times: number }>();
  const delays = new Map<string, number>();
  const userGroups = new Map<string, string[]>();
  const users = new Map<string, { email?: string; confirmed?: boolean; name?: string }>();
  const waiters = new Set<() => void>();
  let seq = 0;
  let responseSeq = 0;
  const notify = () => {
    for (const w of [...waiters]) w();
  };

  function answer(method: string, body: Record<string, any>): Record<string, any> {
    const failure = failures.get(method);
    if (failure && failure.times > 0) {
      failure.times -= 1;
      return { ok: false, error: failure.error };
    }
    seq += 1;
    switch (method) {
      case 'auth.test':
        return { ok: true, url: 'https://test.slack.com/', team: 'Test', user: 'mde', team_id: 'T0TEST', user_id: 'U0BOT', bot_id: 'B0BOT' };
      case 'chat.postMessage': {
        const channel = String(body.channel ?? '').replace(/^#/, '');
        const id = /^[CGD][A-Z0-9]+$/.test(channel) ? channel : `C${channel.toUpperCase().replace(/[^A-Z0-9]/g, '')}`;
        const ts = `1700000000.${String(seq).padStart(6, '0')}`;
        return { ok: true, channel: id, ts, message: { ts, text: body.text, blocks: body.blocks } };
      }
      case 'chat.update':
        return { ok: true, channel: body.channel, ts: body.ts, text: body.text };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: `1700000001.${String(seq).padStart(6, '0')}` };
      case 'views.open':
      case 'views.update': {
        const id = method === 'views.open' ? `V${String(seq).padStart(8, '0')}` : body.view_id;
        return { ok: true, view: { ...(body.view ?? {}), id, hash: `${seq}.hash`, state: { values: {} } } };
      }
      case 'usergroups.users.list': {
        const members = userGroups.get(String(body.usergroup ?? ''));
        return members ? { ok: true, users: members } : { ok: false, error: 'no_such_subteam' };
      }
      case 'users.info': {
        const id = String(body.user ?? '');
        const user = users.get(id);
        if (!user) return { ok: false, error: 'user_not_found' };
        return { ok: true, user: { id, name: user.name ?? id.toLowerCase(), is_bot: false, deleted: false, is_email_confirmed: user.confirmed ?? true, profile: user.email ? { email: user.email } : {} } };
      }
      case 'files.getUploadURLExternal': {
        const fileId = `F${String(seq).padStart(8, '0')}`;
        uploads.set(fileId, { fileId, filename: body.filename, bytes: Buffer.alloc(0), completed: false });
        return { ok: true, upload_url: `${url}/upload/${fileId}`, file_id: fileId };
      }
      case 'files.completeUploadExternal': {
        const files = (typeof body.files === 'string' ? JSON.parse(body.files) : body.files) as Array<{ id: string; title?: string }>;
        for (const f of files ?? []) {
          const u = uploads.get(f.id);
          if (u) Object.assign(u, { completed: true, channel: body.channel_id, title: f.title });
        }
        return { ok: true, files: (files ?? []).map((f) => ({ id: f.id, title: f.title })) };
      }
      default:
        return { ok: true };
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const bytes = await readBody(req);
      const raw = bytes.toString('utf8');
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      if (path.startsWith('/upload/')) {
        const upload = uploads.get(path.slice('/upload/'.length));
        res.writeHead(upload ? 200 : 404, { 'content-type': 'text/plain' });
        res.end(upload ? 'OK' : 'no such upload');
        if (upload) upload.bytes = fileBytes(bytes, req.headers['content-type']);
        notify();
        return;
      }
      const body = decode(raw, req.headers['content-type']);
      if (path.startsWith('/response/')) {
        responses.push({ id: path.slice('/response/'.length), body, at: Date.now() });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
        notify();
        return;
      }
      if (path.startsWith('/api/')) {
        const method = path.slice('/api/'.length);
        const call: SlackCall = { method, body, authorization: req.headers.authorization, at: Date.now() };
        calls.push(call);
        const wait = delays.get(method);
        if (wait) await new Promise((r) => setTimeout(r, wait));
        const out = answer(method, body);
        call.response = out;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
        notify();
        return;
      }
      res.writeHead(404);
      res.end();
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    uploads,
    apiUrl: `${url}/api/`,
    calls,
    responses,
    responseUrl: () => `${url}/response/${++responseSeq}`,
    callsTo: (method) => calls.filter((c) => c.method === method),
    fail: (method, error, times = 1) => failures.set(method, { error, times }),
    delay: (method, ms) => delays.set(method, ms),
    setUserGroup: (groupId, userIds) => userGroups.set(groupId, userIds),
    setUser: (userId, profile) => users.set(userId, profile),
    waitFor<T>(predicate: () => T | undefined | false | null, timeoutMs = 10_000): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = () => {
          let value: T | undefined | false | null;
          try {
            value = predicate();
          } catch (error) {
            finish();
            reject(error as Error);
            return;
          }
          if (value) {
            finish();
            resolve(value);
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`slack stub: condition not met within ${timeoutMs} ms`));
        }, timeoutMs);
        const poll = setInterval(check, 20);
        const finish = () => {
          clearTimeout(timer);
          clearInterval(poll);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    reset() {
      calls.length = 0;
      responses.length = 0;
      uploads.clear();
      failures.clear();
      delays.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
