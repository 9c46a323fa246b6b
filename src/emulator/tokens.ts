/**
 * The emulator as its tenant's token authority: OpenID configuration, instance
 * discovery, signing keys and a client-credentials token endpoint, enough for MSAL node
 * to run its real code path against it. Tokens are opaque to the emulator's API side:
 * it only checks that it issued them and that they have not expired.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { ApiResult, Json } from './http.js';

export const TOKEN_LIFETIME_SECONDS = 3599;
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TENANT_SEGMENT = /^[A-Za-z0-9._-]+$/;

export interface TokenAuthorityOptions {
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  /** Tokens accepted without expiry: the in-process emulator of demo mode hands one to the bot. */
  staticTokens?: readonly string[] | undefined;
}

export interface IssuedToken {
  clientId: string;
  tenant: string;
  expiresAt: number;
}

export type TokenCheck = { ok: true; token: IssuedToken } | { ok: false; message: string };

interface Route {
  method: 'GET' | 'POST';
  match: (segments: string[]) => string | null; // the tenant, or null
  answer: (tenant: string, ctx: AuthorityRequest) => ApiResult;
}

export interface AuthorityRequest {
  method: string;
  baseUrl: string;
  query: URLSearchParams;
  body: string;
}

export class TokenAuthority {
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly routes: Route[] = [
    { method: 'GET', match: (s) => (s.length === 3 && s[0]?.toLowerCase() === 'common' && s[1] === 'discovery' && s[2] === 'instance' ? 'common' : null), answer: (_t, c) => instanceDiscovery(c) },
    { method: 'GET', match: (s) => tenantOf(s, ['v2.0', '.well-known', 'openid-configuration']), answer: (t, c) => ({ status: 200, body: openIdConfiguration(c.baseUrl, t) }) },
    { method: 'GET', match: (s) => tenantOf(s, ['discovery', 'v2.0', 'keys']), answer: () => ({ status: 200, body: { keys: [] } }) },
    { method: 'POST', match: (s) => tenantOf(s, ['oauth2', 'v2.0', 'token']), answer: (t, c) => this.issue(t, c.body) },
  ];

  constructor(private readonly options: TokenAuthorityOptions) {
    for (const token of options.staticTokens ?? []) this.tokens.set(token, { clientId: 'in-process', tenant: 'demo', expiresAt: Number.POSITIVE_INFINITY });
  }

  /** Answers an authority route, or returns null when the path is not one. */
  handle(segments: string[], request: AuthorityRequest): ApiResult | null {
    const hits = this.routes.flatMap((route) => {
      const tenant = route.match(segments);
      return tenant === null ? [] : [{ route, tenant }];
    });
    if (hits.length === 0) return null;
    const hit = hits.find((h) => h.route.method === request.method);
    if (hit === undefined) return { status: 405, headers: { allow: hits.map((h) => h.route.method).join(', ') }, body: aadError('invalid_request', 900561, 'The endpoint only accepts ' + hits.map((h) => h.route.method).join(', ') + ' requests.') };
    return hit.route.answer(hit.tenant, request);
  }

  isTokenRoute(segments: string[]): boolean {
    return tenantOf(segments, ['oauth2', 'v2.0', 'token']) !== null;
  }

  /** Every token issued so far stops being accepted (the static tokens of demo mode stay). */
  revokeAll(): void {
    for (const [token, info] of this.tokens) if (info.expiresAt !== Number.POSITIVE_INFINITY) this.tokens.delete(token);
  }

  /** An AAD error answer for a token request (injected faults). */
  static failure(status: number): ApiResult {
    return aad(status, status >= 500 ? 'temporarily_unavailable' : 'invalid_request', status >= 500 ? 50_000 + (status % 100) : 900_000 + status, `Injected fault: the token endpoint answers ${status}.`);
  }

  /** Checks an `Authorization` header value. */
  verify(authorization: string | undefined, now = Date.now()): TokenCheck {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (match?.[1] === undefined) return { ok: false, message: 'Authorization header with a Bearer token is required.' };
    const token = this.tokens.get(match[1]);
    if (token === undefined) return { ok: false, message: 'The access token is invalid: it was not issued by this token authority.' };
    if (token.expiresAt <= now) return { ok: false, message: 'The access token has expired.' };
    return { ok: true, token };
  }

