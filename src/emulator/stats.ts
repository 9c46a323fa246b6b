/** What reached the emulator, for tests and benchmarks. */
import { PeakTracker } from './limiter.js';
import type { EmulatorStats } from './types.js';

const SERVED_TIMES_KEPT = 1000;

export class StatsCollector {
  private total = 0;
  private byEndpoint = new Map<string, number>();
  private throttled = 0;
  private unauthorized = 0;
  private faulted = 0;
  private tokenRequests = 0;
  /** When the first calls since the last reset were served (at most SERVED_TIMES_KEPT). */
  private servedTimes: number[] = [];
  private readonly peaks: PeakTracker;

  constructor(windowMs: { minute: number; hour: number }) {
    this.peaks = new PeakTracker(windowMs);
  }

  received(): void {
    this.total++;
  }

  /** A call that passed auth and took a rate-limit slot. */
  served(endpointKey: string, now: number): void {
    this.byEndpoint.set(endpointKey, (this.byEndpoint.get(endpointKey) ?? 0) + 1);
    this.peaks.record(now);
    if (this.servedTimes.length < SERVED_TIMES_KEPT) this.servedTimes.push(now);
  }

  countThrottled(): void {
    this.throttled++;
  }

  countUnauthorized(): void {
    this.unauthorized++;
  }

  countFault(): void {
    this.faulted++;
  }

  countTokenRequest(): void {
    this.tokenRequests++;
  }

  snapshot(): EmulatorStats {
    const byEndpoint = Object.fromEntries([...this.byEndpoint].sort(([a], [b]) => a.localeCompare(b)));
    return {
      total: this.total,
      byEndpoint,
      served: [...this.byEndpoint.values()].reduce((sum, n) => sum + n, 0),
      throttled: this.throttled,
      unauthorized: this.unauthorized,
      faulted: this.faulted,
      maxPerWindow: { ...this.peaks.peak },
      tokenRequests: this.tokenRequests,
      servedTimes: [...this.servedTimes],
    };
  }

  reset(): void {
    this.total = 0;
    this.byEndpoint = new Map();
    this.throttled = 0;
    this.unauthorized = 0;
    this.faulted = 0;
    this.tokenRequests = 0;
    this.servedTimes = [];
    this.peaks.reset();
  }
}

/**
 * How much of a rolling quota a burst used, as the emulator saw it: of the calls the quota
 * allows in the first `windows` windows from the first served call (`limit` each), how many
 * were served. A limiter that keeps to the quota and wastes none of it scores 1, as long as
 * the burst asked for at least that many calls.
 */
export function quotaUse(stats: Pick<EmulatorStats, 'servedTimes'>, limit: number, windowMs: number, windows = 3): { used: number; allowed: number; share: number } {
  const first = stats.servedTimes[0];
  if (first === undefined) return { used: 0, allowed: limit * windows, share: 0 };
  const used = stats.servedTimes.filter((t) => t < first + windows * windowMs).length;
  const allowed = limit * windows;
  return { used, allowed, share: used / allowed };
}
