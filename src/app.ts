/**
 * Wires the bot from its configuration: store, MDE (or the demo emulator), roles,
 * approvals, the engine, the platform adapters and the HTTP server.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { loadApprovalKey } from './approval-key.js';
import { loadConfig, type Config } from './config.js';
import { createMdeHealth } from './health.js';
import { createApprovalService } from './core/approvals.js';
import { createDirectory, type Directory } from './core/directory.js';
import { createEngine, type RunningEngine } from './core/engine.js';
import { StoreUnavailableError } from './errors.js';
import { personKey } from './core/approval-policy.js';
import { fourEyesProblem } from './core/roles.js';
import { createPolicyHolder, type PolicyHolder } from './policy-holder.js';
import type { Emulator, EmulatorOptions } from './emulator/index.js';
import type { HttpAdapter } from './http-adapter.js';
import { createLogger } from './log.js';
import { connectMde } from './mde/index.js';
import { createGraphGroups } from './graph.js';
import { msalTokenProvider } from './mde/token.js';
import { createMetrics, type MdeCallEvent, type Metrics } from './metrics.js';
import { platformAdapters, type AdapterDeps } from './platforms.js';
import { replicationFor } from './replicas.js';
import { startHttpServer, type HttpServer } from './server.js';
import { openAuditStream } from './audit-stream.js';
import { createDownloads } from './downloads.js';
import { openStore } from './store/index.js';
import type { Store } from './store/types.js';

export interface AppOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides PORT (tests: 0 for a free port). */
  port?: number;
  log?: Logger;
  /** Demo mode's emulator (tests shorten machine-action timings). */
  emulator?: EmulatorOptions;
  /** How often running AV scans are polled. */
  pollMs?: number;
  /** How long the scanner-agent list is reused (default 60 s; tests of a slow MDE: 0). */
  agentsCacheMs?: number;
  /** Overrides MDE_PROBE_IDLE_MINUTES (tests: milliseconds). */
  probeIdleMs?: number;
  /** The clock of approvals, the audit log and download links (tests). */
  now?: () => Date;
  /** How long an export's download link works (default 15 min). */
  downloadTtlMs?: number;
  /** Replaces the adapters built from the configuration (tests). */
  adapters?: (deps: AdapterDeps) => Promise<HttpAdapter[]>;
}

export interface App {
  url: string;
  /** Where `/metrics` answers (the main URL unless METRICS_PORT moves it); undefined when METRICS=off. */
  metricsUrl?: string;
  metrics?: Metrics;
  config: Config;
  engine: RunningEngine;
  store: Store;
  /** The policy in force (`current()`), reloaded from POLICY_FILE when it changes or on SIGHUP. */
  policy: PolicyHolder;
  /** Slack user groups, Entra groups and e-mail links, as the engine reads them (cached). */
  directory: Directory;
  adapters: HttpAdapter[];
  emulator?: Emulator;
  log: Logger;
  /**
   * Stops accepting requests, lets running ones finish and background work (executions,
   * followed scans) settle within the configured shutdown time, then closes the store and
   * MDE. Work still running then is left to the next start's recovery. Idempotent.
   */
  close(): Promise<void>;
}

