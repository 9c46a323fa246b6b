/**
 * The HTTP server: each adapter's POST path, the probes (`/healthz` liveness, `/readyz`
 * readiness) and, when given, `/metrics`. It knows nothing of the logic behind them. The
 * same function serves the separate metrics port (no adapters there).
 *
 * Closing stops accepting connections at once, lets requests already running finish
 * (up to a grace period), then drops every connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { sawRequest } from './after-io.js';
import type { HttpAdapter } from './http-adapter.js';

export type HealthCheck = () => Promise<{ ok: boolean; checks: Record<string, string> }>;
export type MetricsRender = () => Promise<{ contentType: string; body: string }>;

export interface HttpServerOptions {
  host: string;
  port: number;
  adapters: HttpAdapter[];
  /** `/readyz`: what must work for the bot to take traffic. */
  ready: HealthCheck;
  /** Serves `/metrics` when given. */
  metrics?: MetricsRender;
  /** Serves `/downloads/<token>` (audit export links) when given. */
  downloads?: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  log: Logger;
}

export interface HttpServer {
  server: Server;
  url: string;
  /** Requests being answered now. */
  active(): number;
  /** Stops accepting, waits up to `graceMs` for running requests, then closes every connection. */
  close(graceMs?: number): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const routes = new Map(options.adapters.filter((a) => a.path && a.handle).map((a) => [a.path!, a]));
  let active = 0;
  let closing = false;

  async function listener(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (path === '/healthz' && read) {
      // Liveness: the process answers. Nothing else is checked, so a slow MDE never gets the bot restarted.
      return send(res, 200, { status: 'ok' });
    }
    if (path === '/readyz' && read) {
      if (closing) return send(res, 503, { status: 'stopping' });
      const ready = await options.ready();
      return send(res, ready.ok ? 200 : 503, { status: ready.ok ? 'ok' : 'degraded', ...ready.checks });
    }
    if (path === '/metrics' && options.metrics && read) {
      const { contentType, body } = await options.metrics();
      res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      return res.end(req.method === 'HEAD' ? undefined : body);
    }
    if (options.downloads && path.startsWith('/downloads/')) return options.downloads(req, res);
    const adapter = routes.get(path);
    if (!adapter) return send(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { error: 'POST only' }, { allow: 'POST' });
    await adapter.handle!(req, res);
  }

  let drained: (() => void) | undefined;
  const server = createServer((req, res) => {
    active += 1;
    sawRequest();
    // While closing, answers end their connection instead of keeping it alive.
    if (closing) res.shouldKeepAlive = false;
    res.once('close', () => {
      active -= 1;
      if (closing && active === 0) drained?.();
    });
    listener(req, res).catch((error) => {
      options.log.error({ err: (error as Error).message, path: req.url }, 'request failed');
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed: Promise<void> | undefined;
  return {
    server,
    url: `http://${host}:${port}`,
    active: () => active,
    close(graceMs = 0) {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        server.close(() => resolve());
        server.closeIdleConnections();
        const dropAll = () => {
          clearTimeout(timer);
          server.closeAllConnections();
        };
        const timer = setTimeout(() => {
          if (active > 0) options.log.warn({ requests: active }, 'shutdown: requests still running after the grace period; closing their connections');
          dropAll();
        }, graceMs);
        timer.unref();
        drained = dropAll;
        if (active === 0) dropAll();
      });
      return closed;
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
