/**
 * Passive health: `/readyz` answers from the outcome of the bot's own MDE calls and token
 * requests, and spends an MDE call on a probe only after a long quiet spell, a few times an
 * hour at most. Probes are counted (a clock the test moves, and calls at the emulator).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEMO_USERS } from '../../src/demo.js';
import { createMdeHealth } from '../../src/health.js';

const MINUTE = 60_000;

function clocked(idleMs: number, probe: () => Promise<unknown> = async () => undefined) {
  let t = 0;
  const health = createMdeHealth({ probe, idleMs, now: () => t });
  return { health, advance: (ms: number) => (t += ms), at: () => t };
}

describe('MDE health without spending the quota', () => {
  it('an hour of readiness checks every 10 s with traffic spends no probe', async () => {
    const { health, advance } = clocked(10 * MINUTE);
    health.sawCall(true);
    for (let s = 10; s <= 3600; s += 10) {
      advance(10_000);
      if (s % 300 === 0) health.sawCall(true); // a command every 5 minutes
      expect(await health.check()).toBe(true);
    }
    expect(health.probes()).toBe(0);
  });

  it('an idle hour costs one probe per idle interval, and never more than six an hour', async () => {
    for (const [idle, expected] of [[10 * MINUTE, 6], [MINUTE, 6], [30 * MINUTE, 2]] as const) {
      let probes = 0;
      const { health, advance } = clocked(idle, async () => {
        probes += 1;
        health.sawCall(true); // the probe is an MDE call: the client's observer reports it
      });
      for (let s = 0; s < 3600; s += 10) {
        expect(await health.check()).toBe(true);
        advance(10_000);
      }
      expect(probes).toBe(expected);
      expect(health.probes()).toBe(expected);
    }
  });

  it('a failing call or token request makes MDE unhealthy at once, and a good call heals it, with no probe', async () => {
    let probes = 0;
    const { health, advance } = clocked(10 * MINUTE, async () => void (probes += 1));
    health.sawCall(true);
    advance(1000);
    health.sawCall(false);
    expect(await health.check()).toBe(false);
    advance(1000);
    health.sawCall(true);
    expect(await health.check()).toBe(true);
    advance(1000);
    health.sawToken(false);
    expect(await health.check()).toBe(false);
    advance(1000);
    health.sawToken(true);
    health.sawCall(true);
    expect(await health.check()).toBe(true);
    expect(probes).toBe(0);
  });

  it('a probe that fails says so until a call succeeds', async () => {
    const { health, advance } = clocked(MINUTE, async () => Promise.reject(new Error('MDE down')));
    expect(await health.check()).toBe(false);
    advance(10_000);
    expect(await health.check()).toBe(false);
    health.sawCall(true);
    expect(await health.check()).toBe(true);
  });
});

describe('MDE_PROBE_IDLE_MINUTES and the rate windows', () => {
  it('is validated and defaults to 10 minutes', () => {
    expect(loadConfig({}).health.probeIdleMs).toBe(10 * MINUTE);
    expect(loadConfig({ MDE_PROBE_IDLE_MINUTES: '3' }).health.probeIdleMs).toBe(3 * MINUTE);
    expect(() => loadConfig({ MDE_PROBE_IDLE_MINUTES: '0' })).toThrow(/MDE_PROBE_IDLE_MINUTES must be at least 1/);
    expect(() => loadConfig({ MDE_PROBE_IDLE_MINUTES: 'soon' })).toThrow(/MDE_PROBE_IDLE_MINUTES must be a number/);
  });

  it('shrinks the rate windows only for an emulator, never for Microsoft', () => {
    expect(loadConfig({ MDE_RATE_MINUTE_WINDOW_MS: '6000' }).mde.rate).toMatchObject({ perMinute: 100, minuteMs: 6000, hourMs: 3_600_000 });
    const live = { MDE_TENANT_ID: 't', MDE_CLIENT_ID: 'c', MDE_CLIENT_SECRET: 's', MDE_RATE_MINUTE_WINDOW_MS: '6000' };
    expect(() => loadConfig(live)).toThrow(/MDE_RATE_MINUTE_WINDOW_MS shrink the rate windows .* api\.security\.microsoft\.com/);
    expect(loadConfig({ ...live, MDE_API_URL: 'https://127.0.0.1:4010' }).mde.rate.minuteMs).toBe(6000);
  });
});

describe('/readyz of a running bot', () => {
  let app: App | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it('probes once when MDE was never called, then lives on the traffic: no probe while commands call MDE', async () => {
    app = await startApp({ port: 0, env: { STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' }, adapters: async () => [], probeIdleMs: 400 });
    const probes = () => app!.emulator!.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents'] ?? 0;
    const ready = async () => (await fetch(`${app!.url}/readyz`)).status;
    expect(await ready()).toBe(200);
    expect(probes()).toBe(1);
    const origin = { platform: 'test', location: {}, scope: 'channel' as const };
    for (let i = 0; i < 8; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      // Looks the device up in MDE: a real call each time.
      await app.engine.handleText({ id: DEMO_USERS.operator.slack }, origin, `av-scan ws-fin-01.contoso.local quick --reason "traffic ${i}"`);
      expect(await ready()).toBe(200);
    }
    expect(probes()).toBe(1);
  });
});
