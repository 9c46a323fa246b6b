/**
 * The SQLite store (better-sqlite3): one file, WAL mode, schema created and migrated on
 * open. better-sqlite3 is synchronous, so each method runs to completion before another
 * starts in this process; writes that read then write run in `BEGIN IMMEDIATE`
 * transactions so that several processes sharing one file stay correct too.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { MACHINE_ACTION_FINAL } from '../mde/entities.js';
import {
  APPROVAL_STATES,
  AUDIT_EVENTS,
  BULK_DEVICE_STATES,
  type BulkDevice,
  type BulkDevicePatch,
  type BulkDeviceState,
  StoreClosedError,
  StoreConflictError,
  StoreError,
  type ApprovalCard,
  type ApprovalPatch,
  type ApprovalRecord,
  type ApprovalState,
  type AuditEntry,
  type BreakGlass,
  type ConversationFilter,
  type ConversationRecord,
  type Json,
  type ListApprovalsQuery,
  type ListAuditQuery,
  type NewApprovalRecord,
  type PlatformLocation,
  type Principal,
  type Store,
  type StoreOptions,
  type StoredOperation,
  type StoredAuditEntry,
  type StoredTrackedAction,
  type TrackedAction,
  type Vote,
  quorumOf,
} from './types.js';

export const MEMORY_PATH = ':memory:';
const BUSY_TIMEOUT_MS = 5000;

export interface Migration {
  version: number;
  description: string;
  up: string;
}

/** Ordered; append new migrations, never edit applied ones. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'approvals, audit log, tracked actions, conversations, settings, claims',
    up: `
      CREATE TABLE approvals (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        operation_json  TEXT NOT NULL,
        operation_hash  TEXT NOT NULL,
        summary         TEXT NOT NULL,
        requester_actor TEXT NOT NULL,
        requester       TEXT NOT NULL,
        origin          TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN (${APPROVAL_STATES.map((s) => `'${s}'`).join(', ')})),
        reason          TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        decided_by      TEXT,
        decided_at      TEXT,
        decision_reason TEXT,
        result          TEXT,
        cards           TEXT NOT NULL DEFAULT '[]',
        version         INTEGER NOT NULL DEFAULT 1,
        updated_at      TEXT NOT NULL
      );
      CREATE INDEX approvals_state_expires ON approvals (state, expires_at);
      CREATE INDEX approvals_created ON approvals (created_at);

      CREATE TABLE audit (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        actor       TEXT NOT NULL,
        event       TEXT NOT NULL CHECK (event IN ('requested', 'approved', 'rejected', 'expired', 'executing', 'succeeded', 'failed', 'progress')),
        approval_id TEXT,
        detail      TEXT NOT NULL
      );
      CREATE INDEX audit_approval ON audit (approval_id, seq);
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

      CREATE TABLE tracked_actions (
        action_id   TEXT PRIMARY KEY,
        approval_id TEXT NOT NULL,
        status      TEXT NOT NULL,
        open        INTEGER NOT NULL,
        detail      TEXT,
        updated_at  TEXT NOT NULL
      );
      CREATE INDEX tracked_actions_open ON tracked_actions (open);

      CREATE TABLE conversations (
        key        TEXT PRIMARY KEY,
        platform   TEXT NOT NULL,
        ref        TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX conversations_platform ON conversations (platform, key);

      CREATE TABLE settings (
        key        TEXT PRIMARY KEY,
        value      TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );

      CREATE TABLE claims (
        key        TEXT PRIMARY KEY,
        expires_ms INTEGER NOT NULL
      );
      CREATE INDEX claims_expires ON claims (expires_ms);
    `,
  },
  {
    version: 2,
    description: 'owner and heartbeat of an executing approval request',
    up: `
      ALTER TABLE approvals ADD COLUMN owner TEXT;
      ALTER TABLE approvals ADD COLUMN heartbeat_at TEXT;
    `,
  },
  {
    version: 3,
    description: 'quorum and the individual decisions of an approval request',
    up: `
      ALTER TABLE approvals ADD COLUMN quorum INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE approvals ADD COLUMN votes TEXT;
    `,
  },
  {
    version: 4,
    description: 'devices of multi-device AV scan requests',
    up: `
      CREATE TABLE bulk_devices (
        approval_id TEXT NOT NULL,
        machine_id  TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        name        TEXT NOT NULL,
        state       TEXT NOT NULL CHECK (state IN (${BULK_DEVICE_STATES.map((s) => `'${s}'`).join(', ')})),
        action_id   TEXT,
        reason      TEXT,
        updated_at  TEXT NOT NULL,
        PRIMARY KEY (approval_id, machine_id)
      );
    `,
  },
  {
    version: 5,
    // SQLite cannot change a CHECK constraint: both tables are rebuilt once, without the
    // lists of states and events (the store checks them in code, so a new state or event
    // needs no rebuild again). Dropping a table fires no triggers: the audit rows are copied.
    description: 'withdrawn requests, break-glass runs and their review; the audit of every write: who (name), where, what (definitions, devices), outcome',
    up: `
      CREATE TABLE approvals_v4 (
        id              TEXT PRIMARY KEY,
        kind            TEXT NOT NULL,
        operation_json  TEXT NOT NULL,
        operation_hash  TEXT NOT NULL,
        summary         TEXT NOT NULL,
        requester_actor TEXT NOT NULL,
        requester       TEXT NOT NULL,
        origin          TEXT NOT NULL,
        state           TEXT NOT NULL,
        reason          TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        decided_by      TEXT,
        decided_at      TEXT,
        decision_reason TEXT,
        result          TEXT,
        cards           TEXT NOT NULL DEFAULT '[]',
        version         INTEGER NOT NULL DEFAULT 1,
        updated_at      TEXT NOT NULL,
        owner           TEXT,
        heartbeat_at    TEXT,
        quorum          INTEGER NOT NULL DEFAULT 1,
        votes           TEXT,
        break_glass     TEXT
      );
      INSERT INTO approvals_v4 (id, kind, operation_json, operation_hash, summary, requester_actor, requester, origin, state, reason,
          created_at, expires_at, decided_by, decided_at, decision_reason, result, cards, version, updated_at, owner, heartbeat_at, quorum, votes)
        SELECT id, kind, operation_json, operation_hash, summary, requester_actor, requester, origin, state, reason,
          created_at, expires_at, decided_by, decided_at, decision_reason, result, cards, version, updated_at, owner, heartbeat_at, quorum, votes FROM approvals;
      DROP TABLE approvals;
      ALTER TABLE approvals_v4 RENAME TO approvals;
      CREATE INDEX approvals_state_expires ON approvals (state, expires_at);
      CREATE INDEX approvals_created ON approvals (created_at);

      CREATE TABLE audit_v4 (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        actor       TEXT NOT NULL,
        event       TEXT NOT NULL,
        approval_id TEXT,
        detail      TEXT NOT NULL,
        actor_name  TEXT,
        command     TEXT,
        place       TEXT,
        definitions TEXT NOT NULL DEFAULT '[]',
        devices     TEXT NOT NULL DEFAULT '[]',
        outcome     TEXT
      );
      INSERT INTO audit_v4 (seq, at, actor, event, approval_id, detail) SELECT seq, at, actor, event, approval_id, detail FROM audit;
      DROP TABLE audit;
      ALTER TABLE audit_v4 RENAME TO audit;
      CREATE INDEX audit_approval ON audit (approval_id, seq);
      CREATE INDEX audit_at ON audit (at);
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `,
  },
];

interface BulkRow {
  approval_id: string;
  machine_id: string;
  name: string;
  state: BulkDeviceState;
  action_id: string | null;
  reason: string | null;
  updated_at: string;
}

function bulkFromRow(r: BulkRow): BulkDevice {
  return {
    approvalId: r.approval_id,
    machineId: r.machine_id,
    name: r.name,
    state: r.state,
    ...(r.action_id !== null ? { actionId: r.action_id } : {}),
    ...(r.reason !== null ? { reason: r.reason } : {}),
    updatedAt: r.updated_at,
  };
}

interface ApprovalRow {
  id: string;
  kind: string;
  operation_json: string;
  operation_hash: string;
  summary: string;
  requester_actor: string;
  requester: string;
  origin: string;
  state: ApprovalState;
  reason: string;
  created_at: string;
  expires_at: string;
  decided_by: string | null;
  decided_at: string | null;
  decision_reason: string | null;
  result: string | null;
  cards: string;
  version: number;
  updated_at: string;
  owner: string | null;
  heartbeat_at: string | null;
  quorum: number;
  votes: string | null;
  break_glass: string | null;
}

interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  event: AuditEntry['event'];
  approval_id: string | null;
  detail: string;
  actor_name: string | null;
  command: string | null;
  place: string | null;
  definitions: string;
  devices: string;
  outcome: AuditEntry['outcome'] | null;
}

interface TrackedRow {
  action_id: string;
  approval_id: string;
  status: string;
  open: number;
  detail: string | null;
  updated_at: string;
}

interface ConversationRow {
  key: string;
  platform: string;
  ref: string;
  updated_at: string;
}

const FINAL_ACTION = new Set(MACHINE_ACTION_FINAL.map((s) => s.toLowerCase()));
const isOpenStatus = (status: string): boolean => !FINAL_ACTION.has(status.toLowerCase());

/** `sqlite:<path>` → the file path (`:memory:` kept); `sqlite:///abs` and `sqlite://./rel` are accepted. */
export function sqlitePathFromUrl(url: string): string {
  if (!url.startsWith('sqlite:')) throw new StoreError(`not a sqlite: URL: ${url}`);
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  if (path === '') throw new StoreError('STORE_URL sqlite: needs a file path, e.g. sqlite:./data/mde-chatops.db or sqlite::memory:');
  return path;
}

