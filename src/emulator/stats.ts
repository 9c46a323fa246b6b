/** What reached the emulator, for tests and benchmarks. */
import { PeakTracker } from './limiter.js';
import type { EmulatorStats } from './types.js';

export class StatsCollector {
  private total = 0;
  private byEndpoint = new Map<string, number>();
  private throttled = 0;
  private unauthorized = 0;
  private faulted = 0;
  private tokenRequests = 0;
  private firstServedAt: number | null = null;
  private lastServedAt: number | null = null;
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
    this.firstServedAt ??= now;
    this.lastServedAt = now;
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
      servedBetween: { first: this.firstServedAt, last: this.lastServedAt },
    };
  }

  reset(): void {
    this.total = 0;
    this.byEndpoint = new Map();
    this.throttled = 0;
    this.unauthorized = 0;
    this.faulted = 0;
    this.tokenRequests = 0;
    this.firstServedAt = null;
    this.lastServedAt = null;
    this.peaks.reset();
  }
}

/**
 * How much of a rolling quota a burst used, as the emulator saw it: the calls served, and
 * the most the quota allowed from the first served call to the last (`limit` for every
 * window begun in that time). A limiter that keeps to the quota and wastes none of it
 * scores 1.
 */
export function quotaUse(stats: Pick<EmulatorStats, 'served' | 'servedBetween'>, limit: number, windowMs: number): { used: number; allowed: number; share: number } {
  const { first, last } = stats.servedBetween;
  if (first === null || last === null) return { used: 0, allowed: 0, share: 0 };
  const allowed = limit * (1 + Math.floor((last - first) / windowMs));
  return { used: stats.served, allowed, share: stats.served / allowed };
}
