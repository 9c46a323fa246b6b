/**
 * One limiter for all MDE calls of one app registration: at most `perMinute` calls in
 * any rolling minute and `perHour` in any rolling hour.
 *
 * Each call takes a slot in both windows when it starts, and the slot is handed back one
 * window (plus a small margin) after the call ends. At any moment, slots held + free slots
 * = limit: a rolling count, so bursts below the limits pass at once and nothing exceeds
 * them across a window boundary (a fixed window that refills all at once lets up to twice
 * the limit through).
 *
 * The fast path costs no timer and no promise hop: when both windows have room and nobody
 * is waiting, the call starts synchronously inside `schedule` (a few microseconds; the
 * previous two chained bottleneck instances cost about 9.7 ms per call). Calls that find
 * no room wait in one FIFO queue, woken by a single timer set for the moment the oldest
 * slot comes back. An `urgent` call (a listing's next page, a retry of a call already
 * admitted) goes ahead of the waiting ones, so a listing is fetched as one sequence
 * instead of re-queuing behind every other call.
 */

export interface RateLimits {
  perMinute: number;
  perHour: number;
  /** Window lengths; tests and the benchmark shrink them. */
  minuteMs?: number;
  hourMs?: number;
  /**
   * The share of each window that `background` calls (a fan-out of AV scans) leave to
   * interactive ones: with 0.4, background calls hold at most 60 of the rolling minute's
   * 100 slots (and 900 of the hour's 1,500), and the 40 reserved slots stay free for
   * commands, less what commands already used. Default 0.
   */
  interactiveShare?: number;
}

/** How many slots of a window background calls may take: at least one, and never the whole window when a share is reserved. */
export function backgroundCap(limit: number, share = 0): number {
  if (share <= 0) return limit;
  return Math.max(1, Math.min(limit - 1, Math.floor(limit * (1 - share))));
}

export const MDE_LIMITS: RateLimits = { perMinute: 100, perHour: 1500 };

export interface ScheduleOptions {
  /** Goes ahead of every call waiting for a slot (it still waits for a slot itself). */
  urgent?: boolean;
  /**
   * Bulk work (a fan-out of AV scans): starts only when no interactive call is waiting and
   * background calls hold fewer than their cap of each window (`interactiveShare`), with
   * the part of the interactive reserve commands have not used left free: a command typed
   * during a fan-out is never starved, and commands' calls do not slow the fan-out.
   */
  background?: boolean;
}

export interface Limiter {
  /** Runs `call` once a slot is free in both windows. Every attempt, retries included, goes through here. */
  schedule<T>(call: () => Promise<T>, options?: ScheduleOptions): Promise<T>;
  /** Calls started in the current rolling windows. */
  inFlightWindows(): Promise<{ minute: number; hour: number }>;
  /** Calls waiting for a slot (metrics). */
  queued?(): number;
  stop(): Promise<void>;
}

/**
 * One rolling window: calls running now, and when the slots of finished calls come back.
 * A slot comes back one window after its call *ended*: MDE counts a call when it arrives,
 * which is before the answer, so this is safe however long the call took to get there
 * (a new connection, a token request, a slow network) and costs only the call's own
 * duration. Calls end in time order, so the release times stay sorted.
 */
class Window {
  private running = 0;
  private releases: number[] = [];
  private head = 0;

  constructor(
    readonly limit: number,
    readonly holdMs: number,
  ) {}

  used(now: number): number {
    while (this.head < this.releases.length && (this.releases[this.head] as number) <= now) this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.releases.length) {
      this.releases = this.releases.slice(this.head);
      this.head = 0;
    }
    return this.running + this.releases.length - this.head;
  }

  hasRoom(now: number, cap = this.limit): boolean {
    return this.used(now) < cap;
  }

  take(): void {
    this.running += 1;
  }

  ended(now: number): void {
    this.running -= 1;
    this.releases.push(now + this.holdMs);
  }

  /** When the next slot comes back; undefined while every slot is held by a running call. */
  nextRelease(): number | undefined {
    return this.releases[this.head];
  }
}

interface Waiting {
  call: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  urgent: boolean;
}

/** One window after the call ended, plus a little for clocks and timers. */
const hold = (windowMs: number) => windowMs + Math.max(windowMs * 0.005, 20);