export function openSqliteStore(path: string, options: StoreOptions = {}): SqliteStore {
  return new SqliteStore(path, options);
}

function toJson(value: Json | undefined): string {
  return JSON.stringify(value ?? null);
}

function isoOf(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new StoreError(`${field} is not a valid date: ${value}`);
  return d.toISOString();
}

function auditFromRow(r: AuditRow): StoredAuditEntry {
  const e: StoredAuditEntry = { seq: r.seq, at: r.at, actor: r.actor, event: r.event, detail: JSON.parse(r.detail) as Json };
  if (r.approval_id !== null) e.approvalId = r.approval_id;
  if (r.actor_name !== null) e.actorName = r.actor_name;
  if (r.command !== null) e.command = r.command;
  if (r.place !== null) e.place = JSON.parse(r.place) as PlatformLocation;
  const definitions = JSON.parse(r.definitions) as string[];
  const devices = JSON.parse(r.devices) as string[];
  if (definitions.length) e.definitions = definitions;
  if (devices.length) e.devices = devices;
  if (r.outcome !== null) e.outcome = r.outcome;
  return e;
}

function clampLimit(limit: number | undefined, fallback: number, max = 10_000): number {
  if (limit === undefined) return fallback;
  if (!Number.isFinite(limit) || limit < 1) return 1;
  return Math.min(Math.floor(limit), max);
}

