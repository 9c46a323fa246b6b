/**
 * node:http ↔ what `CloudAdapter.process` expects (an express-like request with a parsed
 * JSON body, and a response with `status`/`header`/`send`/`end`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bot Framework activities are small; cards in invoke values stay far below this. */
export const MAX_BODY_BYTES = 256 * 1024;

export type BodyResult = { ok: true; body: Record<string, unknown> } | { ok: false; status: number; message: string };

export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return { ok: false, status: 413, message: `request body over ${limit} bytes` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      req.resume();
      return { ok: false, status: 413, message: `request body over ${limit} bytes` };
    }
    chunks.push(chunk as Buffer);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return { ok: false, status: 400, message: 'the body is not JSON' };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { ok: false, status: 400, message: 'the body is not a JSON object (an activity)' };
  return { ok: true, body: body as Record<string, unknown> };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** The request botbuilder reads: method, headers and the parsed body. */
export function requestShim(req: IncomingMessage, body: Record<string, unknown>, options: { dropAuthorization?: boolean } = {}) {
  const headers = { ...req.headers };
  if (options.dropAuthorization) delete headers.authorization;
  return { method: req.method, headers, body };
}

/** The response botbuilder writes: `status(code)`, `header(name, value)`, `send(body)`, `end()`. */
export function responseShim(res: ServerResponse) {
  let status = 200;
  let payload: string | Buffer | undefined;
  let contentType: string | undefined;
  const shim = {
    socket: res.socket,
    status(code: number) {
      status = code;
      return shim;
    },
    header(name: string, value: unknown) {
      if (!res.headersSent) res.setHeader(name, String(value));
      return shim;
    },
    send(body?: unknown) {
      if (body === undefined || body === null) return shim;
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        payload = body;
        contentType ??= 'text/plain; charset=utf-8';
      } else {
        payload = JSON.stringify(body);
        contentType = 'application/json';
      }
      return shim;
    },
    end() {
      if (res.writableEnded) return shim;
      if (!res.headersSent) {
        res.statusCode = status;
        if (payload !== undefined && !res.hasHeader('content-type')) res.setHeader('content-type', contentType ?? 'application/json');
      }
      res.end(payload);
      return shim;
    },
  };
  return shim;
}
