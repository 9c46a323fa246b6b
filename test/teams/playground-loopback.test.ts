/**
 * `scripts/loopback-only.cjs`, preloaded into the Agents Playground (whose CLI has no host
 * option): a listen without a host binds 127.0.0.1, in every form of `listen`; explicit
 * hosts and Unix sockets are left alone. Checked in a child Node process, so this test's
 * own process keeps the real `listen`. The browser test checks the real playground.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOOPBACK_SHIM, playgroundArgs, playgroundBin } from '../../scripts/playground.js';

const dir = mkdtempSync(join(tmpdir(), 'mde-loopback-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs each listen form in a child with the shim preloaded; returns the address each bound. */
function boundAddresses(): Record<string, string> {
  const socket = join(dir, 'pipe.sock');
  const script = `
    const net = require('node:net');
    const http = require('node:http');
    const forms = {
      'listen()': (s) => s.listen(),
      'listen(cb)': (s, cb) => s.listen(cb),
      'listen(port)': (s) => s.listen(0),
      'listen(port, cb)': (s, cb) => s.listen(0, cb),
      'listen("0", cb)': (s, cb) => s.listen('0', cb),
      'listen(port, backlog, cb)': (s, cb) => s.listen(0, 16, cb),
      'listen(port, undefined, backlog, cb)': (s, cb) => s.listen(0, undefined, 16, cb),
      'listen(port, "", cb)': (s, cb) => s.listen(0, '', cb),
      'listen({port})': (s) => s.listen({ port: 0 }),
      'listen({port, backlog}, cb)': (s, cb) => s.listen({ port: 0, backlog: 8 }, cb),
      'http listen(port, cb)': (s, cb) => s.listen(0, cb),
      'listen(port, "0.0.0.0", cb)': (s, cb) => s.listen(0, '0.0.0.0', cb),
      'listen({port, host: "0.0.0.0"})': (s) => s.listen({ port: 0, host: '0.0.0.0' }),
      'listen(path, cb)': (s, cb) => s.listen(${JSON.stringify(socket)}, cb),
    };
    (async () => {
      const out = {};
      for (const [name, call] of Object.entries(forms)) {
        const server = name.startsWith('http') ? http.createServer() : net.createServer();
        await new Promise((done, fail) => {
          server.once('error', fail);
          let called = 0;
          server.once('listening', () => setImmediate(() => { if (name.includes('cb') && called !== 1) fail(new Error(name + ': callback not called')); else done(); }));
          call(server, () => { called += 1; });
        });
        const a = server.address();
        out[name] = typeof a === 'string' ? 'path' : a.address;
        await new Promise((done) => server.close(done));
      }
      process.stdout.write(JSON.stringify(out));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  return JSON.parse(execFileSync(process.execPath, ['--require', LOOPBACK_SHIM, '-e', script], { encoding: 'utf8', timeout: 20_000 })) as Record<string, string>;
}

describe('loopback-only.cjs', () => {
  it('binds 127.0.0.1 when no host is given, in every form of listen; leaves explicit hosts and paths alone', () => {
    const bound = boundAddresses();
    for (const form of [
      'listen()',
      'listen(cb)',
      'listen(port)',
      'listen(port, cb)',
      'listen("0", cb)',
      'listen(port, backlog, cb)',
      'listen(port, undefined, backlog, cb)',
      'listen(port, "", cb)',
      'listen({port})',
      'listen({port, backlog}, cb)',
      'http listen(port, cb)',
    ]) {
      expect(bound[form], form).toBe('127.0.0.1');
    }
    expect(bound['listen(port, "0.0.0.0", cb)']).toBe('0.0.0.0');
    expect(bound['listen({port, host: "0.0.0.0"})']).toBe('0.0.0.0');
    expect(bound['listen(path, cb)']).toBe('path');
  });

  it('without the shim the same listen binds every interface (the problem it fixes)', () => {
    const out = execFileSync(process.execPath, ['-e', "const s=require('node:net').createServer().listen(0,()=>{process.stdout.write(s.address().address);s.close()})"], { encoding: 'utf8' });
    expect(out).not.toBe('127.0.0.1');
  });
});

describe('the playground command line', () => {
  it('is node --require <absolute shim> <the package’s agentsplayground bin> …', () => {
    const require = createRequire(import.meta.url);
    const manifest = require.resolve('@microsoft/m365agentsplayground/package.json');
    const bin = (JSON.parse(readFileSync(manifest, 'utf8')) as { bin: Record<string, string> }).bin.agentsplayground!;
    expect(playgroundBin()).toBe(resolve(dirname(manifest), bin));
    expect(existsSync(playgroundBin())).toBe(true);
    const args = playgroundArgs('http://127.0.0.1:3978/', 56150);
    expect(args.slice(0, 3)).toEqual(['--require', LOOPBACK_SHIM, playgroundBin()]);
    expect(isAbsolute(LOOPBACK_SHIM) && existsSync(LOOPBACK_SHIM)).toBe(true);
    expect(args.slice(3)).toEqual(['-e', 'http://127.0.0.1:3978/api/messages', '-c', 'msteams', '-p', '56150', '--disable-telemetry']);
  });
});
