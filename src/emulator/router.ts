/** Route table of the emulated `/api` surface: matching, endpoint keys, handler context. */
import type { z } from 'zod';
import { describeIssues } from '../mde/requests.js';
import { ApiError, parseJsonBody, type ApiResult } from './http.js';
import type { EmulatorState } from './state.js';
import type { IssuedToken } from './tokens.js';

export interface RequestContext {
  requestId: string;
  baseUrl: string;
  pathname: string;
  query: URLSearchParams;
  params: Record<string, string>;
  bodyText: string;
  client: IssuedToken;
  state: EmulatorState;
  pageSize: number;
  now: number;
}

export type Handler = (ctx: RequestContext) => ApiResult;

export interface Route {
  method: 'GET' | 'POST' | 'PATCH';
  /** Below `/api`, with `{name}` for a parameter segment, e.g. `/machines/{id}`. */
  path: string;
  handler: Handler;
}

export type RouteMatch =
  | { kind: 'match'; route: Route; params: Record<string, string>; key: string }
  | { kind: 'wrong_method'; allow: string[]; key: string }
  | { kind: 'none'; key: string };

/** `GET /api/machines/{id}`: the stable name of an endpoint in the statistics. */
export function endpointKey(method: string, route: Route): string {
  return `${method} /api${route.path}`;
}

/** Literal segments match case-insensitively; a literal beats a parameter. */
export function matchRoute(routes: readonly Route[], method: string, segments: readonly string[]): RouteMatch {
  const hits = routes
    .map((route) => ({ route, params: matchSegments(route.path, segments) }))
    .filter((hit): hit is { route: Route; params: Record<string, string> } => hit.params !== null)
    .sort((a, b) => Object.keys(a.params).length - Object.keys(b.params).length);
  const hit = hits.find((h) => h.route.method === method);
  if (hit !== undefined) return { kind: 'match', route: hit.route, params: hit.params, key: endpointKey(method, hit.route) };
  const first = hits[0];
  if (first !== undefined) return { kind: 'wrong_method', allow: [...new Set(hits.map((h) => h.route.method))], key: endpointKey(method, first.route) };
  return { kind: 'none', key: `${method} /api/(unknown)` };
}

function matchSegments(pattern: string, segments: readonly string[]): Record<string, string> | null {
  const parts = pattern.split('/').filter(Boolean);
  if (parts.length !== segments.length) return null;
  const params: Record<string, string> = {};
  for (const [i, part] of parts.entries()) {
    const segment = segments[i] ?? '';
    const param = /^\{(\w+)\}$/.exec(part);
    if (param?.[1] !== undefined) params[param[1]] = segment;
    else if (part.toLowerCase() !== segment.toLowerCase()) return null;
  }
  return params;
}

/** Parses the JSON body and validates it with one of the request schemas of src/mde. */
export function validBody<S extends z.ZodType>(schema: S, body: unknown, tooBigCode?: string): z.output<S> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const tooBig = tooBigCode !== undefined && result.error.issues.some((i) => i.code === 'too_big' && i.path.length === 1);
  throw new ApiError(400, tooBig ? tooBigCode : 'InvalidInput', describeIssues(result.error).join('; '));
}

export function jsonBody(ctx: RequestContext): unknown {
  return parseJsonBody(ctx.bodyText);
}

export function param(ctx: RequestContext, name: string): string {
  const raw = ctx.params[name] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'BadRequest', `The path segment "${raw}" is not valid percent-encoding.`);
  }
}

export function odataContext(ctx: RequestContext, suffix: string): string {
  return `${ctx.baseUrl}/api/$metadata#${suffix}`;
}
