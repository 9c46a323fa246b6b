/**
 * What changes when several replicas share one Redis store: the MDE quota is counted in
 * Redis for all of them, background work runs under Redis leases, and the definition
 * list cache lives in Redis. With SQLite (one process) the same interfaces have their
 * in-process implementations, and nothing here changes the bot's behaviour.
 */
import type { Logger } from 'pino';
import { createLocalLeases, type Leases } from './core/leases.js';
import type { MdeApi } from './mde/api.js';
import type { Limiter, RateLimits } from './mde/limiter.js';
import { createRedisLimiter } from './mde/redis-limiter.js';
import { sharedDefinitionList } from './mde/shared-list.js';
import { createRedisLeases } from './store/redis-leases.js';
import { RedisStore } from './store/redis.js';
import type { Store } from './store/types.js';

export interface Replication {
  /** True with a shared (Redis) store. */
  shared: boolean;
  /** The MDE limiter for all replicas (Redis); undefined: the per-process one. */
  limiter?: Limiter;
  leases: Leases;
  /** The client's own list cache time: 0 with a shared store (the list is cached in Redis instead). */
  listCacheMs?: number;
  /** Wraps the MDE client (the shared list cache); unchanged with SQLite. */
  wrapMde(api: MdeApi): MdeApi;
  /** Releases the leases this process holds, so another replica takes over at once. */
  close(): Promise<void>;
}

export function replicationFor(store: Store, options: { rate: RateLimits; owner: string; log?: Logger }): Replication {
  if (!(store instanceof RedisStore)) {
    const leases = createLocalLeases();
    return { shared: false, leases, wrapMde: (api) => api, close: () => leases.close() };
  }
  const log = options.log?.child({ part: 'replicas' });
  const leases = createRedisLeases(store.client, store.prefix, { owner: options.owner, log });
  log?.info({ redis: store.where, prefix: store.prefix, owner: options.owner }, 'shared store: MDE quota, leases and the definition list are shared through Redis');
  return {
    shared: true,
    limiter: createRedisLimiter(store.client, options.rate, { prefix: store.prefix, owner: options.owner }),
    leases,
    listCacheMs: 0,
    wrapMde: (api) => sharedDefinitionList(api, store.client, { prefix: store.prefix, log }),
    close: () => leases.close(),
  };
}
