/**
 * The definition list cache, shared by all replicas through Redis. The per-process cache
 * of the client is turned off (`listCacheMs: 0`, it still shares concurrent reads); this
 * wrapper keeps one copy of the list in Redis for `ttlMs`, and every write through any
 * replica bumps a generation and drops the copy before it answers. A read that started
 * before a write may not store its (possibly stale) answer: the copy is written only when
 * the generation is still the one the read started under. So no replica shows a
 * definition another replica has just deleted.
 *
 * When Redis cannot be reached the read goes to MDE (through the limiter, which then
 * refuses too: the caller gets "store unavailable").
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { answerWithin, LuaScript } from '../store/redis-client.js';
import type { MdeApi } from './api.js';
import type { ScanDefinition } from './entities.js';

/** KEYS: generation, copy. ARGV: the generation read began under, the copy, ttl ms. */
const STORE_IF_CURRENT = new LuaScript(`
if (redis.call('GET', KEYS[1]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`);

/** KEYS: generation, copy. */
const INVALIDATE = new LuaScript(`
redis.call('INCR', KEYS[1])
redis.call('DEL', KEYS[2])
return 1
`);

export function sharedDefinitionList(api: MdeApi, client: Redis, options: { prefix: string; ttlMs?: number; log?: Logger }): MdeApi {
  const ttlMs = options.ttlMs ?? 10_000;
  const keys = [`${options.prefix}definitions:generation`, `${options.prefix}definitions:list`];

  async function invalidate(): Promise<void> {
    try {
      await answerWithin(INVALIDATE.run(client, keys, []));
    } catch (error) {
      // The copy expires by itself within ttlMs.
      options.log?.warn({ err: (error as Error).message }, 'could not invalidate the shared definition list');
    }
  }

  /** Runs a write, then drops the shared copy (also when the write failed: it may have happened). */
  function writing<A extends unknown[], R>(write: (...args: A) => Promise<R>) {
    return async (...args: A): Promise<R> => {
      try {
        return await write(...args);
      } finally {
        await invalidate();
      }
    };
  }

  const overrides: Partial<MdeApi> = {
    async listDefinitions() {
      let generation = '0';
      try {
        const [gen, copy] = await answerWithin(client.mget(keys[0]!, keys[1]!));
        generation = gen ?? '0';
        if (copy) return JSON.parse(copy) as ScanDefinition[];
      } catch {
        return api.listDefinitions();
      }
      const value = await api.listDefinitions();
      await answerWithin(STORE_IF_CURRENT.run(client, keys, [generation, JSON.stringify(value), ttlMs])).catch(() => undefined);
      return value;
    },
    createDefinition: writing((body) => api.createDefinition(body)),
    updateDefinition: writing((id, body) => api.updateDefinition(id, body)),
    deleteDefinitions: writing((ids) => api.deleteDefinitions(ids)),
  };
  // Everything else goes to the client as it is (whatever shape the client has).
  return new Proxy(api, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && prop in overrides) return overrides[prop as keyof MdeApi];
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
