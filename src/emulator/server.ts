/**
 * The emulator's HTTP server: dispatches between the token authority, the stats
 * endpoint and the `/api` surface, where every call goes through auth → rate limit →
 * injected faults → route → handler, and every answer waits the configured latency.
 */
import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { FaultQueue, TokenFaultQueue } from './faults.js';
import { GraphStub } from './graph.js';
import { ApiError, errorResult, readBody, sleep, writeResult, type ApiResult } from './http.js';
import { DEFAULT_LIMITS, RateLimiter, type Limits } from './limiter.js';
import { matchRoute, type RequestContext, type Route, type RouteMatch } from './router.js';
import { definitionRoutes } from './routes/definitions.js';
import { machineRoutes } from './routes/machines.js';
import { loadSeed, SEED } from './seed.js';
import { checkModes, EmulatorState, type ActionTimings } from './state.js';
import { StatsCollector } from './stats.js';
import { TokenAuthority, type IssuedToken } from './tokens.js';
import type { Emulator, EmulatorOptions } from './types.js';

const ROUTES: readonly Route[] = [...definitionRoutes, ...machineRoutes];
const STATS_PATH = '/_emulator/stats';

interface Config {
  port: number;
  host: string;
  limits: Limits;
  actionTimings: ActionTimings;
  latencyMs: number;
  pageSize: number;
}

function resolveConfig(options: EmulatorOptions): Config {
  const limits: Limits = options.limits
    ? { perMinute: options.limits.perMinute, perHour: options.limits.perHour, windowMs: options.limits.windowMs ?? DEFAULT_LIMITS.windowMs }
    : DEFAULT_LIMITS;
  const config: Config = {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    limits,
    actionTimings: options.actionTimings ?? { pendingMs: 2000, inProgressMs: 4000 },
    latencyMs: options.latencyMs ?? 0,
    pageSize: options.pageSize ?? 100,
  };
  const positive = { perMinute: limits.perMinute, perHour: limits.perHour, minuteWindowMs: limits.windowMs.minute, hourWindowMs: limits.windowMs.hour, pageSize: config.pageSize };
  for (const [name, value] of Object.entries(positive)) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`emulator option ${name} must be a positive integer, got ${value}`);
  }
  if (config.latencyMs < 0 || config.actionTimings.pendingMs < 0 || config.actionTimings.inProgressMs < 0) throw new RangeError('emulator latency and action timings must not be negative');
  return config;
}

class EmulatorServer {
  readonly state: EmulatorState;
  readonly stats: StatsCollector;
  readonly faults = new FaultQueue();
  readonly tokenFaults = new TokenFaultQueue();
  readonly authority: TokenAuthority;
  readonly graph: GraphStub;
  private readonly limiter: RateLimiter;
  latencyMs: number;

  constructor(
    private readonly config: Config,
    options: EmulatorOptions,
    private readonly scheme: 'http' | 'https',
  ) {
    this.state = new EmulatorState(SEED.orgId, config.actionTimings, options.appDisplayName);
    if (options.modes !== undefined) Object.assign(this.state.modes, checkModes(options.modes));
    this.graph = new GraphStub(config.pageSize);
    if (options.seed ?? true) {
      loadSeed(this.state);
      this.graph.seed();
    }
    this.stats = new StatsCollector(config.limits.windowMs);
    this.limiter = new RateLimiter(config.limits);
    this.authority = new TokenAuthority({ clientId: options.clientId, clientSecret: options.clientSecret, staticTokens: options.staticTokens });
    this.latencyMs = config.latencyMs;
  }

  /** Node's request listener: never throws, always answers. */
  readonly listener = (req: IncomingMessage, res: ServerResponse): void => {
    const requestId = randomUUID();
    this.dispatch(req, res, requestId).catch((error: unknown) => {
      writeResult(res, errorResult(500, 'InternalServerError', `The emulator failed: ${(error as Error)?.message ?? String(error)}`, requestId), requestId);
    });
  };

  private async dispatch(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://emulator.invalid');
    const segments = url.pathname.split('/').filter(Boolean);
    const baseUrl = `${this.scheme}://${req.headers.host ?? `${this.config.host}:${this.config.port}`}`;
    const method = (req.method ?? 'GET').toUpperCase();
    if (segments[0]?.toLowerCase() === 'api') {
      writeResult(res, await this.api(req, { method, url, segments: apiSegments(segments), baseUrl, requestId }), requestId);
      return;
    }
    writeResult(res, await this.nonApi(req, { method, url, segments, baseUrl, requestId }), requestId);
  }

  private async nonApi(req: IncomingMessage, r: Incoming): Promise<ApiResult> {
    if (r.url.pathname.replace(/\/$/, '') === STATS_PATH) return this.statsEndpoint(r.method);
    if (r.segments[0]?.toLowerCase() === 'v1.0') return this.graphApi(req, r);
    const tokenRoute = this.authority.isTokenRoute(r.segments);
    if (tokenRoute) this.stats.countTokenRequest();
    const body = await readBody(req);
    if (body.kind === 'too_large') return errorResult(413, 'RequestEntityTooLarge', 'The request body is larger than 1 MB.', r.requestId);
    const fault = tokenRoute && r.method === 'POST' ? this.tokenFaults.take() : null;
    if (fault?.hangMs) await sleep(fault.hangMs);
    if (fault?.status !== undefined) return TokenAuthority.failure(fault.status);
    const answer = this.authority.handle(r.segments, { method: r.method, baseUrl: r.baseUrl, query: r.url.searchParams, body: body.text });
    return answer ?? errorResult(404, 'NotFound', `Nothing is served at ${r.url.pathname}.`, r.requestId);
  }

