/**
 * Leases: background work that must run on exactly one process at a time (following an
 * AV scan's MachineAction, the expiry sweep) is done only while holding its lease.
 *
 * With SQLite there is one process, and the in-process leases below always grant a name
 * that this process does not already hold. With Redis (several replicas) a lease is a key
 * with an expiry that its holder renews; a holder that dies stops renewing, and another
 * replica takes the lease (and the work) over once it has expired
 * (src/store/redis-leases.ts).
 */

export interface Lease {
  readonly name: string;
  /**
   * True while this process surely holds the lease: renewed recently enough that it cannot
   * have expired. Check it before each step of the work; false once lost or released.
   */
  held(): boolean;
  /** Gives the lease up (another process may take it at once). Idempotent. */
  release(): Promise<void>;
}

export interface Leases {
  /** True when the leases are shared between processes (Redis). */
  readonly shared: boolean;
  /**
   * Takes the lease when it is free, renewing it in the background until released or
   * lost; `null` when another holder (another replica, or this process) has it.
   * Rejects when the lease store cannot be reached.
   */
  acquire(name: string): Promise<Lease | null>;
  /** Releases every lease this process holds (shutdown: others take over at once). */
  close(): Promise<void>;
}

/** One process: a name is granted unless this process already holds it. */
export function createLocalLeases(): Leases {
  const held = new Map<string, object>();
  return {
    shared: false,
    async acquire(name) {
      if (held.has(name)) return null;
      const token = {};
      held.set(name, token);
      return {
        name,
        held: () => held.get(name) === token,
        async release() {
          if (held.get(name) === token) held.delete(name);
        },
      };
    },
    async close() {
      held.clear();
    },
  };
}

export interface KeptLease {
  /** Whether this process holds the lease now. */
  held(): boolean;
  /** Stops trying and releases the lease. */
  stop(): Promise<void>;
}

/**
 * Keeps trying to hold `name` (every `retryMs` while another process has it), for work
 * that one process does for all, such as the expiry sweep. `onGained` runs whenever the
 * lease is taken over after the first attempt (the previous holder stopped). Resolves
 * after the first attempt.
 */
export async function keepLease(leases: Leases, name: string, options: { retryMs: number; onGained?: () => void; onError?: (error: Error) => void }): Promise<KeptLease> {
  let lease: Lease | null = null;
  let stopped = false;
  let busy = false;
  let first = true;
  const attempt = async () => {
    if (stopped || busy || lease?.held()) return;
    busy = true;
    try {
      lease = await leases.acquire(name);
      if (lease && stopped) {
        await lease.release();
        lease = null;
      } else if (lease && !first) options.onGained?.();
    } catch (error) {
      lease = null;
      options.onError?.(error as Error);
    } finally {
      busy = false;
      first = false;
    }
  };
  await attempt();
  const timer = setInterval(() => void attempt(), options.retryMs);
  timer.unref();
  return {
    held: () => lease?.held() ?? false,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await lease?.release().catch(() => undefined);
      lease = null;
    },
  };
}
