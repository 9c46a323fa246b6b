/**
 * Closing the HTTP server: new connections are refused at once, requests already running
 * finish within the grace period, and connections still busy after it are dropped.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';
import { startHttpServer } from '../../src/server.js';

const log = createLogger('silent');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function slowAdapter(ms: number) {
  return {
    name: 'slow',
    path: '/slow',
    async handle(_req: IncomingMessage, res: ServerResponse) {
      await sleep(ms);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('done');
    },
  };
}

/** Resolves true when a TCP connection to the URL's port is accepted. */
function accepts(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const ready = async () => ({ ok: true, checks: {} });

describe('HTTP server shutdown', () => {
  it('stops accepting at once and lets a running request finish', async () => {
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, adapters: [slowAdapter(400)], ready, log });
    const running = fetch(`${server.url}/slow`, { method: 'POST' });
    await sleep(100);
    expect(server.active()).toBe(1);
    const started = Date.now();
    const closed = server.close(5000);
    await sleep(20);
    expect(await accepts(server.url)).toBe(false);
    const res = await running;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('done');
    await closed;
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('drops what is still running after the grace period', async () => {
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, adapters: [slowAdapter(10_000)], ready, log });
    const running = fetch(`${server.url}/slow`, { method: 'POST' }).then(
      (r) => r.status,
      () => 'dropped',
    );
    await sleep(100);
    const started = Date.now();
    await server.close(300);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await running).toBe('dropped');
  });

  it('closes idle keep-alive connections without waiting for the grace period', async () => {
    const server = await startHttpServer({ host: '127.0.0.1', port: 0, adapters: [], ready, log });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200); // leaves a keep-alive connection
    const started = Date.now();
    await server.close(10_000);
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
