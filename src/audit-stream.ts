/**
 * `AUDIT_FILE`: every new audit entry as one JSON line, for a SIEM to collect (the
 * Sentinel / Azure Monitor agent's custom text logs, a Splunk universal forwarder
 * `monitor` input, or a container log collector reading standard output). The file is
 * opened in append mode and never truncated; entries already in the store before the
 * bot started are not written again (export them with `audit export`).
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import type { StoredAuditEntry } from './core/records.js';

export interface AuditStream {
  write(entry: StoredAuditEntry): void;
  close(): Promise<void>;
}

export function openAuditStream(target: NonNullable<Config['auditStream']>, log?: Logger): AuditStream {
  if (target.kind === 'stdout') {
    return { write: (entry) => void process.stdout.write(`${JSON.stringify({ type: 'mde-chatops.audit', ...entry })}\n`), close: async () => undefined };
  }
  const file: WriteStream = createWriteStream(target.path, { flags: 'a', encoding: 'utf8' });
  file.on('error', (error) => log?.error({ err: error.message, path: target.path }, 'AUDIT_FILE: cannot write'));
  return {
    write: (entry) => void file.write(`${JSON.stringify({ type: 'mde-chatops.audit', ...entry })}\n`),
    close: () => new Promise<void>((resolve) => file.end(() => resolve())),
  };
}
