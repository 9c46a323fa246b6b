/**
 * The one HTTP server: each adapter's POST path, and `/healthz`. It knows nothing of the
 * logic behind them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { HttpAdapter } from './http-adapter.js';

export type HealthCheck = () => Promise<{ ok: boolean; checks: Record<string, string> }>;

export interface HttpServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startHttpServer(options: { host: string; port: number; adapters: HttpAdapter[]; health: HealthCheck; log: Logger }): Promise<HttpServer> {
  const routes = new Map(options.adapters.filter((a) => a.path && a.handle).map((a) => [a.path!, a]));

  async function listener(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
      const health = await options.health();
      return send(res, health.ok ? 200 : 503, { status: health.ok ? 'ok' : 'degraded', ...health.checks });
    }
    const adapter = routes.get(path);
    if (!adapter) return send(res, 404, { error: 'not found' });
    if (req.method !== 'POST') return send(res, 405, { error: 'POST only' }, { allow: 'POST' });
    await adapter.handle!(req, res);
  }

  const server = createServer((req, res) => {
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
  return {
    server,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
