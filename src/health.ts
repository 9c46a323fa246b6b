/**
 * MDE's part of `/readyz`, without spending the MDE call budget on it (anyone can call
 * `/readyz`, and orchestrators call it every few seconds).
 *
 * The answer is the outcome of the bot's own most recent MDE call (every attempt reports
 * here, retries included), and of its most recent token request when that failed later
 * (a token that cannot be had fails every call before it reaches MDE). Only when MDE has
 * not been called for `idleMs` (MDE_PROBE_IDLE_MINUTES, default 10 minutes) does one cheap
 * probe run, and never more than `maxProbesPerHour` in any rolling hour: a bot with traffic
 * spends nothing on health, an idle one at most a few calls an hour.
 */
export interface MdeHealthOptions {
  /** One cheap MDE call (its outcome also reaches `sawCall`, through the client's observer). */
  probe: () => Promise<unknown>;
  /** No MDE call for this long: a probe may run. */
  idleMs: number;
  /** Default 6. */
  maxProbesPerHour?: number;
  now?: () => number;
  onProbeFailure?: (error: Error) => void;
}

export interface MdeHealth {
  /** A real MDE call's outcome (its HTTP status, or a network failure). */
  sawCall(ok: boolean): void;
  /** A token request's outcome. */
  sawToken(ok: boolean): void;
  /** Whether MDE counts as healthy now; probes only when idle. */
  check(): Promise<boolean>;
  /** Probes run so far (metrics, tests). */
  probes(): number;
}

const HOUR_MS = 3_600_000;

export function createMdeHealth(options: MdeHealthOptions): MdeHealth {
  const now = options.now ?? Date.now;
  const maxPerHour = options.maxProbesPerHour ?? 6;
  let call: { at: number; ok: boolean } | undefined;
  let tokenFailedAt: number | undefined;
  const probeTimes: number[] = [];
  let probing: Promise<boolean> | undefined;
  let probeCount = 0;

  function current(): boolean | undefined {
    if (tokenFailedAt !== undefined && (call === undefined || tokenFailedAt >= call.at)) return false;
    return call?.ok;
  }

  return {
    sawCall(ok) {
      call = { at: now(), ok };
    },
    sawToken(ok) {
      if (!ok) tokenFailedAt = now();
      else if (tokenFailedAt !== undefined) tokenFailedAt = undefined;
    },
    probes: () => probeCount,
    check() {
      const t = now();
      const latest = Math.max(call?.at ?? -Infinity, tokenFailedAt ?? -Infinity);
      if (t - latest < options.idleMs) return Promise.resolve(current() ?? true);
      if (probing) return probing;
      while (probeTimes.length > 0 && t - probeTimes[0]! >= HOUR_MS) probeTimes.shift();
      // The probe budget is spent: the last known outcome stands (none yet: healthy).
      if (probeTimes.length >= maxPerHour) return Promise.resolve(current() ?? true);
      probeTimes.push(t);
      probeCount += 1;
      probing = options
        .probe()
        .then(
          () => true,
          (error: Error) => {
            options.onProbeFailure?.(error);
            return false;
          },
        )
        .then((ok) => {
          // The probe's own attempts reported through sawCall; a probe that never reached MDE (token) did not.
          if (call === undefined || call.at < t) call = { at: now(), ok };
          probing = undefined;
          return current() ?? ok;
        });
      return probing;
    },
  };
}
