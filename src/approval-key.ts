/**
 * The approval key: the secret that approval hashes are keyed with (HMAC-SHA256), so a
 * changed operation in the store cannot be given a matching hash without it.
 *
 * - `APPROVAL_KEY`: the key itself, base64 or hex, at least 32 bytes (several replicas
 *   share it this way, e.g. from a secret store).
 * - `APPROVAL_KEY_FILE`, or by default `approval.key` beside the SQLite file: read, or
 *   created on first start with 32 random bytes, readable by the owner only.
 * - an in-memory store gets a key of its own that lives as long as the store.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from './errors.js';
import { parseStoreUrl } from './store/index.js';

const MIN_BYTES = 32;

function decode(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const bytes = /^[0-9a-f]+$/i.test(trimmed) && trimmed.length % 2 === 0 ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (bytes.length < MIN_BYTES) throw new ConfigError(`${where}: the approval key must be at least ${MIN_BYTES} bytes (base64 or hex); make one with: openssl rand -base64 32`);
  return bytes;
}

function fromFile(path: string): Buffer {
  try {
    const fd = openSync(path, 'wx', 0o600);
    try {
      writeSync(fd, `${randomBytes(MIN_BYTES).toString('base64')}\n`);
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new ConfigError(`APPROVAL_KEY_FILE: could not create ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if ((statSync(path).mode & 0o077) !== 0) throw new ConfigError(`APPROVAL_KEY_FILE: ${path} is readable by others; make it private: chmod 600 ${path}`);
  return decode(readFileSync(path, 'utf8'), `APPROVAL_KEY_FILE ${path}`);
}

export function loadApprovalKey(options: { key?: string; keyFile?: string; storeUrl: string }): Buffer {
  if (options.key) return decode(options.key, 'APPROVAL_KEY');
  if (options.keyFile) return fromFile(options.keyFile);
  const target = parseStoreUrl(options.storeUrl);
  if (target.kind === 'redis') throw new ConfigError('APPROVAL_KEY (or APPROVAL_KEY_FILE) is needed with a Redis store: every replica must use the same approval key.');
  if (target.path === ':memory:') return randomBytes(MIN_BYTES);
  const dir = dirname(target.path);
  mkdirSync(dir, { recursive: true });
  return fromFile(join(dir, 'approval.key'));
}