export function createLimiter(limits: RateLimits = MDE_LIMITS): Limiter {
  const minute = new Window(limits.perMinute, hold(limits.minuteMs ?? 60_000));
  const hour = new Window(limits.perHour, hold(limits.hourMs ?? 3_600_000));
  const waiting: Waiting[] = [];
  /** Background calls, started only when `waiting` is empty and below the caps. */
  const behind: Waiting[] = [];
  const capMinute = backgroundCap(limits.perMinute, limits.interactiveShare);
  const capHour = backgroundCap(limits.perHour, limits.interactiveShare);
  /** The background calls' own share of each window. */
  const bgMinute = new Window(capMinute, hold(limits.minuteMs ?? 60_000));
  const bgHour = new Window(capHour, hold(limits.hourMs ?? 3_600_000));
  let urgentWaiting = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const clock = () => performance.now();

  function ended(background: boolean) {
    const now = clock();
    minute.ended(now);
    hour.ended(now);
    if (background) {
      bgMinute.ended(now);
      bgHour.ended(now);
    }
    if ((waiting.length > 0 || behind.length > 0) && timer === undefined) arm(now);
  }

  function start<T>(call: () => Promise<T>, background = false): Promise<T> {
    minute.take();
    hour.take();
    if (background) {
      bgMinute.take();
      bgHour.take();
    }
    let running: Promise<T>;
    try {
      running = Promise.resolve(call());
    } catch (error) {
      running = Promise.reject(error);
    }
    const end = () => ended(background);
    running.then(end, end);
    return running;
  }

  /**
   * Room for a background call in one window: below its cap, and the slots of the
   * interactive reserve that commands have not used yet stay free.
   */
  function roomIn(total: Window, mine: Window, now: number): boolean {
    const used = total.used(now);
    const bg = mine.used(now);
    const reserveLeft = Math.max(0, total.limit - mine.limit - (used - bg));
    return bg < mine.limit && used < total.limit - reserveLeft;
  }
  const backgroundRoom = (now: number) => roomIn(minute, bgMinute, now) && roomIn(hour, bgHour, now);

  /** Wakes `drain` when the next slot comes back (a running call's end arms it otherwise). */
  function arm(now: number): void {
    const times =
      waiting.length > 0
        ? [minute.hasRoom(now) ? now : minute.nextRelease(), hour.hasRoom(now) ? now : hour.nextRelease()]
        : [roomIn(minute, bgMinute, now) ? now : minute.nextRelease(), roomIn(hour, bgHour, now) ? now : hour.nextRelease()];
    if (times.some((t) => t === undefined)) return;
    const at = Math.max(...(times as number[]));
    timer = setTimeout(drain, Math.max(1, Math.ceil(at - now)));
  }

  function drain(): void {
    timer = undefined;
    if (stopped) return;
    let now = clock();
    while (waiting.length > 0 && minute.hasRoom(now) && hour.hasRoom(now)) {
      const job = waiting.shift()!;
      if (job.urgent) urgentWaiting -= 1;
      start(job.call).then(job.resolve, job.reject);
      now = clock();
    }
    while (waiting.length === 0 && behind.length > 0 && backgroundRoom(now)) {
      const job = behind.shift()!;
      start(job.call, true).then(job.resolve, job.reject);
      now = clock();
    }
    if (waiting.length > 0 || behind.length > 0) arm(now);
  }

  return {
    schedule<T>(call: () => Promise<T>, options: ScheduleOptions = {}): Promise<T> {
      if (stopped) return Promise.reject(new Error('The MDE rate limiter has been stopped.'));
      const now = clock();
      if (options.background === true && !options.urgent) {
        if (waiting.length === 0 && behind.length === 0 && backgroundRoom(now)) return start(call, true);
        return new Promise<T>((resolve, reject) => {
          behind.push({ call, resolve: resolve as (value: unknown) => void, reject, urgent: false });
          if (timer === undefined) drain();
        });
      }
      if (waiting.length === 0 && minute.hasRoom(now) && hour.hasRoom(now)) return start(call);
      return new Promise<T>((resolve, reject) => {
        const job: Waiting = { call, resolve: resolve as (value: unknown) => void, reject, urgent: options.urgent === true };
        if (job.urgent) {
          // Behind the urgent calls already waiting, ahead of everything else.
          waiting.splice(urgentWaiting, 0, job);
          urgentWaiting += 1;
        } else {
          waiting.push(job);
        }
        if (timer === undefined) drain();
      });
    },
    async inFlightWindows() {
      const now = clock();
      return { minute: minute.used(now), hour: hour.used(now) };
    },
    queued() {
      return waiting.length + behind.length;
    },
    async stop() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const dropped = [...waiting.splice(0, waiting.length), ...behind.splice(0, behind.length)];
      urgentWaiting = 0;
      for (const job of dropped) job.reject(new Error('The MDE rate limiter has been stopped.'));
    },
  };
}
