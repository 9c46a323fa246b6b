/**
 * How a platform adapter plugs into the one HTTP server (server.ts): a path it owns, a
 * request handler, and optionally the publisher that posts its approval cards.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApprovalPublisher } from './core/context.js';

export interface HttpAdapter {
  readonly name: string;
  /** The POST path it owns, e.g. `/slack/events`; absent for adapters with no HTTP surface (Socket Mode). */
  readonly path?: string;
  /** Reads the body itself (signature checks need the raw bytes). */
  handle?(req: IncomingMessage, res: ServerResponse): Promise<void>;
  readonly publisher?: ApprovalPublisher;
  start?(): Promise<void>;
  stop?(): Promise<void>;
}
