/**
 * The local-mode gate (no MicrosoftAppId): loopback peers with loopback serviceUrls only,
 * sending JSON to a loopback Host without browser or proxy headers.
 */
import { describe, expect, it } from 'vitest';
import {
  checkLocalHeaders,
  checkLocalRequest,
  isJsonContentType,
  isLoopbackAddress,
  isLoopbackHostHeader,
  isLoopbackServiceUrl,
  REFUSED_LOCAL_HEADERS,
} from '../../adapters/teams/index.js';

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

describe('isLoopbackHostHeader', () => {
  it.each(['127.0.0.1:3978', '127.0.0.1', '127.9.8.7:80', 'localhost:3978', 'LOCALHOST', '[::1]:3978', '[::1]', '[0:0:0:0:0:0:0:1]:1'])('%s is loopback', (h) => {
    expect(isLoopbackHostHeader(h)).toBe(true);
  });
  it.each([
    'evil.example:3978', // DNS rebinding: the attacker's name, resolving to 127.0.0.1
    'localhost.evil.example',
    '127.0.0.1.nip.io:3978',
    '10.0.0.5:3978',
    '0.0.0.0:3978',
    '[::ffff:127.0.0.1]:3978',
    '[fe80::1]',
    'user@localhost:3978',
    'localhost:3978/x',
    'localhost:3978, evil.example',
    'localhost:99999999',
    '',
    undefined,
    ['localhost'],
  ])('%s is not', (h) => {
    expect(isLoopbackHostHeader(h)).toBe(false);
  });
});

describe('isJsonContentType', () => {
  it.each(['application/json', 'application/json; charset=utf-8', 'Application/JSON;charset=UTF-8', ' application/json '])('%s is JSON', (t) => {
    expect(isJsonContentType(t)).toBe(true);
  });
  it.each(['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonp', 'application/json-patch+json', '', undefined])('%s is not', (t) => {
    expect(isJsonContentType(t)).toBe(false);
  });
});

describe('checkLocalHeaders', () => {
  /** What the Agents Playground sends (axios, server to server; recorded from 0.2.28). */
  const playground = {
    accept: 'application/json, text/plain, */*',
    'content-type': 'application/json',
    'x-ms-agents-playground': 'true',
    'user-agent': 'axios/1.12.2',
    'content-length': '145',
    'accept-encoding': 'gzip, compress, deflate, br',
    host: '127.0.0.1:3978',
    connection: 'keep-alive',
  };

  it('accepts the playground’s requests, and JSON with a charset to localhost', () => {
    expect(checkLocalHeaders(playground)).toEqual({ ok: true });
    expect(checkLocalHeaders({ ...playground, host: 'localhost:3978', 'content-type': 'application/json; charset=utf-8' })).toEqual({ ok: true });
  });

  it.each(REFUSED_LOCAL_HEADERS.map((h) => [h]))('refuses a request carrying %s', (header) => {
    const check = checkLocalHeaders({ ...playground, [header]: header === 'origin' ? 'null' : 'x' });
    expect(check).toMatchObject({ ok: false, reason: expect.stringContaining(header) });
  });

  it('refuses a Host that is not loopback (DNS rebinding) or missing', () => {
    expect(checkLocalHeaders({ ...playground, host: 'rebind.evil.example:3978' })).toMatchObject({ ok: false, reason: expect.stringMatching(/Host/) });
    const { host: _host, ...noHost } = playground;
    expect(checkLocalHeaders(noHost).ok).toBe(false);
  });

  it('refuses a body that is not declared JSON (a browser’s “simple” request)', () => {
    expect(checkLocalHeaders({ ...playground, 'content-type': 'text/plain;charset=UTF-8' })).toMatchObject({ ok: false, reason: expect.stringMatching(/application\/json/) });
    const { 'content-type': _type, ...noType } = playground;
    expect(checkLocalHeaders(noType).ok).toBe(false);
  });
});
