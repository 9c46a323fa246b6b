/** Small HTTP helpers shared by the emulator's routes: results, MDE errors, bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export const MAX_BODY_BYTES = 1024 * 1024;

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };

/** What a handler answers; the server writes it (after any configured latency). */
export interface ApiResult {
  status: number;
  body?: Json;
  headers?: Record<string, string>;
}

/** A failure a handler raises on purpose; becomes MDE's error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function ok(body: Json, status = 200): ApiResult {
  return { status, body };
}

/** `{"error": {"code", "message", "target"}}` with the request id as target; an empty code is left out, as MDE sometimes does. */
export function errorResult(status: number, code: string, message: string, requestId: string, headers: Record<string, string> = {}): ApiResult {
  return { status, headers, body: { error: code === '' ? { message, target: requestId } : { code, message, target: requestId } } };
}

export function writeResult(res: ServerResponse, result: ApiResult, requestId: string): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { 'request-id': requestId, ...result.headers };
  if (result.body === undefined) {
    res.writeHead(result.status, headers).end();
    return;
  }
  const text = JSON.stringify(result.body);
  headers['content-type'] = 'application/json; charset=utf-8';
  headers['content-length'] = String(Buffer.byteLength(text));
  res.writeHead(result.status, headers).end(text);
}

export type BodyRead = { kind: 'ok'; text: string } | { kind: 'too_large' };

/**
 * Reads the whole body up to MAX_BODY_BYTES. A bigger body is drained without being
 * kept, so the 413 can still be written on the same connection.
 */
export function readBody(req: IncomingMessage): Promise<BodyRead> {
  const declared = Number(req.headers['content-length'] ?? '0');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = declared > MAX_BODY_BYTES;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? { kind: 'too_large' } : { kind: 'ok', text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', reject);
  });
}

/** Parses a JSON request body; an empty or malformed one is MDE's InvalidRequestBody. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw new ApiError(400, 'InvalidRequestBody', 'The request body is empty; a JSON object is required.');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ApiError(400, 'InvalidRequestBody', `The request body is not valid JSON: ${(e as Error).message}`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
