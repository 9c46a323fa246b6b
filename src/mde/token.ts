/**
 * Access tokens for the MDE API: MSAL client credentials with a secret or a certificate.
 * One ConfidentialClientApplication per (authority, client) so MSAL's own cache serves
 * repeated calls and refreshes ahead of expiry; no second cache is kept here.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { MdeError } from './errors.js';

export interface TokenRequest {
  /** Skip the cached token and ask the authority for a new one (MDE refused the cached one: 401). */
  forceRefresh?: boolean;
}

export interface TokenProvider {
  getToken(request?: TokenRequest): Promise<string>;
}

/** How long one token request may take before the call fails with a clear message. */
export const DEFAULT_TOKEN_TIMEOUT_MS = 20_000;

export interface MsalTokenOptions {
  tenantId: string;
  clientId: string;
  clientSecret?: string;
  /** PEM file holding the certificate and its private key. */
  certificatePath?: string;
  authorityHost: string;
  scope: string;
  /** Time limit for one token request (MDE_TOKEN_TIMEOUT_SECONDS); default 20 s. */
  timeoutMs?: number;
}

/** Entra hosts MSAL knows by itself; any other host is trusted as given. */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.microsoftonline.de',
  'login.partner.microsoftonline.cn',
  'login.chinacloudapi.cn',
  'login.windows.net',
  'login.microsoft.com',
  'sts.windows.net',
]);

const applications = new Map<string, ConfidentialClientApplication>();

/**
 * Tokens from MSAL's cache, refreshed by MSAL ahead of expiry. `forceRefresh` skips the
 * cache (MSAL's `skipCache`) and the new token replaces the cached one; concurrent forced
 * refreshes share one request. Every request is bounded by `timeoutMs`: a token endpoint
 * that does not answer fails that call with a clear message, and each call waits on its
 * own request, so one stuck request holds up no other command.
 */
export function msalTokenProvider(options: MsalTokenOptions): TokenProvider {
  const app = applicationFor(options);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOKEN_TIMEOUT_MS;
  let refreshing: Promise<string> | undefined;

  async function acquire(skipCache: boolean): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(tokenTimeout(options, timeoutMs)), timeoutMs);
    });
    try {
      const request = app.acquireTokenByClientCredential({ scopes: [options.scope], ...(skipCache ? { skipCache: true } : {}) });
      // The request left behind by a timeout is not awaited: its failure must not surface later.
      request.catch(() => undefined);
      const result = await Promise.race([request, timeout]);
      if (!result?.accessToken) throw new MdeError('auth', `The token authority returned no access token for scope ${options.scope}.`);
      return result.accessToken;
    } catch (error) {
      if (error instanceof MdeError) throw error;
      throw explainTokenFailure(error, options);
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    getToken(request: TokenRequest = {}) {
      if (!request.forceRefresh) return acquire(false);
      refreshing ??= acquire(true).finally(() => {
        refreshing = undefined;
      });
      return refreshing;
    },
  };
}

function tokenTimeout(options: MsalTokenOptions, timeoutMs: number): MdeError {
  const seconds = Number((timeoutMs / 1000).toFixed(1));
  return new MdeError('auth', `Could not get an MDE access token: the authority ${new URL(options.authorityHost).origin} did not answer within ${seconds} s (MDE_AUTHORITY_HOST, network); try again later.`);
}

function applicationFor(options: MsalTokenOptions): ConfidentialClientApplication {
  const host = new URL(options.authorityHost);
  const authority = `${host.origin}/${options.tenantId}`;
  const key = `${authority}|${options.clientId}|${options.certificatePath ?? 'secret'}`;
  let app = applications.get(key);
  if (!app) {
    const auth: Configuration['auth'] = { clientId: options.clientId, authority };
    if (options.certificatePath) auth.clientCertificate = readCertificate(options.certificatePath);
    else auth.clientSecret = options.clientSecret;
    if (!MICROSOFT_AUTHORITY_HOSTS.has(host.hostname.toLowerCase())) auth.knownAuthorities = [host.host];
    app = new ConfidentialClientApplication({ auth });
    applications.set(key, app);
  }
  return app;
}

/** Reads a PEM holding both the certificate and its private key. */
export function readCertificate(path: string): { thumbprintSha256: string; privateKey: string; x5c: string } {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch {
    throw new MdeError('auth', `MDE_CLIENT_CERT_PATH: cannot read the certificate file ${path}.`);
  }
  const certPem = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)?.[0];
  const keyPem = pem.match(/-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----[\s\S]+?-----END (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/)?.[0];
  if (!certPem || !keyPem) {
    throw new MdeError('auth', `MDE_CLIENT_CERT_PATH: ${path} must be a PEM file holding both the certificate and its private key.`);
  }
  const cert = new X509Certificate(certPem);
  const privateKey = createPrivateKey(keyPem).export({ format: 'pem', type: 'pkcs8' }).toString();
  return { thumbprintSha256: cert.fingerprint256.replaceAll(':', ''), privateKey, x5c: certPem };
}

const AADSTS_HINTS: Array<[RegExp, (o: MsalTokenOptions) => string]> = [
  [/AADSTS7000215|AADSTS7000222|invalid_client_secret/i, () => 'the client secret is wrong or has expired (MDE_CLIENT_SECRET)'],
  [/AADSTS700027|AADSTS700024|AADSTS1000502/i, () => 'the certificate is not registered on the app or is not valid (MDE_CLIENT_CERT_PATH)'],
  [/AADSTS700016/i, (o) => `the application ${o.clientId} is not known in tenant ${o.tenantId} (MDE_CLIENT_ID, MDE_TENANT_ID)`],
  [/AADSTS90002|AADSTS900023|tenant.*not found|invalid_tenant/i, (o) => `the tenant ${o.tenantId} was not found (MDE_TENANT_ID)`],
  [/AADSTS70011|AADSTS500011|AADSTS1002012|invalid_scope|invalid_resource/i, (o) => `the scope ${o.scope} is not valid for this tenant (MDE_SCOPE)`],
  [/AADSTS7000218|invalid_client/i, () => 'the client credential was refused (MDE_CLIENT_SECRET or MDE_CLIENT_CERT_PATH)'],
  [/ENOTFOUND|ECONNREFUSED|ETIMEDOUT|ECONNRESET|network|fetch failed|certificate|self.signed/i, (o) => `the authority ${o.authorityHost} could not be reached (MDE_AUTHORITY_HOST, network or TLS trust)`],
];

/** Turns an MSAL failure into one line naming the likely cause; the MSAL stack stays out. */
export function explainTokenFailure(error: unknown, options: MsalTokenOptions): MdeError {
  const text = describe(error);
  const hint = AADSTS_HINTS.find(([pattern]) => pattern.test(text))?.[1](options) ?? 'check the tenant, client id, credential and scope';
  const aadsts = text.match(/AADSTS\d+/)?.[0];
  return new MdeError('auth', `Could not get an MDE access token: ${hint}.${aadsts ? ` (${aadsts})` : ''}`);
}

function describe(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { errorCode?: unknown; errorMessage?: unknown; message?: unknown; code?: unknown; cause?: unknown };
    return [e.errorCode, e.errorMessage, e.message, e.code, e.cause ? describe(e.cause) : ''].filter(Boolean).join(' ');
  }
  return String(error);
}

/** A fixed token, for the in-process emulator of demo mode. */
export function staticTokenProvider(token: string): TokenProvider {
  return { getToken: async () => token };
}
