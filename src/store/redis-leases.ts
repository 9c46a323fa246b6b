/**
 * Leases in Redis: `SET <prefix>lease:<name> <token> NX PX <ttl>` takes one; the holder
 * renews it every third of the TTL (a compare-and-set on its token, in Lua) and deletes it
 * only while the token is still its own. A replica that dies stops renewing: its leases
 * expire after the TTL and another replica takes the work over.
 *
 * `held()` is judged by this process's clock from when the last successful renewal was
 * *sent*, minus a margin, so it turns false before Redis can have let the key expire: two
 * replicas never both believe they hold a lease (as long as their clocks run at the same
 * rate, which the margin allows for).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Lease, Leases } from '../core/leases.js';
import { answerWithin, LuaScript, redisFailure } from './redis-client.js';

const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export const DEFAULT_LEASE_TTL_MS = 15_000;

export interface RedisLeaseOptions {
  /** This process, for logs and the lease value. */
  owner: string;
  ttlMs?: number;
  log?: Logger;
}

export function createRedisLeases(client: Redis, prefix: string, options: RedisLeaseOptions): Leases {
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const margin = Math.max(ttlMs * 0.1, 250);
  const log = options.log;
  const held = new Map<string, RedisLease>();

  class RedisLease implements Lease {
    private validUntil: number;
    private readonly timer: NodeJS.Timeout;
    private released = false;

    constructor(
      readonly name: string,
      private readonly key: string,
      private readonly token: string,
      sentAt: number,
    ) {
      this.validUntil = sentAt + ttlMs - margin;
      this.timer = setInterval(() => void this.renew(), Math.max(ttlMs / 3, 50));
      this.timer.unref();
    }

    held(): boolean {
      return !this.released && performance.now() < this.validUntil;
    }

    private async renew(): Promise<void> {
      if (this.released) return;
      const sentAt = performance.now();
      try {
        const renewed = await answerWithin(RENEW.run(client, [this.key], [this.token, ttlMs]));
        if (renewed === 1) {
          this.validUntil = sentAt + ttlMs - margin;
          return;
        }
        log?.warn({ lease: this.name }, 'lease lost (another replica holds it now)');
        this.drop();
      } catch (error) {
        // Unreachable: keep trying; held() turns false by itself when the lease may have expired.
        log?.debug({ lease: this.name, err: (error as Error).message }, 'lease renewal failed');
      }
    }

    private drop(): void {
      this.released = true;
      clearInterval(this.timer);
      if (held.get(this.name) === this) held.delete(this.name);
    }

    async release(): Promise<void> {
      if (this.released) return;
      this.drop();
      await answerWithin(RELEASE.run(client, [this.key], [this.token])).catch(() => undefined);
    }
  }

  return {
    shared: true,
    async acquire(name) {
      const mine = held.get(name);
      if (mine?.held()) return null;
      const key = `${prefix}lease:${name}`;
      const token = `${options.owner}:${randomBytes(6).toString('hex')}`;
      const sentAt = performance.now();
      let ok: string | null;
      try {
        ok = await answerWithin(client.set(key, token, 'PX', ttlMs, 'NX'));
      } catch (error) {
        throw redisFailure(error);
      }
      if (ok !== 'OK') return null;
      const lease = new RedisLease(name, key, token, sentAt);
      held.set(name, lease);
      log?.info({ lease: name, owner: options.owner }, 'lease acquired');
      return lease;
    },
    async close() {
      await Promise.all([...held.values()].map((lease) => lease.release()));
    },
  };
}