  private issue(tenant: string, body: string): ApiResult {
    const form = new URLSearchParams(body);
    const refusal = this.refusal(form);
    if (refusal !== null) return refusal;
    const clientId = form.get('client_id') ?? '';
    const now = Date.now();
    this.pruneExpired(now);
    const accessToken = makeAccessToken(clientId, tenant, resourceOf(form.get('scope') ?? ''), now);
    this.tokens.set(accessToken, { clientId, tenant, expiresAt: now + TOKEN_LIFETIME_SECONDS * 1000 });
    return {
      status: 200,
      headers: { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' },
      body: { token_type: 'Bearer', expires_in: TOKEN_LIFETIME_SECONDS, ext_expires_in: TOKEN_LIFETIME_SECONDS, access_token: accessToken },
    };
  }

  /** The AAD answer refusing this token request, or null when it is acceptable. */
  private refusal(form: URLSearchParams): ApiResult | null {
    const missing = ['grant_type', 'client_id', 'scope'].find((name) => !form.get(name));
    if (missing !== undefined) return aad(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${missing}'.`);
    if (form.get('grant_type') !== 'client_credentials') return aad(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type; this token authority only issues client_credentials tokens.');
    const clientId = form.get('client_id') ?? '';
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    if (!scopes.some((s) => s.endsWith('/.default'))) return aad(400, 'invalid_scope', 1002012, `The provided value for scope ${scopes.join(' ')} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`);
    if (this.options.clientId !== undefined && clientId !== this.options.clientId) return aad(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`);
    return this.credentialRefusal(form, clientId);
  }

  private credentialRefusal(form: URLSearchParams, clientId: string): ApiResult | null {
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (this.options.clientSecret !== undefined) {
      if (secret === this.options.clientSecret) return null;
      return aad(401, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`);
    }
    if (secret) return null;
    if (assertion) {
      if (form.get('client_assertion_type') === JWT_BEARER && isJwtShaped(assertion)) return null;
      return aad(401, 'invalid_client', 50027, 'JWT token is invalid or malformed (client_assertion with client_assertion_type jwt-bearer expected).');
    }
    return aad(401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
  }

  private pruneExpired(now: number): void {
    for (const [token, info] of this.tokens) if (info.expiresAt <= now) this.tokens.delete(token);
  }
}

/** `/{tenant}/<rest...>` → the tenant, or null. */
function tenantOf(segments: string[], rest: string[]): string | null {
  if (segments.length !== rest.length + 1) return null;
  const [tenant, ...tail] = segments;
  if (tenant === undefined || !TENANT_SEGMENT.test(tenant)) return null;
  return tail.every((s, i) => s.toLowerCase() === rest[i]?.toLowerCase()) ? tenant : null;
}

function aadError(error: string, code: number, description: string): Json {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return {
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  };
}

function aad(status: number, error: string, code: number, description: string): ApiResult {
  return { status, body: aadError(error, code, description) };
}

export function openIdConfiguration(baseUrl: string, tenant: string): Json {
  const root = `${baseUrl}/${tenant}`;
  return {
    token_endpoint: `${root}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${root}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${root}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${baseUrl}/oidc/userinfo`,
    authorization_endpoint: `${root}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${root}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${root}/oauth2/v2.0/logout`,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'appid', 'roles'],
    tenant_region_scope: null,
    cloud_instance_name: new URL(baseUrl).host,
    cloud_graph_host_name: new URL(baseUrl).host,
    msgraph_host: new URL(baseUrl).host,
    rbac_url: baseUrl,
  };
}

function instanceDiscovery(request: AuthorityRequest): ApiResult {
  const host = new URL(request.baseUrl).host;
  let tenant = 'common';
  const authorize = request.query.get('authorization_endpoint');
  if (authorize) {
    try {
      tenant = new URL(authorize).pathname.split('/').filter(Boolean)[0] ?? tenant;
    } catch {
      // a malformed hint keeps the default tenant
    }
  }
  return {
    status: 200,
    body: {
      tenant_discovery_endpoint: `${request.baseUrl}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    },
  };
}

function resourceOf(scope: string): string {
  const first = scope.split(' ').find((s) => s.endsWith('/.default')) ?? scope;
  return first.replace(/\/\.default$/, '');
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

function isJwtShaped(value: string): boolean {
  const parts = value.split('.');
  if (parts.length !== 3) return false;
  try {
    JSON.parse(Buffer.from(parts[0] ?? '', 'base64url').toString('utf8'));
    JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Shaped like an Entra access token so tools that peek at claims see sensible ones; not signed. */
function makeAccessToken(clientId: string, tenant: string, audience: string, now: number): string {
  const iat = Math.floor(now / 1000);
  const header = { typ: 'JWT', alg: 'RS256', kid: 'mde-emulator' };
  const payload = {
    aud: audience,
    iss: `https://sts.windows.net/${tenant}/`,
    iat,
    nbf: iat,
    exp: iat + TOKEN_LIFETIME_SECONDS,
    appid: clientId,
    tid: tenant,
    roles: ['Machine.Read.All', 'Machine.ReadWrite.All', 'Machine.Scan'],
    ver: '1.0',
    jti: randomUUID(),
  };
  return `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}.${base64url(randomBytes(32))}`;
}
