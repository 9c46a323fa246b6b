/**
 * One MDE quota for all replicas: the same `Limiter` the client uses, counting every
 * call of every replica in Redis.
 *
 * Each call start is an entry in two sorted sets (the rolling minute and the rolling
 * hour), scored with Redis's own clock. A Lua script admits a call only when both sets,
 * after dropping entries older than their window, hold fewer than the limit; otherwise it
 * answers how long until the oldest entry that blocks leaves its window. So:
 * - the count is rolling (no fixed window that refills all at once);
 * - any replica may use the whole quota when the others are idle;
 * - a replica that dies leaves nothing to give back: its calls simply age out of the
 *   windows, and nothing stays taken;
 * - retries after a 429 go through `schedule` again (http.ts) and are counted the same;
 * - while a call is on its way its entry stands in the future (now + the longest a call
 *   may take), and once it is answered the entry moves to that moment (Redis's clock
 *   again): MDE received it no later than that, so its slot is reused only once MDE's own
 *   window has surely let go of it, however long the call took to get there (a slow
 *   token, a new TLS connection, a busy process). A replica that dies mid-call leaves an
 *   entry that ages out all the same, a little later.
 *
 * (Bottleneck's Redis clustering keeps a reservoir that refills on an interval, a fixed
 * window, and handing units back one window after each call needs a timer in the process
 * that made the call, which dies with it; hence this sliding log.)
 *
 * When Redis cannot be reached no call is let through (the quota cannot be checked): the
 * call fails with StoreUnavailableError and nothing reaches MDE.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { answerWithin, LuaScript, redisFailure } from '../store/redis-client.js';
import { backgroundCap, MDE_LIMITS, type Limiter, type RateLimits, type ScheduleOptions } from './limiter.js';

/**
 * KEYS: minute set, hour set, sequence. ARGV: per minute, per hour, minute span, hour span
 * (ms), how many calls are asking, member prefix, flight (ms). Returns { granted, wait ms,
 * last sequence number, 1 when a call still on its way blocks }: the granted entries are
 * <member prefix>:<seq - granted + 1 .. seq>.
 */
const ACQUIRE = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limits = { tonumber(ARGV[1]), tonumber(ARGV[2]) }
local spans = { tonumber(ARGV[3]), tonumber(ARGV[4]) }
local free = tonumber(ARGV[5])
local flight = tonumber(ARGV[7])
local wait = 0
local inflight = 0
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - spans[i])
  local used = redis.call('ZCARD', KEYS[i])
  if used >= limits[i] then
    local blocking = redis.call('ZRANGE', KEYS[i], used - limits[i], used - limits[i], 'WITHSCORES')
    wait = math.max(wait, tonumber(blocking[2]) + spans[i] - now)
    if tonumber(blocking[2]) > now then inflight = 1 end
    free = 0
  else
    free = math.min(free, limits[i] - used)
  end
end
if free > 0 then
  local seq = redis.call('INCRBY', KEYS[3], free)
  for n = 1, free do
    local member = ARGV[6] .. ':' .. (seq - free + n)
    redis.call('ZADD', KEYS[1], now + flight, member)
    redis.call('ZADD', KEYS[2], now + flight, member)
  end
  redis.call('PEXPIRE', KEYS[1], spans[1] + flight)
  redis.call('PEXPIRE', KEYS[2], spans[2] + flight)
end
local last = 0
if free > 0 then last = tonumber(redis.call('GET', KEYS[3])) end
return { free, math.max(wait, 1), last, inflight }
`);

/** KEYS: minute set, hour set. ARGV: the member. Moves a call's entry to now (only if it is still counted). */
const ANSWERED = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
return 1
`);

