/**
 * Prometheus metrics (prom-client), every name prefixed `mdechatops_`. The rest of the bot
 * sees only this small interface: observer callbacks for commands and MDE calls, and
 * sources read at scrape time (the store's approvals and followed scans, the limiter).
 * Nothing here knows the command core or the platforms.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ApprovalState, Store } from './store/types.js';

export const METRIC_PREFIX = 'mdechatops_';

export type CommandOutcome = 'ok' | 'refused' | 'error';

export interface MdeCallEvent {
  method: string;
  /** URL path of the call; ids in it are folded into `{id}` for the label. */
  path: string;
  status: number | 'network';
  seconds: number;
  /** Another attempt follows (a retry after 429, 5xx or a network error). */
  retry: boolean;
}

/** What the limiter gauges read at scrape time. */
export interface LimiterSource {
  inFlightWindows(): Promise<{ minute: number; hour: number }>;
  queued?(): number;
}

export interface Metrics {
  readonly registry: Registry;
  /** Prometheus text exposition (the process metrics and the bot's own). */
  render(): Promise<{ contentType: string; body: string }>;
  commandDone(command: string, outcome: CommandOutcome, seconds: number): void;
  mdeCall(event: MdeCallEvent): void;
  /** An approval audit event (`requested`, `approved`, `executing`, `succeeded`, …). */
  approvalEvent(event: string): void;
  /** Approvals by open state, the oldest pending one's age and followed AV scans, read from the store at scrape time. */
  observeStore(store: Pick<Store, 'listApprovals' | 'listTrackedActions'>): void;
  observeLimiter(limiter: LimiterSource, limits: { perMinute: number; perHour: number }): void;
}

export interface MetricsOptions {
  /** Node process metrics (CPU, memory, event loop, GC), collected once per process. Default true. */
  processMetrics?: boolean;
  /** Clock for the pending-approval age (tests). */
  now?: () => number;
}

/** States a request can still leave; counted exactly at scrape time. */
const OPEN_STATES: readonly ApprovalState[] = ['pending', 'approved', 'executing'];
/** Per-state reads are capped; more open requests than this is not a situation a gauge needs to count exactly. */
const SCRAPE_LIMIT = 10_000;

/** Path segments of the MDE API the bot calls; any other segment is an id or a name. */
const KNOWN_SEGMENTS = new Set([
  'api',
  'DeviceAuthenticatedScanDefinitions',
  'DeviceAuthenticatedScanAgents',
  'BatchDelete',
  'GetScanHistoryByScanDefinitionId',
  'machines',
  'machineactions',
  'runAntiVirusScan',
  'cancel',
]);

/** `GET /api/machines/{id}`: method and path with ids folded, so the label set stays small. */
export function endpointLabel(method: string, path: string): string {
  const segments = path
    .split('/')
    .filter(Boolean)
    .map((s) => (KNOWN_SEGMENTS.has(s) ? s : '{id}'));
  return `${method.toUpperCase()} /${segments.join('/')}`;
}

