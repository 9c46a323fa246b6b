/** The local-mode gate (no MicrosoftAppId): loopback peers with loopback serviceUrls only. */
import { describe, expect, it } from 'vitest';
import { checkLocalRequest, isLoopbackAddress, isLoopbackServiceUrl } from '../../adapters/teams/index.js';

describe('isLoopbackAddress', () => {
  it.each(['127.0.0.1', '127.1.2.3', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.9', '0:0:0:0:0:0:0:1'])('%s is loopback', (a) => {
    expect(isLoopbackAddress(a)).toBe(true);
  });
  it.each(['10.0.0.1', '192.0.2.2', '128.0.0.1', '::ffff:10.0.0.1', '::2', 'fe80::1', '0.0.0.0', '', 'localhost', '127.0.0', '127.0.0.1.5', undefined, null])('%s is not', (a) => {
    expect(isLoopbackAddress(a as string | undefined)).toBe(false);
  });
});

describe('isLoopbackServiceUrl', () => {
  it.each(['http://localhost:56150/_connector', 'http://127.0.0.1:3979/', 'https://127.8.9.10/x', 'http://[::1]:8080/', 'HTTP://LOCALHOST/'])('%s is loopback', (u) => {
    expect(isLoopbackServiceUrl(u)).toBe(true);
  });
  it.each([
    'https://smba.trafficmanager.net/emea/',
    'http://localhost.evil.example/',
    'http://127.0.0.1.nip.io/',
    'http://localhost@evil.example/',
    'http://user:pw@localhost/',
    'ftp://localhost/',
    'file:///etc/passwd',
    'http://10.0.0.1/',
    'http://[::ffff:7f00:1]/',
    'not a url',
    '',
    42,
    undefined,
  ])('%s is not', (u) => {
    expect(isLoopbackServiceUrl(u)).toBe(false);
  });
});

describe('checkLocalRequest', () => {
  const local = { serviceUrl: 'http://localhost:56150/_connector' };
  it('accepts a loopback peer with a loopback serviceUrl', () => {
    expect(checkLocalRequest('127.0.0.1', local)).toEqual({ ok: true });
    expect(checkLocalRequest('::ffff:127.0.0.1', local)).toEqual({ ok: true });
  });
  it('refuses another machine, whatever it sends', () => {
    expect(checkLocalRequest('192.0.2.2', local)).toMatchObject({ ok: false, reason: expect.stringMatching(/from this machine/) });
    expect(checkLocalRequest(undefined, local).ok).toBe(false);
  });
  it('refuses a loopback peer naming a remote serviceUrl (or none)', () => {
    expect(checkLocalRequest('127.0.0.1', { serviceUrl: 'https://smba.trafficmanager.net/amer/' })).toMatchObject({ ok: false, reason: expect.stringMatching(/serviceUrl/) });
    expect(checkLocalRequest('127.0.0.1', {}).ok).toBe(false);
    expect(checkLocalRequest('127.0.0.1', null).ok).toBe(false);
  });
});
