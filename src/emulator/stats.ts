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
    };
  }

  reset(): void {
    this.total = 0;
    this.byEndpoint = new Map();
    this.throttled = 0;
    this.unauthorized = 0;
    this.faulted = 0;
    this.tokenRequests = 0;
    this.peaks.reset();
  }
}
