/** Public shapes of the MDE emulator. */
import type { GraphStub } from './graph.js';
import type { EmulatorModes, EmulatorState } from './state.js';

export interface EmulatorOptions {
  /** 0 = a random free port (the default in-process). */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Informational: the token endpoint accepts any tenant path. */
  tenantId?: string;
  /** When set, the token endpoint accepts only this client id. */
  clientId?: string;
  /** When set, the token endpoint demands this secret (certificate assertions are refused). */
  clientSecret?: string;
  /** Bearer tokens accepted without the token endpoint (in-process use, e.g. demo mode). */
  staticTokens?: string[];
  /** Rolling windows over all API calls together; default 100/min and 1,500/h. */
  limits?: { perMinute: number; perHour: number; windowMs?: { minute: number; hour: number } };
  /** Pending → InProgress after `pendingMs`, → Succeeded/Failed after `inProgressMs` more. */
  actionTimings?: { pendingMs: number; inProgressMs: number };
  /** Delay added before every API answer. */
  latencyMs?: number;
  /** Load the demo data (default true). */
  seed?: boolean;
  /** Items per page of a collection read without `$top` (then `@odata.nextLink` is sent). Default 100. */
  pageSize?: number;
  /** How this tenant answers where real tenants differ (see EmulatorModes); default: as the documents show. */
  modes?: Partial<EmulatorModes>;
  /** The app's display name, which MDE writes as `requestor` of the actions it starts. */
  appDisplayName?: string;
}

export interface EmulatorStats {
  /** Every `/api` request received, including those answered 401, 413 or 429. */
  total: number;
  /** Requests that passed auth and the rate limit (injected faults included), by endpoint key. */
  byEndpoint: Record<string, number>;
  /** Sum of `byEndpoint`: the calls that took a slot of the rate limit. */
  served: number;
  /** Requests refused with 429 by the rate limit (not injected 429s). */
  throttled: number;
  /** Requests refused with 401. */
  unauthorized: number;
  /** Requests answered by an injected fault. */
  faulted: number;
  /** The most served calls seen in any rolling window of the configured lengths. */
  maxPerWindow: { minute: number; hour: number };
  /** POSTs to the token endpoint, successful or not. */
  tokenRequests: number;
  /** When the first 1,000 calls served since the last reset arrived (epoch ms): how much of the quota a burst used (`quotaUse`). */
  servedTimes: number[];
}

export interface FaultSpec {
  status: number;
  /** How many matching calls get this answer (default 1). */
  times?: number;
  /** A RegExp tested on the path, or a string: an endpoint key (`POST /api/machines/{id}/runAntiVirusScan`) or a path substring. */
  path?: RegExp | string;
  /** Sent as `Retry-After` (default 1 for a 429). */
  retryAfterSeconds?: number;
  /** MDE error code (default derived from the status). */
  code?: string;
  /** MDE error message (default: one naming the injected status), e.g. a real tenant's 403 text. */
  message?: string;
  /**
   * When this fault answers, every token issued so far stops being accepted (a revoked
   * secret, a key rollover): later calls with such a token get 401 until a new one is had.
   */
  revokeTokens?: boolean;
  /** Carry the call out first, then answer the fault: MDE completed the write but said it failed (or the answer was lost). */
  afterWrite?: boolean;
}

/** A fault of the token endpoint (`POST /{tenant}/oauth2/v2.0/token`) for the next `times` requests. */
export interface TokenFaultSpec {
  /** Hold the answer this long before giving it (a hung authority). */
  hangMs?: number;
  /** Answer with this status and an AAD error body instead of a token. */
  status?: number;
  /** How many token requests get this fault (default 1). */
  times?: number;
}

export interface Emulator {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:4010`. */
  url: string;
  stats(): EmulatorStats;
  resetStats(): void;
  setLatency(ms: number): void;
  injectFault(fault: FaultSpec): void;
  /** Switches modes from now on (the others keep their value). */
  setModes(modes: Partial<EmulatorModes>): void;
  injectTokenFault(fault: TokenFaultSpec): void;
  state: EmulatorState;
  /** Microsoft Graph's Entra groups and users (`/v1.0/groups/{id}/transitiveMembers/…`): seed more, count requests, switch an outage on. */
  graph: GraphStub;
  close(): Promise<void>;
}