export async function startApp(options: AppOptions = {}): Promise<App> {
  const config = loadConfig(options.env ?? process.env);
  const log = options.log ?? createLogger(config.env.LOG_LEVEL);
  // Announcements (a refused policy file) go to the approvers' places once the adapters run.
  let announce: (text: string) => void = () => undefined;
  const policy = createPolicyHolder({
    initial: config.roles,
    ...(config.env.POLICY_FILE ? { file: config.env.POLICY_FILE } : {}),
    defaults: { ttlMinutes: config.approvals.ttlMinutes },
    log,
    onRefused: (message) => announce(message),
  });
  const metrics = config.metrics.enabled ? createMetrics() : undefined;
  const store = await openStore(config.store.url, { log });
  // This process, as the owner of the requests it executes and of the leases it holds.
  const owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  // With Redis: one MDE quota, leases and the list cache for all replicas.
  const replicas = replicationFor(store, { rate: config.mde.rate, owner, log });
  if (replicas.shared && config.demo) log.warn('demo mode with a shared store: each replica has an emulator of its own; replicas need one MDE (set MDE_CLIENT_ID, MDE_API_URL)');
  // Shutdown order (see close()): servers, engine, adapters, leases, store, then MDE, so work
  // still running when time is up cannot record a misleading outcome once MDE is cut off.
  const cleanup: Array<() => Promise<void>> = [() => replicas.close(), () => store.close()];
  // Readiness reads the outcome of real MDE calls; it probes only after a long quiet spell.
  let probe: () => Promise<unknown> = async () => undefined;
  const mdeHealth = createMdeHealth({
    // Without the store the shared quota cannot be checked and MDE is not asked: that says nothing of MDE.
    probe: () => probe().catch((error: unknown) => (error instanceof StoreUnavailableError ? undefined : Promise.reject(error))),
    idleMs: options.probeIdleMs ?? config.health.probeIdleMs,
    onProbeFailure: (error) => log.warn({ err: error.message }, 'health: MDE failing'),
  });
  const observe = (call: MdeCallEvent) => {
    mdeHealth.sawCall(call.status !== 'network' && call.status < 500 && call.status !== 401);
    metrics?.mdeCall(call);
  };
  try {
    const mde = await connectMde(config.mde, { log, emulator: options.emulator, observe, observeToken: (ok) => mdeHealth.sawToken(ok), limiter: replicas.limiter, listCacheMs: replicas.listCacheMs, ...(options.agentsCacheMs !== undefined ? { agentsCacheMs: options.agentsCacheMs } : {}) });
    probe = () => mde.api.listScanAgents();
    cleanup.push(() => mde.close());
    metrics?.observeStore(store);
    metrics?.observeLimiter(mde.limiter, config.mde.rate);
    const auditStream = config.auditStream ? openAuditStream(config.auditStream, log) : undefined;
    if (auditStream) cleanup.push(() => auditStream.close());
    const approvals = createApprovalService({
      store,
      fourEyes: (requester, decider) => fourEyesProblem(policy.current(), requester, decider),
      personKey: (actor) => personKey(policy.current(), actor),
      key: loadApprovalKey({ key: config.env.APPROVAL_KEY, keyFile: config.env.APPROVAL_KEY_FILE, storeUrl: config.store.url }),
      ttlMinutes: config.approvals.ttlMinutes,
      ...(options.now ? { now: options.now } : {}),
      onAudit: (entry) => {
        log.info({ audit: entry }, 'audit');
        auditStream?.write(entry);
        if (entry.approvalId) metrics?.approvalEvent(entry.event);
      },
    });
    // Entra groups through Microsoft Graph with the MDE app registration (the emulator's Graph in demo mode).
    const graph = config.directory.graph;
    const graphGroups =
      graph.mode === 'emulator'
        ? createGraphGroups({ baseUrl: mde.baseUrl, tokens: mde.tokens })
        : config.mde.mode === 'live'
          ? createGraphGroups({ baseUrl: graph.apiUrl, tokens: msalTokenProvider({ ...config.mde, scope: graph.scope }) })
          : undefined;
    const directory = createDirectory({
      cacheMs: config.directory.cacheMs,
      ...(graphGroups ? { sources: { entraGroupMembers: (id: string) => graphGroups.transitiveUsers(id) } } : {}),
      onError: (name, detail) => log.warn({ directory: name, err: detail }, 'directory lookup failed (nobody gains a role through it)'),
    });
    let serverUrl = '';
    const downloads = createDownloads({ store, baseUrl: () => config.publicUrl ?? serverUrl, ...(options.now ? { now: options.now } : {}), ...(options.downloadTtlMs ? { ttlMs: options.downloadTtlMs } : {}) });
    const engine = createEngine({
      mde: replicas.wrapMde(mde.api),
      store,
      approvals,
      policy,
      directory,
      log,
      owner,
      leases: replicas.leases,
      pollMs: options.pollMs ?? config.pollMs,
      watch: { ...config.watch, perHour: config.mde.rate.perHour, hourMs: config.mde.rate.hourMs },
      settings: { avScanMaxDevices: config.avScan.maxDevices },
      bulk: { quota: config.mde.rate },
      downloads,
      onCommand: metrics ? (command, outcome, seconds) => metrics.commandDone(command, outcome, seconds) : undefined,
    });
    const deps: AdapterDeps = { engine, store, log, config, policy, directory };
    const adapters = await (options.adapters ?? platformAdapters)(deps);
    // Each adapter's publisher is registered here, once.
    for (const adapter of adapters) if (adapter.publisher) engine.addPublisher(adapter.publisher);
    announce = (text) => {
      for (const adapter of adapters) {
        adapter.publisher?.announce?.(text).catch((error: Error) => log.warn({ platform: adapter.publisher?.platform, err: error.message }, 'could not post an announcement'));
      }
    };
    policy.watch();
    cleanup.unshift(async () => policy.close());
    for (const adapter of adapters) await adapter.start?.();
    cleanup.unshift(async () => {
      for (const adapter of adapters) await adapter.stop?.();
    });
    await engine.start();

    const ready = async () => {
      const [storeOk, mdeOk] = await Promise.all([
        store.ping().then(() => true, (error: Error) => (log.warn({ err: error.message }, 'readiness: store failing'), false)),
        mdeHealth.check(),
      ]);
      return { ok: storeOk && mdeOk, checks: { store: storeOk ? 'ok' : 'failing', mde: mdeOk ? 'ok' : 'failing' } };
    };
    const render = metrics ? () => metrics.render() : undefined;
    const servers: HttpServer[] = [];
    const budget = shutdownBudget(config.shutdownTimeoutMs);
    // Stop accepting first; then running requests and background work get the drain time.
    cleanup.unshift(
      async () => {
        const graceMs = budget.leftMs(); // starts the drain clock
        await Promise.all(servers.map((s) => s.close(graceMs)));
      },
      async () => {
        const settled = await within(engine.stop(), budget.leftMs());
        if (!settled) log.warn({ afterMs: budget.drainMs }, 'shutdown: background work (an approved operation or a followed AV scan) is still running; the next start recovers it');
      },
    );
    const separateMetrics = metrics && config.metrics.port !== undefined;
    const server = await startHttpServer({ host: config.host, port: options.port ?? config.port, adapters, log, ready, metrics: separateMetrics ? undefined : render, downloads: downloads.handle });
    serverUrl = server.url;
    servers.push(server);
    const metricsServer = separateMetrics ? await startHttpServer({ host: config.host, port: config.metrics.port!, adapters: [], log, ready, metrics: render }) : undefined;
    if (metricsServer) servers.push(metricsServer);

    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      metricsUrl: metrics ? (metricsServer ?? server).url : undefined,
      metrics,
      config,
      engine,
      store,
      policy,
      directory,
      adapters,
      emulator: mde.emulator,
      log,
      close() {
        closing ??= (async () => {
          for (const step of cleanup) {
            try {
              await step();
            } catch (error) {
              log.warn({ err: (error as Error).message }, 'shutdown step failed');
            }
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    for (const step of cleanup) await step().catch(() => undefined);
    throw error;
  }
}

/** Of the shutdown time, what running requests and background work may use (the rest closes the store and MDE). */
function shutdownBudget(timeoutMs: number) {
  const drainMs = Math.max(0, timeoutMs - Math.min(2000, timeoutMs / 2));
  let deadline: number | undefined;
  return {
    drainMs,
    /** Drain time left, counted from the first call. */
    leftMs() {
      deadline ??= Date.now() + drainMs;
      return Math.max(0, deadline - Date.now());
    },
  };
}

/** True when `work` settled within `ms`. */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
