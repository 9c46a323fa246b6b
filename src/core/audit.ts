/**
 * The audit trail of every write: one writer (`createAuditWriter`) that every entry goes
 * through (secrets removed, stored, then handed to the observer that logs and streams it),
 * what a command record declares to be audited (`AuditSpec`), and a recorder of MDE's
 * answers to the writes a command makes (`recordMdeWrites`), so the engine can audit any
 * command, including ones added later, from its record alone.
 */
import type { MdeApi } from '../mde/api.js';
import { isMdeError } from '../mde/errors.js';
import type { ScanDefinition } from '../mde/entities.js';
import type { AuthParams } from '../mde/requests.js';
import type { AuditEntry, Json, Store, StoredAuditEntry } from './records.js';
import { namesSecret } from './secret-text.js';

/** field → its value before and after (either may be absent: created, removed). */
export type AuditChanges = Record<string, { from?: Json; to?: Json }>;

/**
 * How a command that writes is audited (`audit` on its record). Commands that need approval
 * are audited through the approval life cycle and use only `subjects`.
 */
export interface AuditSpec<Op> {
  /** Whether this operation writes (default: every one; forms that only open are not). */
  when?(op: Op): boolean;
  /** The definitions and devices it concerns, as given (ids or names), for `audit --definition/--device`. */
  subjects?(op: Op): { definitions?: string[]; devices?: string[] };
  /** What it changes, given the definition before it (from the MDE client's cache). Never credentials. */
  changes?(op: Op, before: ScanDefinition | undefined): AuditChanges;
}

/** MDE's answer to one write call. */
export type MdeAnswer = { call: string; ok: true; id?: string; status?: string } | { call: string; ok: false; status?: number; kind?: string; error: string };

/** The MdeApi methods that only read: every other method is a write and its answer is recorded. */
const READS = new Set<keyof MdeApi>(['listDefinitions', 'getScanHistory', 'getMachine', 'findMachinesByDnsName', 'findMachinesByTag', 'listMachinesInGroup', 'getMachineAction', 'listMachineActions', 'listScanAgents']);

function idOf(value: unknown): { id?: string; status?: string } {
  if (!value || typeof value !== 'object') return {};
  const v = value as { id?: unknown; status?: unknown; action?: { id?: unknown; status?: unknown } | null; kind?: unknown };
  const src = v.action && typeof v.action === 'object' ? v.action : v;
  const out: { id?: string; status?: string } = {};
  if (typeof src.id === 'string') out.id = src.id;
  if (typeof src.status === 'string') out.status = src.status;
  else if (typeof v.kind === 'string') out.status = v.kind;
  return out;
}

/** `mde` with every write's answer (id and status, or the error) appended to `answers`. */
export function recordMdeWrites(mde: MdeApi): { mde: MdeApi; answers: MdeAnswer[] } {
  const answers: MdeAnswer[] = [];
  const proxy = new Proxy(mde, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || READS.has(prop as keyof MdeApi)) return value;
      const call = String(prop);
      return async (...args: unknown[]) => {
        try {
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          answers.push({ call, ok: true, ...idOf(result) });
          return result;
        } catch (error) {
          answers.push(
            isMdeError(error)
              ? { call, ok: false, ...(error.status !== undefined ? { status: error.status } : {}), kind: error.kind, error: error.message }
              : { call, ok: false, error: (error as Error).message },
          );
          throw error;
        }
      };
    },
  });
  return { mde: proxy, answers };
}

/** Removes every member whose name means a secret (passwords, community strings, keys, tokens), at any depth. */
export function withoutSecrets(value: Json | undefined): Json {
  if (value === undefined || value === null || typeof value !== 'object') return value ?? null;
  if (Array.isArray(value)) return (value as readonly Json[]).map(withoutSecrets);
  const out: Record<string, Json> = {};
  for (const [key, v] of Object.entries(value as Record<string, Json | undefined>)) {
    if (v === undefined || namesSecret(key)) continue;
    out[key] = withoutSecrets(v);
  }
  return out;
}

/** Credentials as the log may show them: their kind and account, never a secret. */
export function describeCredentials(auth: AuthParams | undefined): string | undefined {
  if (!auth) return undefined;
  if (auth.keyVaultUrl) return `${auth.type} from Key Vault ${auth.keyVaultUrl}`;
  const who = 'domain' in auth && auth.domain ? `${auth.domain}\\${auth.username ?? ''}` : auth.username;
  return who ? `${auth.type}, user ${who}` : auth.type;
}

export interface AuditWriterOptions {
  store: Store;
  /** Receives every entry once stored (the log, `AUDIT_FILE`). Must not throw; errors are ignored. */
  onAudit?: (entry: StoredAuditEntry) => void;
}

/** `secrets`: values to blank wherever they appear (a form's), besides secret-named fields. */
export type AuditWriter = (entry: AuditEntry, secrets?: readonly string[]) => Promise<StoredAuditEntry>;

/** The one way into the audit log. */
export function createAuditWriter(options: AuditWriterOptions): AuditWriter {
  return async (entry, secrets = []) => {
    let detail = withoutSecrets(entry.detail);
    if (secrets.length > 0) {
      let text = JSON.stringify(detail);
      for (const s of secrets) if (s) text = text.split(JSON.stringify(s).slice(1, -1)).join('[secret]');
      detail = JSON.parse(text) as Json;
    }
    const stored = await options.store.appendAudit({ ...entry, detail });
    try {
      options.onAudit?.(stored);
    } catch {
      // the observer must never undo or break an entry that is stored
    }
    return stored;
  };
}