const COUNT = new LuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return { redis.call('ZCOUNT', KEYS[1], '(' .. (now - tonumber(ARGV[1])), '+inf'), redis.call('ZCOUNT', KEYS[2], '(' .. (now - tonumber(ARGV[2])), '+inf') }
`);

/** The most calls one script run admits (a burst is admitted in a few round trips). */
const BATCH = 25;

export interface RedisLimiterOptions {
  /** Key prefix of the deployment (the store's). */
  prefix: string;
  /** This replica, for the entries' names. */
  owner?: string;
  /** The longest one call may take, token and retries of the connection included (ms); default 60 s. */
  flightMs?: number;
}

export function createRedisLimiter(client: Redis, limits: RateLimits = MDE_LIMITS, options: RedisLimiterOptions): Limiter {
  const minuteMs = limits.minuteMs ?? 60_000;
  const hourMs = limits.hourMs ?? 3_600_000;
  // A call reaches MDE a little after its entry is written: as the in-process limiter does,
  // keep each entry a little longer than its window.
  const span = (windowMs: number) => Math.round(windowMs + Math.max(windowMs * 0.02, 50));
  const keys = [`${options.prefix}limiter:minute`, `${options.prefix}limiter:hour`, `${options.prefix}limiter:seq`];
  const member = `${options.owner ?? 'bot'}:${randomBytes(4).toString('hex')}`;
  const flightMs = options.flightMs ?? 60_000;
  type Job = { start: (entry: string) => void; fail: (error: Error) => void };
  const queue: Job[] = [];
  /** Background calls: asked for only when no interactive call waits, against the lower caps. */
  const behind: Job[] = [];
  const caps = [backgroundCap(limits.perMinute, limits.interactiveShare), backgroundCap(limits.perHour, limits.interactiveShare)];
  let pumping = false;
  let stopped = false;
  let sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  /** Ends the pump's wait early (an answered call may have freed a slot). */
  const wake = () => {
    if (!sleeping) return;
    clearTimeout(sleeping.timer);
    const { wake: resolve } = sleeping;
    sleeping = undefined;
    resolve();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        sleeping = undefined;
        resolve();
      }, ms);
      sleeping = { timer, wake: resolve };
    });

  /** One loop per process asks Redis for slots, oldest waiting call first. */
  async function pump(): Promise<void> {
    if (pumping) return;
    pumping = true;
    try {
      while ((queue.length > 0 || behind.length > 0) && !stopped) {
        const jobs = queue.length > 0 ? queue : behind;
        const [perMinute, perHour] = jobs === queue ? [limits.perMinute, limits.perHour] : caps;
        let granted: number;
        let waitMs: number;
        let last: number;
        let inflight: boolean;
        try {
          const reply = (await answerWithin(ACQUIRE.run(client, keys, [perMinute!, perHour!, span(minuteMs), span(hourMs), Math.min(jobs.length, BATCH), member, flightMs]))) as number[];
          [granted, waitMs, last, inflight] = [Number(reply[0]), Number(reply[1]), Number(reply[2]), reply[3] === 1];
        } catch (error) {
          // The quota cannot be checked: nothing goes to MDE. Every waiting call is told.
          const failure = redisFailure(error);
          for (const job of [...queue.splice(0), ...behind.splice(0)]) job.fail(failure instanceof StoreUnavailableError ? failure : new StoreUnavailableError(failure));
          break;
        }
        jobs.splice(0, granted).forEach((job, i) => job.start(`${member}:${last - granted + 1 + i}`));
        // Several replicas may wake for the same freed slot: a little jitter spreads them. A
        // call still on its way frees its slot earlier than its entry says: look again soon
        // (this process's own calls wake the loop when they are answered).
        if (granted === 0 && jobs.length > 0) await sleep(Math.min(waitMs, inflight ? 250 : 60_000) + Math.floor(Math.random() * 15));
      }
    } finally {
      pumping = false;
    }
    if ((queue.length > 0 || behind.length > 0) && !stopped) void pump();
  }

  return {
    schedule<T>(call: () => Promise<T>, options: ScheduleOptions = {}): Promise<T> {
      if (stopped) return Promise.reject(new Error('the MDE rate limiter has stopped'));
      return new Promise<T>((resolve, reject) => {
        (options.background && !options.urgent ? behind : queue).push({
          start: (entry) =>
            call()
              .finally(() => {
                void ANSWERED.run(client, keys.slice(0, 2), [entry])
                  .catch(() => undefined)
                  .then(wake);
              })
              .then(resolve, reject),
          fail: reject,
        });
        void pump();
        // A pump asleep while background calls wait for their cap looks again: this call may fit.
        if (!options.background) wake();
      });
    },
    async inFlightWindows() {
      try {
        const [m, h] = (await answerWithin(COUNT.run(client, keys.slice(0, 2), [span(minuteMs), span(hourMs)]))) as [number, number];
        return { minute: Number(m), hour: Number(h) };
      } catch (error) {
        throw redisFailure(error);
      }
    },
    queued() {
      return queue.length + behind.length;
    },
    async stop() {
      stopped = true;
      if (sleeping) {
        clearTimeout(sleeping.timer);
        sleeping.wake();
      }
      for (const job of [...queue.splice(0), ...behind.splice(0)]) job.fail(new Error('the MDE rate limiter has stopped'));
    },
  };
}
