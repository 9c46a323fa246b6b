import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'mde-token-'));
const certFile = join(dir, 'cert.pem');
const keyFile = join(dir, 'key.pem');
const bothFile = join(dir, 'client.pem');
let emulator: Emulator;
/** Without a client secret configured, so it accepts certificate assertions. */
let certEmulator: Emulator;

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  writeFileSync(bothFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'));
  const tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
  emulator = await startEmulator({ tls, clientId: 'mde-chatops-test', clientSecret: 'right-secret' });
  certEmulator = await startEmulator({ tls, clientId: 'mde-chatops-test' });
});

afterAll(async () => {
  await emulator.close();
  await certEmulator.close();
});

async function child(extra: Record<string, string>, target = emulator): Promise<any> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../fixtures/token-child.ts')], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile, T_TENANT: 'contoso-tenant', T_CLIENT_ID: 'mde-chatops-test', T_AUTHORITY: target.url, T_API: target.url, ...extra },
    timeout: 30_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('MSAL token provider against a local HTTPS authority', () => {
  it('gets one token by client secret and reuses it from MSAL\'s cache for many calls', async () => {
    emulator.resetStats();
    const result = await child({ T_SECRET: 'right-secret', T_CALLS: '5' });
    expect(result).toEqual({ ok: true, distinctTokens: 1 });
    expect(emulator.stats().tokenRequests).toBe(1);
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(5);
  });

  it('authenticates with a certificate (PEM with its key)', async () => {
    certEmulator.resetStats();
    const result = await child({ T_CERT: bothFile, T_CALLS: '2' }, certEmulator);
    expect(result).toEqual({ ok: true, distinctTokens: 1 });
    expect(certEmulator.stats().tokenRequests).toBe(1);
  });

  it('turns a bad secret into a clear error without the MSAL stack', async () => {
    const result = await child({ T_SECRET: 'wrong-secret' });
    expect(result.ok).toBe(false);
    expect(result.message).toBe('Could not get an MDE access token: the client secret is wrong or has expired (MDE_CLIENT_SECRET). (AADSTS7000215)');
    expect(result.message).not.toContain('wrong-secret');
  });
});

describe('token recovery', () => {
  it('a token MDE refuses (401) is dropped: exactly one new token request, the call succeeds, later calls use the new token', async () => {
    emulator.resetStats();
    // The first API call is answered 401 and every token issued so far is revoked, as when
    // the app's secret or keys change: a retry with the cached token would fail again.
    emulator.injectFault({ status: 401, path: 'DeviceAuthenticatedScanAgents', revokeTokens: true });
    const result = await child({ T_SECRET: 'right-secret', T_CALLS: '5' });
    // The first token, then the new one for the retry and the four calls after it.
    expect(result).toEqual({ ok: true, distinctTokens: 2 });
    expect(emulator.stats().tokenRequests).toBe(2);
    expect(emulator.stats().faulted).toBe(1);
    expect(emulator.stats().unauthorized).toBe(0);
    expect(emulator.stats().byEndpoint['GET /api/DeviceAuthenticatedScanAgents']).toBe(6);
  });

  it('a 401 that persists after the new token is an error naming the settings, after one retry only', async () => {
    emulator.resetStats();
    emulator.injectFault({ status: 401, path: 'DeviceAuthenticatedScanAgents', times: 2 });
    const result = await child({ T_SECRET: 'right-secret', T_CALLS: '1' });
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/refused the access token \(401\).*MDE_TENANT_ID/);
    expect(emulator.stats().tokenRequests).toBe(2);
    expect(emulator.stats().faulted).toBe(2);
  });

  it('a hung token endpoint: a clear error within the time limit, while an unrelated call goes through', async () => {
    emulator.resetStats();
    emulator.injectTokenFault({ hangMs: 60_000 });
    const started = Date.now();
    const result = await child({ T_SECRET: 'right-secret', T_MODE: 'hung', T_TOKEN_TIMEOUT_MS: '2000' });
    expect(result.first).toMatchObject({
      ok: false,
      message: `Could not get an MDE access token: the authority ${emulator.url} did not answer within 2 s (MDE_AUTHORITY_HOST, network); try again later.`,
    });
    expect(result.first.ms).toBeGreaterThanOrEqual(1900);
    expect(result.first.ms).toBeLessThan(6000);
    // Started while the stuck call's token request was waiting, done before that one gave up.
    expect(result.unrelated.ok).toBe(true);
    expect(result.unrelated.end).toBeLessThan(result.first.end);
    expect(result.again.ok).toBe(true);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
