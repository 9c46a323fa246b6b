/** Rolling-window counting for the rate limit and for the `maxPerWindow` statistic. */

/** Timestamps of events in the last `windowMs` (window `(now - windowMs, now]`). */
export class RollingWindow {
  private times: number[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {}

  count(now: number): number {
    this.prune(now);
    return this.times.length - this.head;
  }

  add(now: number): void {
    this.times.push(now);
  }

  /** Milliseconds until the oldest event leaves the window (0 when the window is empty). */
  msUntilSlotFrees(now: number): number {
    this.prune(now);
    const oldest = this.times[this.head];
    return oldest === undefined ? 0 : oldest + this.windowMs - now;
  }

  clear(): void {
    this.times = [];
    this.head = 0;
  }

  private prune(now: number): void {
    while (this.head < this.times.length && (this.times[this.head] ?? 0) <= now - this.windowMs) this.head++;
    // Compact now and then so a long run does not keep every timestamp.
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
  }
}

export interface Limits {
  perMinute: number;
  perHour: number;
  windowMs: { minute: number; hour: number };
}

export const DEFAULT_LIMITS: Limits = { perMinute: 100, perHour: 1500, windowMs: { minute: 60_000, hour: 3_600_000 } };

/** All clients together: a call is admitted when both rolling windows have room. */
export class RateLimiter {
  private readonly minute: RollingWindow;
  private readonly hour: RollingWindow;

  constructor(private readonly limits: Limits) {
    this.minute = new RollingWindow(limits.windowMs.minute);
    this.hour = new RollingWindow(limits.windowMs.hour);
  }

  /** Takes a slot and returns null, or returns the whole seconds to wait (≥ 1). */
  tryAcquire(now: number): { retryAfterSeconds: number } | null {
    let waitMs = 0;
    if (this.minute.count(now) >= this.limits.perMinute) waitMs = Math.max(waitMs, this.minute.msUntilSlotFrees(now));
    if (this.hour.count(now) >= this.limits.perHour) waitMs = Math.max(waitMs, this.hour.msUntilSlotFrees(now));
    if (waitMs > 0) return { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    this.minute.add(now);
    this.hour.add(now);
    return null;
  }
}

/** The highest number of events seen in any rolling window of each length. */
export class PeakTracker {
  private readonly minute: RollingWindow;
  private readonly hour: RollingWindow;
  peak = { minute: 0, hour: 0 };

  constructor(windowMs: { minute: number; hour: number }) {
    this.minute = new RollingWindow(windowMs.minute);
    this.hour = new RollingWindow(windowMs.hour);
  }

  record(now: number): void {
    this.minute.add(now);
    this.hour.add(now);
    // The busiest window always ends at an event, so checking at each event suffices.
    this.peak = { minute: Math.max(this.peak.minute, this.minute.count(now)), hour: Math.max(this.peak.hour, this.hour.count(now)) };
  }

  reset(): void {
    this.minute.clear();
    this.hour.clear();
    this.peak = { minute: 0, hour: 0 };
  }
}
