/**
 * Wires the bot from its configuration: store, MDE (or the demo emulator), roles,
 * approvals, the engine, the platform adapters and the HTTP server.
 */
import type { Logger } from 'pino';
import { loadApprovalKey } from './approval-key.js';
import { loadConfig, type Config } from './config.js';
import { createApprovalService } from './core/approvals.js';
import { createEngine, type RunningEngine } from './core/engine.js';
import { fourEyesProblem, type RolePolicy } from './core/roles.js';
import type { Emulator, EmulatorOptions } from './emulator/index.js';
import type { HttpAdapter } from './http-adapter.js';
import { createLogger } from './log.js';
import { connectMde } from './mde/index.js';
import { platformAdapters, type AdapterDeps } from './platforms.js';
import { startHttpServer } from './server.js';
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
  /** Replaces the adapters built from the configuration (tests). */
  adapters?: (deps: AdapterDeps) => Promise<HttpAdapter[]>;
}

export interface App {
  url: string;
  config: Config;
  engine: RunningEngine;
  store: Store;
  policy: RolePolicy;
  adapters: HttpAdapter[];
  emulator?: Emulator;
  log: Logger;
  close(): Promise<void>;
}

/**
 * MDE reachability for /healthz, which anyone can call: one probe at a time, its answer
 * kept for 30 s, so health checks cannot eat the MDE call budget. Details go to the log.
 */
function healthProbe(probe: () => Promise<unknown>, log: Logger): () => Promise<boolean> {
  let last: { at: number; ok: boolean } | undefined;
  let running: Promise<boolean> | undefined;
  return () => {
    if (last && Date.now() - last.at < 30_000) return Promise.resolve(last.ok);
    running ??= probe()
      .then(
        () => true,
        (error: Error) => (log.warn({ err: error.message }, 'health: MDE failing'), false),
      )
      .then((ok) => {
        last = { at: Date.now(), ok };
        running = undefined;
        return ok;
      });
    return running;
  };
}

export async function startApp(options: AppOptions = {}): Promise<App> {
  const config = loadConfig(options.env ?? process.env);
  const log = options.log ?? createLogger(config.env.LOG_LEVEL);
  const policy = config.roles;
  const store = await openStore(config.store.url);
  const cleanup: Array<() => Promise<void>> = [() => store.close()];
  try {
    const mde = await connectMde(config.mde, { log, emulator: options.emulator });
    cleanup.unshift(() => mde.close());
    const approvals = createApprovalService({
      store,
      fourEyes: (requester, decider) => fourEyesProblem(policy, requester, decider),
      key: loadApprovalKey({ key: config.env.APPROVAL_KEY, keyFile: config.env.APPROVAL_KEY_FILE, storeUrl: config.store.url }),
      ttlMinutes: config.approvals.ttlMinutes,
      onAudit: (entry) => log.info({ audit: entry }, 'audit'),
    });
    const engine = createEngine({ mde: mde.api, store, approvals, policy, log, pollMs: options.pollMs ?? (config.demo ? 1000 : 10_000) });
    const deps: AdapterDeps = { engine, store, log, config, policy };
    const adapters = await (options.adapters ?? platformAdapters)(deps);
    // Each adapter's publisher is registered here, once.
    for (const adapter of adapters) if (adapter.publisher) engine.addPublisher(adapter.publisher);
    for (const adapter of adapters) await adapter.start?.();
    cleanup.unshift(async () => {
      for (const adapter of adapters) await adapter.stop?.();
    });
    await engine.start();
    cleanup.unshift(() => engine.stop());

    const mdeHealth = healthProbe(() => mde.api.listScanAgents(), log);
    const server = await startHttpServer({
      host: config.host,
      port: options.port ?? config.port,
      adapters,
      log,
      health: async () => {
        const [storeOk, mdeOk] = await Promise.all([
          store.ping().then(() => true, (error: Error) => (log.warn({ err: error.message }, 'health: store failing'), false)),
          mdeHealth(),
        ]);
        return { ok: storeOk && mdeOk, checks: { store: storeOk ? 'ok' : 'failing', mde: mdeOk ? 'ok' : 'failing' } };
      },
    });
    cleanup.unshift(() => server.close());

    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      config,
      engine,
      store,
      policy,
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
