import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { startApp } from '../src/app.js';

describe('configuration', () => {
  it('runs in demo mode with nothing set', () => {
    const config = loadConfig({});
    expect(config.demo).toBe(true);
    expect(config.port).toBe(3978);
    expect(config.env.STORE_URL).toBe('sqlite:./data/mde-chatops.db');
    expect(config.metrics).toEqual({ enabled: true, port: undefined });
    expect(config.shutdownTimeoutMs).toBe(10_000);
  });

  it('reads the operations settings', () => {
    expect(loadConfig({ METRICS: 'OFF' }).metrics).toEqual({ enabled: false });
    expect(loadConfig({ METRICS_PORT: '9464', SHUTDOWN_TIMEOUT_SECONDS: '25' })).toMatchObject({ metrics: { enabled: true, port: 9464 }, shutdownTimeoutMs: 25_000 });
  });

  it('reads the MDE quota (windows shrink only in tests) and the AV scan poll interval', () => {
    expect(loadConfig({}).mde.rate).toEqual({ perMinute: 100, perHour: 1500, minuteMs: 60_000, hourMs: 3_600_000, interactiveShare: 0.4 });
    expect(loadConfig({ AV_SCAN_INTERACTIVE_SHARE: '0.25' }).mde.rate.interactiveShare).toBe(0.25);
    expect(() => loadConfig({ AV_SCAN_INTERACTIVE_SHARE: '1' })).toThrow(/AV_SCAN_INTERACTIVE_SHARE must be at most 0.9/);
    expect(() => loadConfig({ AV_SCAN_INTERACTIVE_SHARE: 'half' })).toThrow(/AV_SCAN_INTERACTIVE_SHARE must be a number/);
    expect(loadConfig({}).avScan.maxDevices).toBe(500);
    expect(loadConfig({ AV_SCAN_MAX_DEVICES: '50' }).avScan.maxDevices).toBe(50);
    expect(() => loadConfig({ AV_SCAN_MAX_DEVICES: '0' })).toThrow(/AV_SCAN_MAX_DEVICES must be at least 1/);
    expect(loadConfig({}).pollMs).toBe(1000);
    const config = loadConfig({ MDE_RATE_PER_MINUTE: '10', MDE_RATE_MINUTE_WINDOW_MS: '2000', MDE_RATE_HOUR_WINDOW_MS: '60000', AV_SCAN_POLL_SECONDS: '0.5' });
    expect(config.mde.rate).toEqual({ perMinute: 10, perHour: 1500, minuteMs: 2000, hourMs: 60_000, interactiveShare: 0.4 });
    expect(config.pollMs).toBe(500);
  });

  it('reads the scan watch settings', () => {
    expect(loadConfig({}).watch).toEqual({ intervalMs: 600_000, quotaShare: 0.05 });
    expect(loadConfig({ WATCH_INTERVAL_MINUTES: '30', WATCH_QUOTA_PERCENT: '2.5' }).watch).toEqual({ intervalMs: 1_800_000, quotaShare: 0.025 });
  });

  it('reads a live MDE configuration with a certificate', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'c.pem'), 'x');
    const config = loadConfig({ MDE_TENANT_ID: 't', MDE_CLIENT_ID: 'c', MDE_CLIENT_CERT_PATH: join(dir, 'c.pem'), MDE_API_URL: 'https://eu.api.security.microsoft.com/' });
    expect(config.mde).toMatchObject({ mode: 'live', apiUrl: 'https://eu.api.security.microsoft.com', authorityHost: 'https://login.microsoftonline.com' });
  });

  it('reads the directory settings: Graph (its token scope follows its host; http only on loopback) and the cache time', () => {
    const live = { MDE_CLIENT_ID: 'c', MDE_TENANT_ID: 't', MDE_CLIENT_SECRET: 's' };
    expect(loadConfig({}).directory).toEqual({ cacheMs: 300_000, graph: { mode: 'emulator' } });
    expect(loadConfig(live).directory.graph).toEqual({ mode: 'live', apiUrl: 'https://graph.microsoft.com', scope: 'https://graph.microsoft.com/.default' });
    expect(loadConfig({ ...live, GRAPH_API_URL: 'https://graph.microsoft.us/' }).directory.graph).toEqual({ mode: 'live', apiUrl: 'https://graph.microsoft.us', scope: 'https://graph.microsoft.us/.default' });
    expect(loadConfig({ ...live, GRAPH_API_URL: 'http://127.0.0.1:4010', DIRECTORY_CACHE_SECONDS: '60' }).directory).toEqual({
      cacheMs: 60_000,
      graph: { mode: 'live', apiUrl: 'http://127.0.0.1:4010', scope: 'https://graph.microsoft.com/.default' },
    });
  });

  it.each([
    [{ MDE_CLIENT_ID: 'c', MDE_CLIENT_SECRET: 's' }, 'MDE_TENANT_ID'],
    [{ MDE_CLIENT_ID: 'c', MDE_TENANT_ID: 't' }, 'MDE_CLIENT_SECRET or MDE_CLIENT_CERT_PATH'],
    [{ MDE_TENANT_ID: 't' }, 'MDE_CLIENT_ID'],
    [{ MDE_CLIENT_ID: 'c', MDE_TENANT_ID: 't', MDE_CLIENT_CERT_PATH: '/nonexistent/cert.pem' }, 'MDE_CLIENT_CERT_PATH'],
    [{ MDE_AUTHORITY_HOST: 'http://login.example' }, 'MDE_AUTHORITY_HOST'],
    [{ SLACK_BOT_TOKEN: 'xoxb-1' }, 'SLACK_SIGNING_SECRET'],
    [{ SLACK_SIGNING_SECRET: 's' }, 'SLACK_BOT_TOKEN'],
    [{ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'nope' }, 'SLACK_APP_TOKEN'],
    [{ APPROVAL_TTL_MINUTES: '0' }, 'APPROVAL_TTL_MINUTES'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ METRICS: 'maybe' }, 'METRICS'],
    [{ METRICS_PORT: 'nine' }, 'METRICS_PORT'],
    [{ METRICS_PORT: '70000' }, 'METRICS_PORT'],
    [{ METRICS: 'off', METRICS_PORT: '9464' }, 'METRICS_PORT'],
    [{ PORT: '3978', METRICS_PORT: '3978' }, 'METRICS_PORT'],
    [{ SHUTDOWN_TIMEOUT_SECONDS: '0' }, 'SHUTDOWN_TIMEOUT_SECONDS'],
    [{ SHUTDOWN_TIMEOUT_SECONDS: 'soon' }, 'SHUTDOWN_TIMEOUT_SECONDS'],
    [{ AV_SCAN_POLL_SECONDS: '0' }, 'AV_SCAN_POLL_SECONDS'],
    [{ MDE_CLIENT_ID: 'c', MDE_TENANT_ID: 't', MDE_CLIENT_SECRET: 's', GRAPH_API_URL: 'http://graph.example.com' }, 'GRAPH_API_URL must be https'],
    [{ GRAPH_API_URL: 'https://graph.microsoft.us' }, 'GRAPH_API_URL is set but MDE_CLIENT_ID is not'],
    [{ DIRECTORY_CACHE_SECONDS: '0' }, 'DIRECTORY_CACHE_SECONDS'],
    [{ AV_SCAN_POLL_SECONDS: 'often' }, 'AV_SCAN_POLL_SECONDS'],
    [{ MDE_RATE_MINUTE_WINDOW_MS: '-1' }, 'MDE_RATE_MINUTE_WINDOW_MS'],
    [{ WATCH_INTERVAL_MINUTES: '0' }, 'WATCH_INTERVAL_MINUTES'],
    [{ WATCH_INTERVAL_MINUTES: 'hourly' }, 'WATCH_INTERVAL_MINUTES'],
    [{ WATCH_QUOTA_PERCENT: '80' }, 'WATCH_QUOTA_PERCENT'],
    [{ MDE_RATE_MINUTE_WINDOW_MS: '120000', MDE_RATE_HOUR_WINDOW_MS: '60000' }, 'MDE_RATE_HOUR_WINDOW_MS'],
  ])('stops start-up on %j, naming %s', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(variable);
  });

  it('stops start-up on an unknown role entry, naming the variable', async () => {
    await expect(startApp({ env: { BOT_OPERATORS: 'slack:U1,bob', STORE_URL: 'sqlite::memory:' }, port: 0 })).rejects.toThrow('BOT_OPERATORS');
  });

  it('never prints a secret in a configuration error', () => {
    expect(() => loadConfig({ MDE_CLIENT_ID: 'c', MDE_CLIENT_SECRET: 'SuperSecret123' })).toThrow(/^(?!.*SuperSecret123)/s);
  });
});

describe('health', () => {
  it('reports the store and MDE on /readyz; /healthz only says the process answers', async () => {
    const app = await startApp({ env: { STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }, port: 0 });
    try {
      const res = await fetch(`${app.url}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok', store: 'ok', mde: 'ok' });
      expect((await fetch(`${app.url}/nowhere`)).status).toBe(404);
      await app.store.close();
      const down = await fetch(`${app.url}/readyz`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { store: string }).store).toMatch(/^failing/);
      const live = await fetch(`${app.url}/healthz`);
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ status: 'ok' });
    } finally {
      await app.close();
    }
  });
});
