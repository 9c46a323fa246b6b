/**
 * Opens the store named by `STORE_URL`: `sqlite:<path>` (default, also `sqlite::memory:`)
 * or `redis://…` / `rediss://…` (several replicas sharing one state).
 */
import { z } from 'zod';
import { openRedisStore, type RedisStoreOptions } from './redis.js';
import { parseRedisUrl } from './redis-client.js';
import { openSqliteStore, sqlitePathFromUrl } from './sqlite.js';
import { StoreConfigError, type Store, type StoreOptions } from './types.js';

export * from './types.js';

export const DEFAULT_STORE_URL = 'sqlite:./data/mde-chatops.db';

export type StoreTarget = { kind: 'sqlite'; path: string } | { kind: 'redis'; url: string };

/** Hides a password in a URL before it goes into an error message or a log. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^@/]*)@/i, (_m, scheme: string, userinfo: string) => {
    const user = userinfo.split(':')[0] ?? '';
    return `${scheme}${userinfo.includes(':') ? `${user}:***` : '***'}@`;
  });
}

const storeUrlSchema = z
  .string({ error: 'STORE_URL must be a string' })
  .trim()
  .min(1, { error: 'STORE_URL is empty; use sqlite:<path> or redis://host:port' })
  .transform((url, ctx): StoreTarget => {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
    if (scheme === 'sqlite') {
      const path = url.slice('sqlite:'.length).replace(/^\/\//, '');
      if (path === '') {
        ctx.addIssue({ code: 'custom', message: 'STORE_URL sqlite: needs a file path, e.g. sqlite:./data/mde-chatops.db or sqlite::memory:' });
        return z.NEVER;
      }
      return { kind: 'sqlite', path: sqlitePathFromUrl(url) };
    }
    if (scheme === 'redis' || scheme === 'rediss') {
      if (!URL.canParse(url) || new URL(url).hostname === '') {
        ctx.addIssue({ code: 'custom', message: `STORE_URL ${redactUrl(url)} is not a valid redis URL (redis://[user:password@]host[:port][/db])` });
        return z.NEVER;
      }
      try {
        parseRedisUrl(url);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
      return { kind: 'redis', url };
    }
    ctx.addIssue({
      code: 'custom',
      message: `STORE_URL has ${scheme ? `an unknown scheme "${scheme}:"` : 'no scheme'}; use sqlite:<path> (e.g. ${DEFAULT_STORE_URL}) or redis://host:port`,
    });
    return z.NEVER;
  });

/** Validates a `STORE_URL`; throws `StoreConfigError` with a message naming the problem. */
export function parseStoreUrl(url: string): StoreTarget {
  const parsed = storeUrlSchema.safeParse(url);
  if (!parsed.success) throw new StoreConfigError(parsed.error.issues.map((i) => i.message).join('; '));
  return parsed.data;
}

export async function openStore(url: string, options: StoreOptions & Pick<RedisStoreOptions, 'log'> = {}): Promise<Store> {
  const target = parseStoreUrl(url);
  switch (target.kind) {
    case 'sqlite':
      return openSqliteStore(target.path, options);
    case 'redis':
      return openRedisStore(target.url, options);
  }
}
