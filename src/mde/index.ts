/**
 * Builds the MDE client the configuration asks for: the real API with an MSAL token, or
 * (demo mode) the in-process emulator with a token it accepts.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { MdeConfig } from '../config.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/index.js';
import type { MdeApi } from './api.js';
import { createMdeClient } from './client.js';
import type { HttpOptions } from './http.js';
import { createLimiter, type Limiter } from './limiter.js';
import { msalTokenProvider, staticTokenProvider, type TokenProvider } from './token.js';

export interface Mde {
  api: MdeApi;
  limiter: Limiter;
  baseUrl: string;
  /** The token provider (demo mode: the emulator's static token, which its Graph stub accepts too). */
  tokens: TokenProvider;
  /** Set in demo mode. */
  emulator?: Emulator;
  close(): Promise<void>;
}

export interface ConnectOptions {
  log?: Logger;
  emulator?: EmulatorOptions;
  /** Told of every MDE call attempt (metrics, readiness). */
  observe?: HttpOptions['observe'];
  /** Told whether each token request succeeded (readiness: a token that cannot be had fails every call). */
  observeToken?: (ok: boolean) => void;
  /** Shared by all replicas (Redis); default one per process. */
  limiter?: Limiter;
  listCacheMs?: number;
  /** How long the scanner-agent list is reused (tests that need MDE asked every time: 0). */
  agentsCacheMs?: number;
}

export async function connectMde(config: MdeConfig, options: ConnectOptions = {}): Promise<Mde> {
  let emulator: Emulator | undefined;
  let baseUrl: string;
  let tokens: TokenProvider;
  if (config.mode === 'demo') {
    const token = randomBytes(24).toString('base64url');
    emulator = await startEmulator({ port: 0, ...options.emulator, staticTokens: [token] });
    baseUrl = emulator.url;
    tokens = staticTokenProvider(token);
  } else {
    baseUrl = config.apiUrl;
    tokens = msalTokenProvider(config);
  }
  const plainTokens = tokens;
  if (options.observeToken) tokens = observedTokens(tokens, options.observeToken);
  const limiter = options.limiter ?? createLimiter(config.rate);
  const api = createMdeClient({ baseUrl, tokens, limiter, log: options.log?.child({ part: 'mde' }), observe: options.observe, ...(options.listCacheMs !== undefined ? { listCacheMs: options.listCacheMs } : {}), ...(options.agentsCacheMs !== undefined ? { agentsCacheMs: options.agentsCacheMs } : {}) });
  return {
    api,
    limiter,
    baseUrl,
    tokens: plainTokens,
    emulator,
    async close() {
      await limiter.stop();
      await emulator?.close();
    },
  };
}

function observedTokens(tokens: TokenProvider, observe: (ok: boolean) => void): TokenProvider {
  return {
    getToken(request) {
      return tokens.getToken(request).then(
        (token) => (observe(true), token),
        (error: unknown) => {
          observe(false);
          throw error;
        },
      );
    },
  };
}