function checkState(state: string): asserts state is ApprovalState {
  if (!(APPROVAL_STATES as readonly string[]).includes(state)) throw new StoreError(`unknown approval state: ${state}`);
}

function checkCard(card: ApprovalCard): void {
  if (typeof card.platform !== 'string' || card.platform === '') throw new StoreError('a card needs a platform');
  if (typeof card.location !== 'object' || card.location === null) throw new StoreError('a card needs a location');
  for (const [k, v] of Object.entries(card.location)) {
    if (typeof v !== 'string') throw new StoreError(`card location field ${k} must be a string`);
  }
}

function sameCard(a: ApprovalCard, b: ApprovalCard): boolean {
  if (a.platform !== b.platform) return false;
  const ak = Object.keys(a.location);
  const bk = Object.keys(b.location);
  return ak.length === bk.length && ak.every((k) => a.location[k] === b.location[k]);
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly path: string;
  private readonly db: Database.Database;
  private readonly now: () => Date;
  private claimsSincePrune = 0;
  private readonly transitionStatements = new Map<string, Database.Statement>();

  constructor(path: string, options: StoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    const memory = path === MEMORY_PATH;
    this.path = memory ? path : resolve(path);
    if (!memory) mkdirSync(dirname(this.path), { recursive: true });
    this.db = new Database(this.path);
    try {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      if (!memory) this.db.pragma('journal_mode = WAL');
      this.db.pragma('foreign_keys = ON');
      this.migrate();
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** The schema version in the database (the last applied migration). */
  schemaVersion(): number {
    return this.currentVersion();
  }

  private currentVersion(): number {
    const row = this.conn().prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
    return row.v ?? 0;
  }

  private migrate(): void {
    const latest = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;
    const apply = this.db.transaction(() => {
      this.db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)');
      const current = this.currentVersion();
      if (current > latest) {
        throw new StoreError(`the database ${this.path} has schema version ${current}, newer than this program knows (${latest}); upgrade the program`);
      }
      const insert = this.db.prepare('INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)');
      for (const m of SQLITE_MIGRATIONS) {
        if (m.version <= current) continue;
        this.db.exec(m.up);
        insert.run(m.version, m.description, this.now().toISOString());
      }
    });
    apply.immediate();
  }

  private conn(): Database.Database {
    if (!this.db.open) throw new StoreClosedError();
    return this.db;
  }

  private nowIso(): string {
    return this.now().toISOString();
  }

  // ---- approvals ----

  private rowToRecord(row: ApprovalRow): ApprovalRecord {
    const parse = <T>(text: string, field: string): T => {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new StoreError(`approval ${row.id}: stored ${field} is not valid JSON`);
      }
    };
    const rec: ApprovalRecord = {
      id: row.id,
      operation: parse<StoredOperation>(row.operation_json, 'operation'),
      operationJson: row.operation_json,
      operationHash: row.operation_hash,
      summary: row.summary,
      requester: parse<Principal>(row.requester, 'requester'),
      origin: parse<ApprovalRecord['origin']>(row.origin, 'origin'),
      state: row.state,
      reason: row.reason,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      cards: parse<ApprovalCard[]>(row.cards, 'cards'),
      version: row.version,
      updatedAt: row.updated_at,
    };
    if (row.decided_by !== null) rec.decidedBy = parse<Principal>(row.decided_by, 'decidedBy');
    if (row.decided_at !== null) rec.decidedAt = row.decided_at;
    if (row.decision_reason !== null) rec.decisionReason = row.decision_reason;
    if (row.result !== null) rec.result = parse<Json>(row.result, 'result');
    if (row.owner !== null) rec.owner = row.owner;
    if (row.heartbeat_at !== null) rec.heartbeatAt = row.heartbeat_at;
    if (row.quorum !== 1) rec.quorum = row.quorum;
    if (row.votes !== null) rec.votes = parse<Vote[]>(row.votes, 'votes');
    if (row.break_glass !== null) rec.breakGlass = parse<BreakGlass>(row.break_glass, 'breakGlass');
    return rec;
  }

  private getRow(id: string): ApprovalRow | undefined {
    return this.conn().prepare('SELECT * FROM approvals WHERE id = ?').get(id) as ApprovalRow | undefined;
  }

  async createApproval(rec: NewApprovalRecord): Promise<ApprovalRecord> {
    const db = this.conn();
    checkState(rec.state);
    for (const card of rec.cards ?? []) checkCard(card);
    const createdAt = isoOf(rec.createdAt, 'createdAt');
    const row: ApprovalRow = {
      id: rec.id,
      kind: rec.operation.kind,
      operation_json: rec.operationJson,
      operation_hash: rec.operationHash,
      summary: rec.summary,
      requester_actor: rec.requester.actor,
      requester: JSON.stringify(rec.requester),
      origin: JSON.stringify(rec.origin),
      state: rec.state,
      reason: rec.reason,
      created_at: createdAt,
      expires_at: isoOf(rec.expiresAt, 'expiresAt'),
      decided_by: rec.decidedBy ? JSON.stringify(rec.decidedBy) : null,
      decided_at: rec.decidedAt ? isoOf(rec.decidedAt, 'decidedAt') : null,
      decision_reason: rec.decisionReason ?? null,
      result: rec.result === undefined ? null : toJson(rec.result),
      cards: JSON.stringify(rec.cards ?? []),
      version: 1,
      updated_at: createdAt,
      owner: null,
      heartbeat_at: null,
      quorum: quorumOf(rec.quorum),
      votes: rec.votes ? JSON.stringify(rec.votes) : null,
      break_glass: rec.breakGlass ? JSON.stringify(rec.breakGlass) : null,
    };
    try {
      db.prepare(
        `INSERT INTO approvals (id, kind, operation_json, operation_hash, summary, requester_actor, requester, origin, state, reason,
           created_at, expires_at, decided_by, decided_at, decision_reason, result, cards, version, updated_at, quorum, votes, break_glass)
         VALUES (@id, @kind, @operation_json, @operation_hash, @summary, @requester_actor, @requester, @origin, @state, @reason,
           @created_at, @expires_at, @decided_by, @decided_at, @decision_reason, @result, @cards, @version, @updated_at, @quorum, @votes, @break_glass)`,
      ).run(row);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new StoreConflictError(`an approval with id ${rec.id} already exists`);
      }
      throw err;
    }
    return this.rowToRecord(row);
  }

  async getApproval(id: string): Promise<ApprovalRecord | null> {
    const row = this.getRow(id);
    return row ? this.rowToRecord(row) : null;
  }

  async listApprovals(query: ListApprovalsQuery = {}): Promise<ApprovalRecord[]> {
    const db = this.conn();
    const limit = clampLimit(query.limit, 50);
    const states = query.states;
    if (states !== undefined && states.length === 0) return [];
    states?.forEach(checkState);
    const where = states ? `WHERE state IN (${states.map(() => '?').join(', ')})` : '';
    const rows = db
      .prepare(`SELECT * FROM approvals ${where} ORDER BY created_at DESC, rowid DESC LIMIT ?`)
      .all(...(states ?? []), limit) as ApprovalRow[];
    return rows.map((r) => this.rowToRecord(r));
  }

  async transitionApproval(
    id: string,
    from: ApprovalState | readonly ApprovalState[],
    to: ApprovalState,
    patch: ApprovalPatch = {},
  ): Promise<ApprovalRecord | null> {
    const db = this.conn();
    const fromList: readonly ApprovalState[] = typeof from === 'string' ? [from] : from;
    fromList.forEach(checkState);
    checkState(to);
    if (fromList.length === 0) return null;

    const sets = ['state = @to', 'version = version + 1', 'updated_at = @updated_at'];
    const params: Record<string, unknown> = { id, to, updated_at: patch.updatedAt ? isoOf(patch.updatedAt, 'updatedAt') : this.nowIso() };
    if (patch.decidedBy !== undefined) {
      sets.push('decided_by = @decided_by');
      params.decided_by = JSON.stringify(patch.decidedBy);
    }
    if (patch.decidedAt !== undefined) {
      sets.push('decided_at = @decided_at');
      params.decided_at = isoOf(patch.decidedAt, 'decidedAt');
    }
    if (patch.decisionReason !== undefined) {
      sets.push('decision_reason = @decision_reason');
      params.decision_reason = patch.decisionReason;
    }
    if (patch.result !== undefined) {
      sets.push('result = @result');
      params.result = toJson(patch.result);
    }
    if (patch.owner !== undefined) {
      sets.push('owner = @owner');
      params.owner = patch.owner;
    }
    if (patch.heartbeatAt !== undefined) {
      sets.push('heartbeat_at = @heartbeat_at');
      params.heartbeat_at = isoOf(patch.heartbeatAt, 'heartbeatAt');
    }
    if (patch.votes !== undefined) {
      sets.push('votes = @votes');
      params.votes = JSON.stringify(patch.votes);
    }
    if (patch.breakGlass !== undefined) {
      sets.push('break_glass = @break_glass');
      params.break_glass = JSON.stringify(patch.breakGlass);
    }
    fromList.forEach((s, i) => (params[`from${i}`] = s));
    let where = `id = @id AND state IN (${fromList.map((_, i) => `@from${i}`).join(', ')})`;
    if (patch.ifVersion !== undefined) {
      where += ' AND version = @if_version';
      params.if_version = patch.ifVersion;
    }
    if (patch.ifOwner !== undefined) {
      where += ' AND owner = @if_owner';
      params.if_owner = patch.ifOwner;
    }
    const sql = `UPDATE approvals SET ${sets.join(', ')} WHERE ${where}`;
    let stmt = this.transitionStatements.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql);
      this.transitionStatements.set(sql, stmt);
    }
    const update = stmt;
    // The compare-and-set is the single UPDATE: `changes` says whether the state was `from`.
    const tx = db.transaction((): ApprovalRecord | null => {
      if (update.run(params).changes !== 1) return null;
      const row = this.getRow(id);
      return row ? this.rowToRecord(row) : null;
    });
    return tx.immediate();
  }

  async addApprovalCard(id: string, card: ApprovalCard): Promise<ApprovalRecord | null> {
    const db = this.conn();
    checkCard(card);
    const clean: ApprovalCard = { platform: card.platform, location: { ...card.location } };
    const tx = db.transaction((): ApprovalRecord | null => {
      const row = this.getRow(id);
      if (!row) return null;
      const cards = JSON.parse(row.cards) as ApprovalCard[];
      if (cards.some((c) => sameCard(c, clean))) return this.rowToRecord(row);
      cards.push(clean);
      db.prepare('UPDATE approvals SET cards = ?, version = version + 1, updated_at = ? WHERE id = ?').run(JSON.stringify(cards), this.nowIso(), id);
      return this.rowToRecord(this.getRow(id)!);
    });
    return tx.immediate();
  }

  async expireDue(now: Date): Promise<ApprovalRecord[]> {
    const db = this.conn();
    const nowIso = now.toISOString();
    const rows = db
      .prepare(
        `UPDATE approvals SET state = 'expired', version = version + 1, updated_at = ?
         WHERE state = 'pending' AND expires_at < ? RETURNING *`,
      )
      .all(nowIso, nowIso) as ApprovalRow[];
    return rows.map((r) => this.rowToRecord(r));
  }

  // ---- audit ----

  async appendAudit(entry: AuditEntry): Promise<StoredAuditEntry> {
    const db = this.conn();
    if (!(AUDIT_EVENTS as readonly string[]).includes(entry.event)) throw new StoreError(`unknown audit event: ${entry.event}`);
    const at = isoOf(entry.at, 'at');
    const detail = toJson(entry.detail);
    const info = db
      .prepare('INSERT INTO audit (at, actor, event, approval_id, detail, actor_name, command, place, definitions, devices, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(
        at,
        entry.actor,
        entry.event,
        entry.approvalId ?? null,
        detail,
        entry.actorName ?? null,
        entry.command ?? null,
        entry.place ? JSON.stringify(entry.place) : null,
        JSON.stringify(entry.definitions ?? []),
        JSON.stringify(entry.devices ?? []),
        entry.outcome ?? null,
      );
    const row = db.prepare('SELECT * FROM audit WHERE seq = ?').get(Number(info.lastInsertRowid)) as AuditRow;
    return auditFromRow(row);
  }

  async listAudit(query: ListAuditQuery = {}): Promise<StoredAuditEntry[]> {
    const db = this.conn();
    const limit = clampLimit(query.limit, 200);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.approvalId !== undefined) (where.push('approval_id = ?'), params.push(query.approvalId));
    if (query.before !== undefined) (where.push('seq < ?'), params.push(query.before));
    if (query.since !== undefined) (where.push('at >= ?'), params.push(isoOf(query.since, 'since')));
    if (query.actor !== undefined) {
      where.push("(lower(actor) = ? OR instr(lower(coalesce(actor_name, '')), ?) > 0)");
      params.push(query.actor.toLowerCase(), query.actor.toLowerCase());
    }
    for (const [column, value] of [['definitions', query.definition], ['devices', query.device]] as const) {
      if (value === undefined) continue;
      where.push(`EXISTS (SELECT 1 FROM json_each(audit.${column}) WHERE lower(json_each.value) = ?)`);
      params.push(value.toLowerCase());
    }
    const sql = `SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    const rows = db.prepare(sql).all(...params, limit) as AuditRow[];
    return rows.reverse().map(auditFromRow);
  }

  // ---- tracked actions ----

  private trackedFromRow(r: TrackedRow): StoredTrackedAction {
    const t: StoredTrackedAction = { actionId: r.action_id, approvalId: r.approval_id, status: r.status, updatedAt: r.updated_at, open: r.open === 1 };
    if (r.detail !== null) t.detail = JSON.parse(r.detail) as Json;
    return t;
  }

  async trackAction(action: TrackedAction): Promise<StoredTrackedAction> {
    const db = this.conn();
    const updatedAt = isoOf(action.updatedAt, 'updatedAt');
    const row = db
      .prepare(
        `INSERT INTO tracked_actions (action_id, approval_id, status, open, detail, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (action_id) DO UPDATE SET status = excluded.status, open = excluded.open,
           detail = COALESCE(excluded.detail, tracked_actions.detail), updated_at = excluded.updated_at
         RETURNING *`,
      )
      .get(action.actionId, action.approvalId, action.status, isOpenStatus(action.status) ? 1 : 0, action.detail === undefined ? null : toJson(action.detail), updatedAt) as TrackedRow;
    return this.trackedFromRow(row);
  }

  async updateTrackedAction(actionId: string, patch: { status: string; updatedAt: string; detail?: Json }): Promise<StoredTrackedAction | null> {
    const db = this.conn();
    const row = db
      .prepare(
        `UPDATE tracked_actions SET status = ?, open = ?, detail = COALESCE(?, detail), updated_at = ?
         WHERE action_id = ? RETURNING *`,
      )
      .get(patch.status, isOpenStatus(patch.status) ? 1 : 0, patch.detail === undefined ? null : toJson(patch.detail), isoOf(patch.updatedAt, 'updatedAt'), actionId) as
      | TrackedRow
      | undefined;
    return row ? this.trackedFromRow(row) : null;
  }

  async listTrackedActions(query: { open?: boolean; approvalId?: string } = {}): Promise<StoredTrackedAction[]> {
    const db = this.conn();
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.open !== undefined) {
      where.push('open = ?');
      params.push(query.open ? 1 : 0);
    }
    if (query.approvalId !== undefined) {
      where.push('approval_id = ?');
      params.push(query.approvalId);
    }
    const sql = `SELECT * FROM tracked_actions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY updated_at, rowid`;
    return (db.prepare(sql).all(...params) as TrackedRow[]).map((r) => this.trackedFromRow(r));
  }

  // ---- devices of multi-device AV scans ----

  async addBulkDevices(approvalId: string, devices: ReadonlyArray<{ machineId: string; name: string }>, at: string): Promise<void> {
    const db = this.conn();
    const updatedAt = isoOf(at, 'at');
    const insert = db.prepare('INSERT INTO bulk_devices (approval_id, machine_id, seq, name, state, updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING');
    db.transaction(() => devices.forEach((d, i) => insert.run(approvalId, d.machineId, i, d.name, 'queued', updatedAt)))();
  }

  async listBulkDevices(approvalId: string): Promise<BulkDevice[]> {
    return (this.conn().prepare('SELECT * FROM bulk_devices WHERE approval_id = ? ORDER BY seq').all(approvalId) as BulkRow[]).map(bulkFromRow);
  }

  async transitionBulkDevice(approvalId: string, machineId: string, from: readonly BulkDeviceState[], to: BulkDeviceState, patch: BulkDevicePatch): Promise<BulkDevice | null> {
    if (!(BULK_DEVICE_STATES as readonly string[]).includes(to)) throw new StoreError(`unknown device state: ${to}`);
    if (from.length === 0) return null;
    const row = this.conn()
      .prepare(
        `UPDATE bulk_devices SET state = ?, action_id = COALESCE(?, action_id), reason = COALESCE(?, reason), updated_at = ?
         WHERE approval_id = ? AND machine_id = ? AND state IN (${from.map(() => '?').join(', ')}) RETURNING *`,
      )
      .get(to, patch.actionId ?? null, patch.reason ?? null, isoOf(patch.updatedAt, 'updatedAt'), approvalId, machineId, ...from) as BulkRow | undefined;
    return row ? bulkFromRow(row) : null;
  }

  // ---- conversations and settings ----

  async saveConversation(key: string, platform: string, ref: Json): Promise<void> {
    this.conn()
      .prepare(
        `INSERT INTO conversations (key, platform, ref, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET platform = excluded.platform, ref = excluded.ref, updated_at = excluded.updated_at`,
      )
      .run(key, platform, toJson(ref), this.nowIso());
  }

  private conversationFromRow(r: ConversationRow): ConversationRecord {
    return { key: r.key, platform: r.platform, ref: JSON.parse(r.ref) as Json, updatedAt: r.updated_at };
  }

  async getConversation(key: string): Promise<ConversationRecord | null> {
    const row = this.conn().prepare('SELECT * FROM conversations WHERE key = ?').get(key) as ConversationRow | undefined;
    return row ? this.conversationFromRow(row) : null;
  }

  async listConversations(platform: string, filter: ConversationFilter = {}): Promise<ConversationRecord[]> {
    const db = this.conn();
    const where = ['platform = ?'];
    const params: unknown[] = [platform];
    if (filter.keyPrefix !== undefined && filter.keyPrefix !== '') {
      where.push('substr(key, 1, ?) = ?');
      params.push(filter.keyPrefix.length, filter.keyPrefix);
    }
    let rows = db.prepare(`SELECT * FROM conversations WHERE ${where.join(' AND ')} ORDER BY key`).all(...params) as ConversationRow[];
    if (filter.keys !== undefined) {
      const keys = new Set(filter.keys);
      rows = rows.filter((r) => keys.has(r.key));
    }
    return rows.map((r) => this.conversationFromRow(r));
  }

  async getSetting(key: string): Promise<Json | null> {
    const row = this.conn().prepare('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return row ? (JSON.parse(row.value) as Json) : null;
  }

  async setSetting(key: string, value: Json): Promise<void> {
    this.conn()
      .prepare(
        `INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
      )
      .run(key, toJson(value), this.nowIso());
  }

  // ---- dedupe ----

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    const db = this.conn();
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new StoreError(`claimOnce: ttlMs must be a positive number, got ${ttlMs}`);
    const nowMs = this.now().getTime();
    // One statement: inserts a new claim, or renews one whose window has passed; a live claim is left alone (0 changes).
    const { changes } = db
      .prepare(
        `INSERT INTO claims (key, expires_ms) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_ms = excluded.expires_ms WHERE claims.expires_ms <= ?`,
      )
      .run(key, nowMs + ttlMs, nowMs);
    if (++this.claimsSincePrune >= 500) {
      this.claimsSincePrune = 0;
      db.prepare('DELETE FROM claims WHERE expires_ms <= ?').run(nowMs);
    }
    return changes === 1;
  }

  // ---- lifecycle ----

  async ping(): Promise<void> {
    this.conn().prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
