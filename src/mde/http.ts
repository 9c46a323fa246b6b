/**
 * The one place that sends HTTP to MDE: bearer token, rate limiter, retries and error
 * mapping. A 429 waits its Retry-After and goes through the limiter again, so retries are
 * counted; 5xx and network errors get bounded retries with backoff (only where a repeat
 * cannot do the work twice); any other 4xx becomes an MdeError carrying MDE's message.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import { StoreUnavailableError } from '../errors.js';
import { MdeErrorBodySchema } from './entities.js';
import { MdeError } from './errors.js';
import type { Limiter } from './limiter.js';
import { permissionsFor } from './permissions.js';
import type { TokenProvider } from './token.js';

export interface RetryPolicy {
  /** Attempts in all when MDE answers 429. */
  throttledAttempts: number;
  /** Attempts in all on 5xx or a network error. */
  failureAttempts: number;
  /** First backoff delay; doubled each time, with jitter. */
  backoffMs: number;
  /** The longest Retry-After we are willing to wait for one call. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { throttledAttempts: 5, failureAttempts: 3, backoffMs: 500, maxRetryAfterMs: 120_000 };

export interface HttpOptions {
  baseUrl: string;
  tokens: TokenProvider;
  limiter: Limiter;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  log?: Logger;
  /** Told of every attempt (metrics, readiness): its status, or `network`; `retry` when another attempt follows. */
  observe?: (call: { method: string; path: string; status: number | 'network'; seconds: number; retry: boolean }) => void;
}

export interface CallSpec<T extends z.ZodType> {
  method: 'GET' | 'POST' | 'PATCH';
  /** A path below the base URL (`/api/...`), or an absolute URL (a nextLink: sent by its path and query to the base URL). */
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  /** Response schema; omit for calls whose answer body is not read. */
  schema?: T;
  /** Whether a repeat after an unclear failure (5xx, timeout) is harmless. */
  idempotent: boolean;
  /** Statuses that are answers, not errors (e.g. 404 for "not found" lookups). */
  passStatuses?: number[];
  /** Goes ahead of the calls waiting in the limiter (a listing's next page). Retries always do. */
  urgent?: boolean;
  /** Bulk work: waits behind interactive calls, within the limiter's background share. */
  background?: boolean;
}

