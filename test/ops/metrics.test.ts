/**
 * `/metrics`, `/healthz` and `/readyz` of a running bot (startApp, demo mode, real HTTP):
 * the counters move with commands, MDE calls, 429s and retries; approvals and followed AV
 * scans are read from the store at scrape time; `METRICS=off` and `METRICS_PORT` do what
 * they say; readiness reads the bot's own recent MDE calls before it spends one on a probe.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import type { Origin } from '../../src/core/context.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { createMetrics, endpointLabel } from '../../src/metrics.js';
import { hasMetric, metric } from '../helpers/metrics.js';

const origin: Origin = { platform: 'test', location: { room: 'ops' }, scope: 'group' };
const operator = { id: DEMO_USERS.operator.slack, name: 'Olivia Operator' };
const approver = { id: DEMO_USERS.approver.slack, name: 'Adam Approver' };
const viewer = { id: 'slack:UVIEWER', name: 'Vic Viewer' };
const DEFINITIONS = 'GET /api/DeviceAuthenticatedScanDefinitions';

let app: App | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

const start = (env: Record<string, string> = {}) =>
  startApp({
    port: 0,
    env: { STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', ...env },
    adapters: async () => [],
    emulator: { actionTimings: { pendingMs: 300, inProgressMs: 300 } },
    pollMs: 50,
  });

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('/metrics', () => {
  it('counts commands by name and outcome, and MDE calls, 429s and retries by endpoint', async () => {
    app = await start();
    expect(app.metricsUrl).toBe(app.url);
    const before = await scrape(app.url);
    expect(metric(before, 'mdechatops_commands_total')).toBe(0);

    app.emulator!.injectFault({ status: 429, times: 1, path: '/api/DeviceAuthenticatedScanDefinitions', retryAfterSeconds: 0.1 });
    app.emulator!.injectFault({ status: 503, times: 1, path: '/api/DeviceAuthenticatedScanDefinitions' });
    const list = await app.engine.handleText(operator, origin, 'scans list');
    expect(list.blocks[0]).not.toMatchObject({ tone: 'error' });
    await app.engine.handleText(viewer, origin, `scans delete ${SEED.definitions.networkPrinters} --reason "not mine"`);
    await app.engine.handleText(viewer, origin, 'whoami');
    await app.engine.handleText(viewer, origin, 'scans show "No such definition"');

    const text = await scrape(app.url);
    expect(metric(text, 'mdechatops_commands_total', { command: 'scans list', outcome: 'ok' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'scans delete', outcome: 'refused' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'whoami', outcome: 'ok' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'scans show', outcome: 'refused' })).toBe(1);
    expect(metric(text, 'mdechatops_command_duration_seconds_count', { command: 'scans list' })).toBe(1);
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: DEFINITIONS, status: '429' })).toBe(1);
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: DEFINITIONS, status: '503' })).toBe(1);
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: DEFINITIONS, status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'mdechatops_mde_throttled_total', { endpoint: DEFINITIONS })).toBe(1);
    expect(metric(text, 'mdechatops_mde_retries_total', { endpoint: DEFINITIONS, reason: 'throttled' })).toBe(1);
    expect(metric(text, 'mdechatops_mde_retries_total', { endpoint: DEFINITIONS, reason: 'server' })).toBe(1);
    // Every attempt went through the limiter.
    const calls = metric(text, 'mdechatops_mde_calls_total');
    expect(metric(text, 'mdechatops_mde_limiter_calls_left', { window: 'minute' })).toBe(100 - calls);
    expect(metric(text, 'mdechatops_mde_limiter_calls_left', { window: 'hour' })).toBe(1500 - calls);
    expect(metric(text, 'mdechatops_mde_limiter_queued')).toBe(0);
    // Node's process metrics, prefixed like the rest.
    expect(hasMetric(text, 'mdechatops_process_resident_memory_bytes')).toBe(true);
    expect(hasMetric(text, 'mdechatops_nodejs_eventloop_lag_seconds')).toBe(true);
    expect(text).not.toMatch(/^process_|^nodejs_/m);
  });

  it('shows approvals by state, the oldest pending age, and AV scans being followed', async () => {
    app = await start();
    const ack = await app.engine.handleText(operator, origin, `av-scan ${SEED.machines.wsFin01} quick --reason "metrics test"`);
    const id = /Approval request (A[0-9A-Z]{6})/.exec(JSON.stringify(ack))?.[1];
    expect(id, JSON.stringify(ack)).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    let text = await scrape(app.url);
    expect(metric(text, 'mdechatops_approvals', { state: 'pending' })).toBe(1);
    expect(metric(text, 'mdechatops_approval_oldest_pending_age_seconds')).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'mdechatops_approval_events_total', { event: 'requested' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'av-scan', outcome: 'ok' })).toBe(1);

    await app.engine.handleText(approver, origin, `approve ${id}`);
    let followed = 0;
    for (let i = 0; i < 50 && followed === 0; i += 1) {
      text = await scrape(app.url);
      followed = metric(text, 'mdechatops_av_scans_followed');
      if (!followed) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(followed).toBe(1);
    expect(metric(text, 'mdechatops_approvals', { state: 'pending' })).toBe(0);
    expect(metric(text, 'mdechatops_approval_oldest_pending_age_seconds')).toBe(0);

    await app.engine.idle();
    text = await scrape(app.url);
    expect(metric(text, 'mdechatops_av_scans_followed')).toBe(0);
    expect(metric(text, 'mdechatops_approval_events_total', { event: 'approved' })).toBe(1);
    expect(metric(text, 'mdechatops_approval_events_total', { event: 'succeeded' })).toBe(1);
    expect(metric(text, 'mdechatops_approvals', { state: 'executing' })).toBe(0);
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: 'POST /api/machines/{id}/runAntiVirusScan', status: '201' }) + metric(text, 'mdechatops_mde_calls_total', { endpoint: 'POST /api/machines/{id}/runAntiVirusScan', status: '200' })).toBe(1);
    // Followed scans are polled together, through the machine action list.
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: 'GET /api/machineactions' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: 'GET /api/machineactions/{id}' })).toBe(0);
  });

  it('is off with METRICS=off, and answers on its own port with METRICS_PORT', async () => {
    app = await start({ METRICS: 'off' });
    expect(app.metricsUrl).toBeUndefined();
    expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
    await app.close();

    app = await start({ METRICS_PORT: '0' });
    expect(app.metricsUrl).toBeDefined();
    expect(app.metricsUrl).not.toBe(app.url);
    expect((await fetch(`${app.url}/metrics`)).status).toBe(404);
    await app.engine.handleText(viewer, origin, 'help');
    expect(metric(await scrape(app.metricsUrl!), 'mdechatops_commands_total', { command: 'help', outcome: 'ok' })).toBe(1);
    // Probes there too (a scraper's or an orchestrator's port), but no chat endpoint.
    expect((await fetch(`${app.metricsUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${app.metricsUrl}/api/messages`, { method: 'POST', body: '{}' })).status).toBe(404);
    const closed = app.close();
    await closed;
    await expect(fetch(`${app.metricsUrl}/metrics`)).rejects.toThrow();
  });

  it('folds ids and names in MDE paths into {id}', () => {
    expect(endpointLabel('get', '/api/machines/7f1c0e3d2b4a59687f1c0e3d2b4a59687f1c0e3d')).toBe('GET /api/machines/{id}');
    expect(endpointLabel('GET', '/api/machines/ws-fin-01.contoso.local')).toBe('GET /api/machines/{id}');
    expect(endpointLabel('POST', '/api/machineactions/1b2c/cancel')).toBe('POST /api/machineactions/{id}/cancel');
    expect(endpointLabel('POST', '/api/DeviceAuthenticatedScanDefinitions/BatchDelete')).toBe('POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete');
    expect(endpointLabel('PATCH', '/api/DeviceAuthenticatedScanDefinitions/3f9c0b1e-0000-4000-8000-000000000001')).toBe('PATCH /api/DeviceAuthenticatedScanDefinitions/{id}');
  });

  it('keeps one set of process metrics however many bots run in the process', async () => {
    const a = await createMetrics().render();
    const b = await createMetrics().render();
    const count = (t: string) => t.split('\n').filter((l) => l.startsWith('# TYPE mdechatops_process_resident_memory_bytes')).length;
    expect(count(a.body)).toBe(1);
    expect(count(b.body)).toBe(1);
    expect(hasMetric((await createMetrics({ processMetrics: false }).render()).body, 'mdechatops_process_resident_memory_bytes')).toBe(false);
  });
});

describe('/healthz and /readyz', () => {
  it('/healthz says the process answers; /readyz reads recent MDE calls before spending one on a probe', async () => {
    app = await start();
    const live = await fetch(`${app.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok' });

    await app.engine.handleText(operator, origin, 'scans list');
    app.emulator!.resetStats();
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', store: 'ok', mde: 'ok' });
    expect(app.emulator!.stats().total).toBe(0);

    // MDE failing on the bot's own calls makes it not ready, at no extra MDE cost.
    app.emulator!.injectFault({ status: 503, times: 3, path: 'GetScanHistoryByScanDefinitionId' });
    await app.engine.handleText(operator, origin, `scans history ${SEED.definitions.networkPrinters}`);
    const degraded = await fetch(`${app.url}/readyz`);
    expect(degraded.status).toBe(503);
    expect(await degraded.json()).toMatchObject({ status: 'degraded', store: 'ok', mde: 'failing' });

    // A closed store: not ready, still alive.
    await app.store.close();
    const down = await fetch(`${app.url}/readyz`);
    expect(down.status).toBe(503);
    expect(((await down.json()) as { store: string }).store).toBe('failing');
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);
  });
});
