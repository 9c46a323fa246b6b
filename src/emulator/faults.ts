/** Injected faults: the next N matching API calls answer a given status with MDE's error body. */
import type { FaultSpec, TokenFaultSpec } from './types.js';

const DEFAULT_CODES: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

export interface FaultAnswer {
  status: number;
  code: string;
  message: string;
  headers: Record<string, string>;
  revokeTokens: boolean;
  afterWrite: boolean;
}

interface PendingFault {
  spec: FaultSpec;
  remaining: number;
}

export class FaultQueue {
  private faults: PendingFault[] = [];

  add(spec: FaultSpec): void {
    if (!Number.isInteger(spec.status) || spec.status < 100 || spec.status > 599) throw new RangeError(`fault status ${spec.status} is not an HTTP status`);
    this.faults.push({ spec, remaining: spec.times ?? 1 });
  }

  /** Consumes one use of the first fault matching this call, if any. */
  take(path: string, endpointKey: string): FaultAnswer | null {
    const fault = this.faults.find((f) => f.remaining > 0 && matches(f.spec.path, path, endpointKey));
    if (fault === undefined) return null;
    fault.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return answerFor(fault.spec);
  }

  clear(): void {
    this.faults = [];
  }
}

function matches(pattern: RegExp | string | undefined, path: string, endpointKey: string): boolean {
  if (pattern === undefined) return true;
  if (typeof pattern === 'string') return endpointKey === pattern || path.toLowerCase().includes(pattern.toLowerCase());
  pattern.lastIndex = 0;
  return pattern.test(path);
}

function answerFor(spec: FaultSpec): FaultAnswer {
  const headers: Record<string, string> = {};
  const retryAfter = spec.retryAfterSeconds ?? (spec.status === 429 ? 1 : undefined);
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter);
  return {
    status: spec.status,
    code: spec.code ?? DEFAULT_CODES[spec.status] ?? (spec.status >= 500 ? 'InternalServerError' : 'BadRequest'),
    message: spec.message ?? `Injected fault: the emulator answers ${spec.status}.`,
    headers,
    revokeTokens: spec.revokeTokens ?? false,
    afterWrite: spec.afterWrite ?? false,
  };
}

/** Injected faults of the token endpoint: the next N token requests hang and/or fail. */
export class TokenFaultQueue {
  private faults: Array<{ spec: TokenFaultSpec; remaining: number }> = [];

  add(spec: TokenFaultSpec): void {
    if (spec.status !== undefined && (!Number.isInteger(spec.status) || spec.status < 100 || spec.status > 599)) throw new RangeError(`token fault status ${spec.status} is not an HTTP status`);
    if (spec.hangMs !== undefined && !(spec.hangMs >= 0)) throw new RangeError(`token fault hangMs must not be negative, got ${spec.hangMs}`);
    this.faults.push({ spec, remaining: spec.times ?? 1 });
  }

  /** Consumes one use of the first pending fault, if any. */
  take(): TokenFaultSpec | null {
    const fault = this.faults.find((f) => f.remaining > 0);
    if (fault === undefined) return null;
    fault.remaining--;
    this.faults = this.faults.filter((f) => f.remaining > 0);
    return fault.spec;
  }

  clear(): void {
    this.faults = [];
  }
}