/** Node's process metrics live in one registry per process (prom-client keeps observers for them). */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: METRIC_PREFIX });
  }
  return processRegistry;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const now = options.now ?? Date.now;
  const name = (n: string) => `${METRIC_PREFIX}${n}`;
  const withProcess = options.processMetrics ?? true;
  if (withProcess) processMetrics();

  const commands = new Counter({ name: name('commands_total'), help: 'Commands run, by command name and outcome (ok, refused: a user or MDE refusal, error: a failure).', labelNames: ['command', 'outcome'] as const, registers });
  const commandSeconds = new Histogram({
    name: name('command_duration_seconds'),
    help: 'Time to answer a command, by operation.',
    labelNames: ['command'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });
  const mdeCalls = new Counter({ name: name('mde_calls_total'), help: 'Calls sent to the MDE API, by endpoint and HTTP status (or "network").', labelNames: ['endpoint', 'status'] as const, registers });
  const mdeSeconds = new Histogram({
    name: name('mde_call_duration_seconds'),
    help: 'Duration of one MDE call attempt, including its wait in the rate limiter, by endpoint.',
    labelNames: ['endpoint'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers,
  });
  const throttled = new Counter({ name: name('mde_throttled_total'), help: 'MDE answers 429 (Too Many Requests), by endpoint.', labelNames: ['endpoint'] as const, registers });
  const retries = new Counter({ name: name('mde_retries_total'), help: 'MDE calls attempted again, by endpoint and reason (throttled, server, network).', labelNames: ['endpoint', 'reason'] as const, registers });
  const approvalEvents = new Counter({ name: name('approval_events_total'), help: 'Approval request transitions since start, by event (requested, approved, rejected, expired, executing, succeeded, failed, progress).', labelNames: ['event'] as const, registers });

  let storeSource: Pick<Store, 'listApprovals' | 'listTrackedActions'> | undefined;
  let limiterSource: { limiter: LimiterSource; limits: { perMinute: number; perHour: number } } | undefined;

  /** One store read per scrape: the gauges collected together share the read in flight. */
  let reading: Promise<StoreSnapshot> | undefined;
  type StoreSnapshot = { byState: Record<string, number>; oldestPendingSeconds: number; followed: number };
  const readStore = (): Promise<StoreSnapshot> | undefined => {
    if (!storeSource) return undefined;
    if (reading) return reading;
    const source = storeSource;
    reading = (async () => {
      const open = await source.listApprovals({ states: OPEN_STATES, limit: SCRAPE_LIMIT });
      const byState: Record<string, number> = Object.fromEntries(OPEN_STATES.map((s) => [s, 0]));
      let oldest = Infinity;
      for (const record of open) {
        byState[record.state] = (byState[record.state] ?? 0) + 1;
        if (record.state === 'pending') oldest = Math.min(oldest, Date.parse(record.createdAt));
      }
      const followed = (await source.listTrackedActions({ open: true })).length;
      return { byState, oldestPendingSeconds: Number.isFinite(oldest) ? Math.max(0, (now() - oldest) / 1000) : 0, followed };
    })().finally(() => {
      reading = undefined;
    });
    return reading;
  };

  new Gauge({
    name: name('approvals'),
    help: 'Approval requests in an open state (pending, approved, executing), read from the store.',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const read = await readStore()?.catch(() => undefined);
      this.reset();
      if (read) for (const [state, count] of Object.entries(read.byState)) this.set({ state }, count);
    },
  });
  new Gauge({
    name: name('approval_oldest_pending_age_seconds'),
    help: 'Age of the oldest pending approval request (0 when none is pending).',
    registers,
    async collect() {
      const read = await readStore()?.catch(() => undefined);
      this.set(read?.oldestPendingSeconds ?? 0);
    },
  });
  new Gauge({
    name: name('av_scans_followed'),
    help: 'AV scans (MDE machine actions) being followed until they end.',
    registers,
    async collect() {
      const read = await readStore()?.catch(() => undefined);
      this.set(read?.followed ?? 0);
    },
  });
  new Gauge({
    name: name('mde_limiter_queued'),
    help: 'MDE calls waiting in the rate limiter for a free slot.',
    registers,
    collect() {
      this.set(limiterSource?.limiter.queued?.() ?? 0);
    },
  });
  new Gauge({
    name: name('mde_limiter_calls_left'),
    help: 'MDE calls the rate limiter still lets through in the rolling window (minute, hour).',
    labelNames: ['window'] as const,
    registers,
    async collect() {
      if (!limiterSource) return;
      const used = await limiterSource.limiter.inFlightWindows().catch(() => undefined);
      if (!used) return;
      this.set({ window: 'minute' }, Math.max(0, limiterSource.limits.perMinute - used.minute));
      this.set({ window: 'hour' }, Math.max(0, limiterSource.limits.perHour - used.hour));
    },
  });

  return {
    registry,
    async render() {
      const parts = await Promise.all([withProcess ? processMetrics().metrics() : Promise.resolve(''), registry.metrics()]);
      return { contentType: registry.contentType, body: parts.filter(Boolean).join('\n') };
    },
    commandDone(command, outcome, seconds) {
      commands.inc({ command, outcome });
      commandSeconds.observe({ command }, seconds);
    },
    mdeCall(event) {
      const endpoint = endpointLabel(event.method, event.path);
      mdeCalls.inc({ endpoint, status: String(event.status) });
      mdeSeconds.observe({ endpoint }, event.seconds);
      if (event.status === 429) throttled.inc({ endpoint });
      if (event.retry) retries.inc({ endpoint, reason: event.status === 429 ? 'throttled' : event.status === 'network' ? 'network' : 'server' });
    },
    approvalEvent(event) {
      approvalEvents.inc({ event });
    },
    observeStore(store) {
      storeSource = store;
    },
    observeLimiter(limiter, limits) {
      limiterSource = { limiter, limits };
    },
  };
}
