/**
 * One limiter for all MDE calls of one app registration: at most `perMinute` calls in
 * any rolling minute and `perHour` in any rolling hour.
 *
 * Bottleneck's reservoirs refill in fixed windows, which lets up to twice the limit
 * through across a refill. Here each reservoir unit is handed back exactly one window
 * after the call that took it started, which makes the reservoir a rolling count: at any
 * moment, reservoir + calls started within the last window = limit. Two limiters are
 * chained (minute, then hour) so bursts below the limits pass without spacing.
 */
import Bottleneck from 'bottleneck';

export interface RateLimits {
  perMinute: number;
  perHour: number;
  /** Window lengths; tests shrink them. */
  minuteMs?: number;
  hourMs?: number;
}

export const MDE_LIMITS: RateLimits = { perMinute: 100, perHour: 1500 };

export interface Limiter {
  /** Runs `call` once a slot is free in both windows. Every attempt, retries included, goes through here. */
  schedule<T>(call: () => Promise<T>): Promise<T>;
  /** Calls started in the current rolling windows. */
  inFlightWindows(): Promise<{ minute: number; hour: number }>;
  /** Calls waiting for a slot (metrics). */
  queued?(): number;
  stop(): Promise<void>;
}

export function createLimiter(limits: RateLimits = MDE_LIMITS): Limiter {
  const minuteMs = limits.minuteMs ?? 60_000;
  const hourMs = limits.hourMs ?? 3_600_000;
  const minute = new Bottleneck({ reservoir: limits.perMinute, maxConcurrent: null });
  const hour = new Bottleneck({ reservoir: limits.perHour, maxConcurrent: null });
  minute.chain(hour);
  const timers = new Set<NodeJS.Timeout>();
  // A call reaches MDE a little after it starts here; the margin keeps that jitter
  // from letting one call too many into MDE's own window.
  const margin = (windowMs: number) => windowMs + Math.max(windowMs * 0.02, 50);

  const giveBack = (limiter: Bottleneck, afterMs: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      void limiter.incrementReservoir(1);
    }, afterMs);
    timer.unref();
    timers.add(timer);
  };

  return {
    schedule(call) {
      return minute.schedule(() => {
        giveBack(minute, margin(minuteMs));
        giveBack(hour, margin(hourMs));
        return call();
      });
    },
    async inFlightWindows() {
      const [m, h] = await Promise.all([minute.currentReservoir(), hour.currentReservoir()]);
      return { minute: limits.perMinute - (m ?? 0), hour: limits.perHour - (h ?? 0) };
    },
    queued() {
      return minute.queued() + hour.queued();
    },
    async stop() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([minute.stop({ dropWaitingJobs: true }), hour.stop({ dropWaitingJobs: true })]);
    },
  };
}