  /** Microsoft Graph (graph.ts): the same tokens as the MDE API; no MDE quota. */
  private async graphApi(req: IncomingMessage, r: Incoming): Promise<ApiResult> {
    req.resume();
    const auth = this.authority.verify(req.headers.authorization, Date.now());
    const result = auth.ok
      ? (this.graph.handle(r.method, r.segments, r.url.searchParams, r.baseUrl) as ApiResult)
      : { status: 401, headers: { 'www-authenticate': 'Bearer' }, body: { error: { code: 'InvalidAuthenticationToken', message: auth.message } } };
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    return result;
  }

  private statsEndpoint(method: string): ApiResult {
    if (method === 'GET') return { status: 200, body: { ...this.stats.snapshot() } };
    if (method === 'DELETE') {
      this.stats.reset();
      return { status: 204 };
    }
    return { status: 405, headers: { allow: 'GET, DELETE' } };
  }

  private async api(req: IncomingMessage, r: Incoming): Promise<ApiResult> {
    this.stats.received();
    const body = await readBody(req);
    const result = body.kind === 'too_large' ? errorResult(413, 'RequestEntityTooLarge', 'The request body is larger than 1 MB.', r.requestId) : this.admitAndRoute(r, body.text, req.headers.authorization);
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    return result;
  }

  private admitAndRoute(r: Incoming, bodyText: string, authorization: string | undefined): ApiResult {
    const now = Date.now();
    const auth = this.authority.verify(authorization, now);
    if (!auth.ok) {
      this.stats.countUnauthorized();
      return errorResult(401, 'Unauthorized', auth.message, r.requestId, { 'www-authenticate': 'Bearer' });
    }
    const match = matchRoute(ROUTES, r.method, r.segments);
    const throttle = this.limiter.tryAcquire(now);
    if (throttle !== null) {
      this.stats.countThrottled();
      const seconds = String(throttle.retryAfterSeconds);
      return errorResult(429, 'TooManyRequests', `Rate limit is exceeded. Try again in ${seconds} seconds.`, r.requestId, { 'retry-after': seconds });
    }
    this.stats.served(match.key, now);
    const fault = this.faults.take(r.url.pathname, match.key);
    if (fault !== null) {
      this.stats.countFault();
      if (fault.revokeTokens) this.authority.revokeAll();
      if (fault.afterWrite) this.route(match, { r, bodyText, client: auth.token, now });
      return errorResult(fault.status, fault.code, fault.message, r.requestId, fault.headers);
    }
    return this.route(match, { r, bodyText, client: auth.token, now });
  }

  private route(match: RouteMatch, call: { r: Incoming; bodyText: string; client: IssuedToken; now: number }): ApiResult {
    const { r } = call;
    if (match.kind === 'none') return errorResult(404, 'NotFound', `No API matches ${r.method} ${r.url.pathname}.`, r.requestId);
    if (match.kind === 'wrong_method') {
      return errorResult(405, 'MethodNotAllowed', `${r.method} is not allowed on ${r.url.pathname}; allowed: ${match.allow.join(', ')}.`, r.requestId, { allow: match.allow.join(', ') });
    }
    const ctx: RequestContext = {
      requestId: r.requestId,
      // MDE writes links with its own idea of its host, not the one the caller used.
      baseUrl: this.state.modes.linkOrigin ?? r.baseUrl,
      pathname: r.url.pathname,
      query: r.url.searchParams,
      params: match.params,
      bodyText: call.bodyText,
      client: call.client,
      state: this.state,
      pageSize: this.config.pageSize,
      now: call.now + this.state.modes.clockOffsetMs,
    };
    try {
      return match.route.handler(ctx);
    } catch (error) {
      if (error instanceof ApiError) return errorResult(error.status, error.code, error.message, r.requestId, error.headers);
      return errorResult(500, 'InternalServerError', `The emulator failed: ${(error as Error)?.message ?? String(error)}`, r.requestId);
    }
  }
}

interface Incoming {
  method: string;
  url: URL;
  segments: string[];
  baseUrl: string;
  requestId: string;
}

/** `/api/v1.0/x` and `/api/x` are the same API. */
function apiSegments(segments: string[]): string[] {
  const rest = segments.slice(1);
  return rest[0]?.toLowerCase() === 'v1.0' ? rest.slice(1) : rest;
}

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const config = resolveConfig(options);
  const scheme = options.tls ? 'https' : 'http';
  const emulator = new EmulatorServer(config, options, scheme);
  const server: Server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, emulator.listener) : http.createServer(emulator.listener);
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
  });
  const address = await listen(server, config.port, config.host);
  let closing: Promise<void> | undefined;
  return {
    url: `${scheme}://${urlHost(config.host)}:${address.port}`,
    state: emulator.state,
    stats: () => emulator.stats.snapshot(),
    resetStats: () => emulator.stats.reset(),
    setLatency: (ms) => {
      if (!(ms >= 0)) throw new RangeError(`latency must be a non-negative number, got ${ms}`);
      emulator.latencyMs = ms;
    },
    injectFault: (fault) => emulator.faults.add(fault),
    setModes: (modes) => {
      Object.assign(emulator.state.modes, checkModes(modes));
    },
    injectTokenFault: (fault) => emulator.tokenFaults.add(fault),
    graph: emulator.graph,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
