/**
 * The one Redis connection of a bot process (ioredis), shared by the store, the MDE rate
 * limiter, the leases and the definition-list cache.
 *
 * It fails fast rather than queueing: while Redis cannot be reached, every command
 * rejects at once (no offline queue), or when Redis does not answer in time (`answerWithin`),
 * so a chat command gets "the store is unavailable" within Slack's 3 seconds instead of
 * hanging; the client keeps reconnecting in the background and the bot recovers by itself
 * when Redis returns.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Redis, ReplyError, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StoreUnavailableError } from '../errors.js';
import { StoreConfigError, StoreError } from '../core/records.js';

/** Keys of one bot deployment start with this (several deployments or tests can share a database). */
export const DEFAULT_REDIS_PREFIX = 'mde-chatops:';

export interface RedisTarget {
  /** The URL ioredis is given (our own `prefix` parameter removed). */
  url: string;
  prefix: string;
  /** host:port/db, for messages (never the password). */
  where: string;
}

/** `redis://[user:password@]host[:port][/db][?prefix=…]` or `rediss://…` (TLS). */
export function parseRedisUrl(raw: string): RedisTarget {
  if (!URL.canParse(raw)) throw new StoreConfigError('STORE_URL is not a valid redis URL (redis://[user:password@]host[:port][/db])');
  const url = new URL(raw);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new StoreConfigError('STORE_URL must start with redis:// or rediss://');
  if (url.hostname === '') throw new StoreConfigError('STORE_URL is not a valid redis URL (redis://[user:password@]host[:port][/db])');
  const db = url.pathname.replace(/^\/+/, '');
  if (db !== '' && !/^\d{1,5}$/.test(db)) throw new StoreConfigError(`STORE_URL: the database must be a number (redis://host:6379/0), not "${db}"`);
  const prefix = url.searchParams.get('prefix') ?? DEFAULT_REDIS_PREFIX;
  if (prefix === '' || prefix.length > 100 || /\s/.test(prefix)) throw new StoreConfigError('STORE_URL: prefix= must be 1-100 characters without spaces');
  url.searchParams.delete('prefix');
  return { url: url.toString(), prefix, where: `${url.protocol}//${url.host}/${db === '' ? '0' : db}` };
}

/** Replies that mean "Redis cannot serve now" rather than "this command is wrong". */
const UNAVAILABLE_REPLY = /^(LOADING|READONLY|MASTERDOWN|BUSY|NOAUTH|WRONGPASS|OOM|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF)\b/;

/** Turns a failure of a Redis call into the bot's vocabulary: unavailable (retry later) or a store error (a bug). */
export function redisFailure(error: unknown): Error {
  if (error instanceof StoreError || error instanceof StoreUnavailableError) return error;
  if (error instanceof ReplyError && !UNAVAILABLE_REPLY.test((error as Error).message)) return new StoreError(`redis: ${(error as Error).message}`);
  return new StoreUnavailableError(error);
}

/** How long Redis may take to answer one operation before it counts as unavailable. */
export const REDIS_ANSWER_MS = 2500;

/**
 * `work`, or StoreUnavailableError when Redis has not answered within `ms`. A timer that
 * fires late means this process was busy (a burst of requests), not that Redis was slow:
 * the answer may be waiting to be read, so it gets a short grace once the process can read
 * it again. A busy bot does not claim the store is down; a Redis that does not answer is
 * reported after `ms`.
 */
export function answerWithin<T>(work: Promise<T>, ms: number = REDIS_ANSWER_MS): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const started = performance.now();
    let due = started + ms;
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      const now = performance.now();
      if (now - due > 100 && now - started < 60_000) {
        due = now + 250;
        timer = setTimeout(check, 250);
        return;
      }
      reject(new StoreUnavailableError(new Error(`Redis did not answer within ${ms} ms`)));
    };
    timer = setTimeout(check, ms);
    work.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error: unknown) => (clearTimeout(timer), reject(error)),
    );
  });
}

export interface RedisClientOptions {
  log?: Logger;
  /** How long one operation may wait for Redis before it fails (ms); default REDIS_ANSWER_MS. */
  commandTimeoutMs?: number;
  /** How long opening may wait for a first connection (ms). */
  connectWaitMs?: number;
}

/** Connects and waits for the first `ready` (or fails with a message naming host, port and db). */
export async function connectRedis(target: RedisTarget, options: RedisClientOptions = {}): Promise<Redis> {
  const log = options.log;
  const redisOptions: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 3000,
    keepAlive: 10_000,
    connectionName: 'mde-chatops',
    // Reconnect for ever, at most every 2 s.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  const client = new Redis(target.url, redisOptions);
  let down = false;
  client.on('error', (error: Error) => {
    if (!down) log?.warn({ redis: target.where, err: error.message }, 'redis: connection failing; commands answer "store unavailable" until it is back');
    down = true;
  });
  client.on('ready', () => {
    if (down) log?.info({ redis: target.where }, 'redis: connected again');
    down = false;
  });
  // Redis may come up a little after the bot (compose, a restart): keep trying for a while.
  const waitMs = options.connectWaitMs ?? 15_000;
  let lastError = 'no answer';
  const noteError = (error: Error) => (lastError = error.message);
  client.on('error', noteError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${lastError} (for ${waitMs / 1000} s)`)), waitMs);
      timer.unref();
      client.once('ready', () => (clearTimeout(timer), resolve()));
      client.connect().catch((error: Error) => noteError(error));
    });
  } catch (error) {
    client.disconnect();
    throw new StoreError(`could not connect to Redis at ${target.where} (STORE_URL): ${(error as Error).message}`);
  } finally {
    client.off('error', noteError);
  }
  return client;
}

/** A Lua script run by its SHA-1 (EVALSHA), loaded on first use or after a Redis restart (NOSCRIPT). */
export class LuaScript {
  readonly sha: string;
  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof ReplyError) || !/NOSCRIPT/.test((error as Error).message)) throw error;
      return client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

/** HGETALL's flat reply (from a script) as an object. */
export function pairs(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(reply)) return out;
  for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
  return out;
}
