/**
 * Download links for audit exports (Teams takes no file upload from the bot): an
 * unguessable, short-lived link that serves one export and nothing else.
 *
 * The token is 32 random bytes (base64url) and only its SHA-256 is stored (as a setting,
 * so every replica can serve it), with the export's query and its expiry. A GET renders
 * the export again from the append-only log, bounded by the sequence number it had when
 * the link was made, so the file is the one the user asked for. Only GET; an unknown,
 * malformed or expired token is a 404 (the same answer, so nothing can be probed).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { toCsv, toJsonLines } from './core/audit-format.js';
import type { ExportSpec } from './core/command.js';
import type { Json, Store } from './core/records.js';

export const DOWNLOAD_PATH = '/downloads/';
export const DEFAULT_LINK_TTL_MS = 15 * 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

const storedSchema = z.object({
  expiresAt: z.string(),
  spec: z.object({
    name: z.string().regex(/^[\w.-]{1,120}$/),
    format: z.enum(['jsonl', 'csv']),
    query: z.object({
      since: z.string().optional(),
      actor: z.string().optional(),
      definition: z.string().optional(),
      device: z.string().optional(),
      before: z.number().int().optional(),
      limit: z.number().int().optional(),
    }),
  }),
});

export interface DownloadsOptions {
  store: Store;
  /** The bot's public base URL (PUBLIC_URL, else the server's own); read when a link is made. */
  baseUrl: () => string;
  ttlMs?: number;
  now?: () => Date;
}

export interface Downloads {
  issue(spec: ExportSpec): Promise<{ url: string; expiresAt: string }>;
  /** Answers a request under `DOWNLOAD_PATH`. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

const keyOf = (token: string) => `download.${createHash('sha256').update(token).digest('hex')}`;

function notFound(res: ServerResponse) {
  res.writeHead(404, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify({ error: 'not found' }));
}

export function createDownloads(options: DownloadsOptions): Downloads {
  const now = options.now ?? (() => new Date());
  const ttlMs = options.ttlMs ?? DEFAULT_LINK_TTL_MS;
  return {
    async issue(spec) {
      const token = randomBytes(32).toString('base64url');
      const expiresAt = new Date(now().getTime() + ttlMs).toISOString();
      await options.store.setSetting(keyOf(token), { expiresAt, spec } as unknown as Json);
      return { url: `${options.baseUrl().replace(/\/+$/, '')}${DOWNLOAD_PATH}${token}`, expiresAt };
    },
    async handle(req, res) {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET', 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'GET only' }));
        return;
      }
      const token = (req.url ?? '').split('?')[0]!.slice(DOWNLOAD_PATH.length);
      if (!TOKEN.test(token)) return notFound(res);
      const stored = storedSchema.safeParse(await options.store.getSetting(keyOf(token)));
      if (!stored.success || now().getTime() >= Date.parse(stored.data.expiresAt)) return notFound(res);
      const { spec } = stored.data;
      const entries = await options.store.listAudit(spec.query);
      const body = spec.format === 'csv' ? toCsv(entries) : toJsonLines(entries);
      res.writeHead(200, {
        'content-type': spec.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
        'content-disposition': `attachment; filename="${spec.name}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      res.end(body);
    },
  };
}
