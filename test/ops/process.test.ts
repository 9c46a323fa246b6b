/**
 * The production entry point as a process (`node dist/src/main.js`, built by `npm run
 * build`): probes, metrics that move with real Teams traffic, and SIGTERM / SIGINT
 * shutdown with exit 0 and nothing left listening, an AV scan followed across the restart,
 * a hung shutdown exiting 1, and `npm start` passing SIGTERM on to the bot.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { buildIfStale, childrenOf, listening, ROOT, spawnBot, type BotProcess } from '../helpers/built-bot.js';
import { metric } from '../helpers/metrics.js';
import { cardsOf, cardText, startConnectorStub, type ConnectorStub } from '../helpers/teams-connector.js';
import { messageActivity, postActivity, type TeamsUser, type Where } from '../helpers/teams.js';

const OPERATOR: TeamsUser = { aad: DEMO_USERS.operator.teams.slice('teams:'.length), name: 'Olivia Operator' };
const APPROVER: TeamsUser = { aad: DEMO_USERS.approver.teams.slice('teams:'.length), name: 'Adam Approver' };
const VIEWER: TeamsUser = { aad: '33333333-3333-4333-8333-333333333333', name: 'Vic Viewer' };

let dir: string;
let stub: ConnectorStub;
const running: BotProcess[] = [];

beforeAll(async () => {
  buildIfStale();
  dir = mkdtempSync(join(tmpdir(), 'mde-ops-'));
  stub = await startConnectorStub();
}, 240_000);

afterAll(async () => {
  for (const bot of running) if (bot.child.exitCode === null && bot.child.signalCode === null) bot.child.kill('SIGKILL');
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

const botEnv = (extra: Record<string, string> = {}) => ({ PORT: '0', HOST: '127.0.0.1', STORE_URL: `sqlite:${join(dir, 'bot.db')}`, LOG_LEVEL: 'info', ...extra });

async function start(extra: Record<string, string> = {}, args?: string[]): Promise<BotProcess> {
  const bot = await spawnBot({ cwd: dir, env: botEnv(extra), args });
  running.push(bot);
  return bot;
}

async function say(bot: BotProcess, user: TeamsUser, text: string): Promise<string> {
  const where: Where = { serviceUrl: stub.url, conversationId: `a:ops-${user.aad}` };
  const mark = stub.calls.length;
  const activity = messageActivity(text, user, where);
  const res = await postActivity(`${bot.url}/api/messages`, activity);
  expect(res.status, res.text).toBe(200);
  const call = await stub.waitFor((c) => c.kind === 'reply' && c.activityId === activity.id, { from: mark, timeoutMs: 20_000 });
  return cardText(cardsOf(call)[0]);
}

async function scrape(bot: BotProcess): Promise<string> {
  const res = await fetch(`${bot.metricsUrl}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the built entry point (node dist/src/main.js)', () => {
  it('answers probes and metrics, counts real traffic, stops on SIGTERM with exit 0, and the next start brings the AV scan it was following to its end', async () => {
    const bot = await start({ METRICS_PORT: '0' });
    expect(bot.metricsUrl).toBeDefined();
    expect(bot.metricsUrl).not.toBe(bot.url);
    expect(await (await fetch(`${bot.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${bot.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', store: 'ok', mde: 'ok' });
    expect((await fetch(`${bot.url}/metrics`)).status).toBe(404); // moved to METRICS_PORT

    expect(await say(bot, OPERATOR, 'scans list')).toContain('Printers floor 5');
    expect(await say(bot, VIEWER, `scans delete ${SEED.definitions.networkPrinters} --reason "not mine"`)).toMatch(/operator/i);
    const ack = await say(bot, OPERATOR, `av-scan ${SEED.machines.wsFin01} quick --reason "ops test"`);
    const id = /Approval request (A[0-9A-Z]{6})/.exec(ack)?.[1];
    expect(id, ack).toBeDefined();
    expect(await say(bot, APPROVER, `approve ${id}`)).toContain(`Approved ${id}`);

    const text = await until(() => scrape(bot), (t) => metric(t, 'mdechatops_av_scans_followed') === 1, 10_000, 'the AV scan to be followed');
    expect(metric(text, 'mdechatops_commands_total', { command: 'scans list', outcome: 'ok' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'scans delete', outcome: 'refused' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'av-scan', outcome: 'ok' })).toBe(1);
    expect(metric(text, 'mdechatops_commands_total', { command: 'approve', outcome: 'ok' })).toBe(1);
    expect(metric(text, 'mdechatops_approval_events_total', { event: 'requested' })).toBe(1);
    expect(metric(text, 'mdechatops_approval_events_total', { event: 'approved' })).toBe(1);
    expect(metric(text, 'mdechatops_mde_calls_total', { endpoint: 'GET /api/DeviceAuthenticatedScanDefinitions', status: '200' })).toBeGreaterThanOrEqual(1);
    expect(metric(text, 'mdechatops_process_resident_memory_bytes')).toBeGreaterThan(0);

    // SIGTERM while the scan is being followed: exit 0 in time, nothing left listening.
    const sent = Date.now();
    bot.child.kill('SIGTERM');
    const exit = await bot.exited;
    expect(exit, bot.output()).toEqual({ code: 0, signal: null });
    expect(Date.now() - sent).toBeLessThan(10_000);
    expect(bot.output()).toMatch(/"msg":"shutting down"/);
    expect(bot.output()).toMatch(/"msg":"stopped"/);
    expect(await listening(bot.url)).toBe(false);
    expect(await listening(bot.metricsUrl!)).toBe(false);

    // The next start picks the followed scan up again (recovery) and brings the request to
    // its end. Demo mode's emulator starts afresh and no longer knows the machine action, so
    // the end is `failed` here; against MDE the scan's real outcome is recorded.
    const again = await start();
    expect(again.metricsUrl).toBe(again.url);
    const ended = (t: string) => metric(t, 'mdechatops_approval_events_total', { event: 'succeeded' }) + metric(t, 'mdechatops_approval_events_total', { event: 'failed' });
    const after = await until(() => scrape(again), (t) => ended(t) === 1, 20_000, 'the resumed AV scan to end');
    expect(metric(after, 'mdechatops_av_scans_followed')).toBe(0);
    expect(metric(after, 'mdechatops_approvals', { state: 'executing' })).toBe(0);
    expect(metric(after, 'mdechatops_mde_calls_total', { endpoint: 'GET /api/machineactions/{id}' })).toBeGreaterThanOrEqual(1);
    again.child.kill('SIGINT');
    expect(await again.exited).toEqual({ code: 0, signal: null });
    expect(await listening(again.url)).toBe(false);
  }, 90_000);

  it('exits 1 when shutdown hangs past SHUTDOWN_TIMEOUT_SECONDS', async () => {
    // A preload that makes closing the HTTP server never finish.
    const hang = join(dir, 'hang-close.mjs');
    writeFileSync(hang, "import { Server } from 'node:http';\nServer.prototype.close = function () { return this; };\nServer.prototype.closeAllConnections = function () {};\n");
    const bot = await start({ SHUTDOWN_TIMEOUT_SECONDS: '1', STORE_URL: 'sqlite::memory:' }, ['--import', hang, join(ROOT, 'dist', 'src', 'main.js')]);
    const sent = Date.now();
    bot.child.kill('SIGTERM');
    const exit = await bot.exited;
    expect(exit, bot.output()).toEqual({ code: 1, signal: null });
    expect(Date.now() - sent).toBeGreaterThanOrEqual(900);
    expect(Date.now() - sent).toBeLessThan(5000);
    expect(bot.output()).toMatch(/shutdown did not finish in time/);
    expect(await listening(bot.url)).toBe(false);
  }, 60_000);

  it('npm start runs node dist/src/main.js under npm alone, and SIGTERM to npm stops the bot cleanly', async () => {
    const bot = await spawnBot({ command: 'npm', args: ['start', '--silent'], cwd: ROOT, env: botEnv({ STORE_URL: 'sqlite::memory:', METRICS: 'off' }) });
    running.push(bot);
    const children = childrenOf(bot.child.pid!);
    expect(children.map((c) => c.cmd)).toEqual([expect.stringMatching(/^node dist\/src\/main\.js$/)]);
    expect(childrenOf(children[0]!.pid)).toEqual([]); // no tsx, esbuild or shell below it
    expect(bot.metricsUrl).toBeUndefined();
    bot.child.kill('SIGTERM');
    const exit = await bot.exited;
    expect(exit, bot.output()).toEqual({ code: 0, signal: null });
    expect(bot.output()).toMatch(/"msg":"stopped"/);
    expect(await listening(bot.url)).toBe(false);
    expect(() => process.kill(children[0]!.pid, 0)).toThrow(); // the bot process is gone too
  }, 90_000);
});