export interface CallResult<T> {
  status: number;
  data: T | undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function createHttp(options: HttpOptions) {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const base = new URL(options.baseUrl.replace(/\/+$/, '') + '/');
  const timeoutMs = options.timeoutMs ?? 30_000;

  function urlFor(path: string, query: CallSpec<z.ZodType>['query']): URL {
    const url = /^https?:\/\//i.test(path) ? onBase(new URL(path)) : new URL(path.replace(/^\/+/, ''), base);
    if (url.origin !== base.origin) {
      throw new MdeError('bad_response', `MDE pointed to another host (${url.host}); the request was not sent.`);
    }
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /**
   * MDE writes nextLinks with its own idea of its host (the docs show `https://localhost:1059/…`;
   * regional and legacy hosts differ): keep the link's path and query, send it to the
   * configured base, so the token never goes to another host.
   */
  function onBase(link: URL): URL {
    if (link.origin === base.origin) return link;
    const prefix = base.pathname.replace(/\/+$/, '');
    const path = prefix !== '' && link.pathname.startsWith(`${prefix}/`) ? link.pathname : `${prefix}${link.pathname}`;
    return new URL(`${base.origin}${path}${link.search}`);
  }

  /**
   * The token is read once the limiter lets the call go: a call can wait long enough for it
   * to expire. `forceRefresh`: MDE refused the cached token, get a new one.
   */
  async function attempt(spec: CallSpec<z.ZodType>, url: URL, forceRefresh: boolean, urgent: boolean): Promise<Response> {
    return options.limiter.schedule(async () =>
      fetch(url, {
        method: spec.method,
        headers: {
          authorization: `Bearer ${await options.tokens.getToken(forceRefresh ? { forceRefresh: true } : undefined)}`,
          accept: 'application/json',
          ...(spec.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: AbortSignal.timeout(timeoutMs),
      }),
      urgent ? { urgent: true } : spec.background ? { background: true } : undefined,
    );
  }

  async function call<T extends z.ZodType>(spec: CallSpec<T>): Promise<CallResult<z.output<T>>> {
    const url = urlFor(spec.path, spec.query);
    const what = `${spec.method} ${url.pathname}`;
    let throttled = 0;
    let failures = 0;
    // A 401 means the token was refused before MDE did anything: one retry with a new token.
    let tokenRefreshed = false;
    let forceRefresh = false;
    for (;;) {
      let response: Response;
      const started = performance.now();
      const note = (status: number | 'network', retried: boolean) =>
        options.observe?.({ method: spec.method, path: url.pathname, status, seconds: (performance.now() - started) / 1000, retry: retried });
      try {
        const fresh = forceRefresh;
        forceRefresh = false;
        // A retry was admitted once already: it does not queue behind calls that came later.
        response = await attempt(spec, url, fresh, spec.urgent === true || throttled + failures > 0 || tokenRefreshed);
      } catch (error) {
        // Our own refusals (and a shared limiter that cannot reach Redis: nothing was sent) are not network errors.
        if (error instanceof MdeError || error instanceof StoreUnavailableError) throw error;
        failures += 1;
        const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
        const again = failures < retry.failureAttempts && (spec.idempotent || refused);
        note('network', again);
        if (again) {
          options.log?.warn({ call: what, attempt: failures, err: String(error) }, 'MDE call failed; retrying');
          await sleep(backoff(retry.backoffMs, failures));
          continue;
        }
        throw new MdeError('unavailable', `MDE could not be reached (${what}): ${networkReason(error)}.`);
      }

      if (response.status === 401 && !tokenRefreshed) {
        tokenRefreshed = true;
        forceRefresh = true;
        await response.body?.cancel();
        options.log?.warn({ call: what }, 'MDE refused the access token (401); retrying once with a new token');
        continue;
      }

      if (response.status === 429) {
        throttled += 1;
        const waitMs = retryAfterMs(response.headers.get('retry-after'));
        await response.body?.cancel();
        const again = throttled < retry.throttledAttempts && waitMs <= retry.maxRetryAfterMs;
        note(429, again);
        if (again) {
          options.log?.warn({ call: what, waitMs }, 'MDE throttled the call; waiting Retry-After');
          await sleep(waitMs);
          continue;
        }
        throw new MdeError('throttled', 'MDE is throttling this app (too many requests); try again in a minute.', { status: 429 });
      }

      if (response.status >= 500) {
        failures += 1;
        const retryable = spec.idempotent;
        const body = await readError(response);
        const again = failures < retry.failureAttempts && retryable;
        note(response.status, again);
        if (again) {
          options.log?.warn({ call: what, status: response.status, attempt: failures }, 'MDE failed; retrying');
          await sleep(backoff(retry.backoffMs, failures));
          continue;
        }
        throw new MdeError('unavailable', `MDE failed to answer ${what} (HTTP ${response.status}${body.code ? `, ${body.code}` : ''}); try again later.`, { status: response.status, ...body });
      }

      note(response.status, false);
      if (response.ok || spec.passStatuses?.includes(response.status)) {
        return { status: response.status, data: await readBody(response, spec, what) };
      }
      throw clientError(response.status, await readError(response), what);
    }
  }

  return { call };
}

export type Http = ReturnType<typeof createHttp>;

async function readBody<T extends z.ZodType>(response: Response, spec: CallSpec<T>, what: string): Promise<z.output<T> | undefined> {
  const text = await response.text();
  if (!spec.schema || !response.ok) return undefined;
  let json: unknown;
  try {
    json = text.length === 0 ? {} : JSON.parse(text);
  } catch {
    throw new MdeError('bad_response', `MDE answered ${what} with something that is not JSON.`, { status: response.status });
  }
  const parsed = spec.schema.safeParse(json);
  if (!parsed.success) {
    throw new MdeError('bad_response', `MDE answered ${what} in a shape the bot cannot read.`, { status: response.status });
  }
  return parsed.data;
}

async function readError(response: Response): Promise<{ code?: string; message?: string; target?: string }> {
  try {
    const parsed = MdeErrorBodySchema.safeParse(JSON.parse(await response.text()));
    if (!parsed.success) return {};
    const { code, message, target } = parsed.data.error;
    return { code: code ?? undefined, message: message ?? undefined, target: target ?? undefined };
  } catch {
    return {};
  }
}

function clientError(status: number, body: { code?: string; message?: string; target?: string }, what: string): MdeError {
  const details = { status, ...body };
  if (status === 401) {
    return new MdeError('auth', 'MDE refused the access token (401): check MDE_TENANT_ID, MDE_CLIENT_ID and MDE_SCOPE.', details);
  }
  if (status === 403) {
    const [method = '', path = ''] = what.split(' ');
    const needs = permissionsFor(method, path) ?? 'Machine.Read.All';
    return new MdeError('api', `MDE refused ${what} (403${body.code ? ` ${body.code}` : ''}): this call needs the application permission ${needs}, with admin consent${body.message ? `. MDE said: "${body.message}"` : ''}.`, details);
  }
  if (status === 404) {
    return new MdeError('not_found', body.message ? `MDE: ${body.message}` : `Not found (${what}).`, details);
  }
  const said = body.message ?? `HTTP ${status}`;
  return new MdeError('api', `MDE refused the request: ${said}${body.code ? ` (${body.code})` : ''}`, details);
}

/** Retry-After in seconds or as an HTTP date; 1 s when absent or unreadable. */
export function retryAfterMs(header: string | null): number {
  if (header === null) return 1000;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.max(seconds * 1000, 100);
  const date = Date.parse(header);
  return Number.isNaN(date) ? 1000 : Math.max(date - Date.now(), 100);
}

function backoff(baseMs: number, attempt: number): number {
  const exp = baseMs * 2 ** (attempt - 1);
  return exp / 2 + Math.random() * (exp / 2);
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  if ((error as { name?: string }).name === 'TimeoutError') return 'no answer in time';
  return cause?.code ?? (error instanceof Error ? error.message : 'network error');
}
