/**
 * The Redis store (ioredis), for several replicas of the bot sharing one state. It keeps
 * every guarantee `Store` documents (src/core/records.ts), each in one atomic step on the
 * Redis server:
 *
 * - approval transitions are a compare-and-set in a Lua script (state in `from`, and
 *   `ifVersion` / `ifOwner` when given), which also moves the request between the
 *   per-state indexes; cards are added by a compare-and-set on the version;
 * - `claimOnce` is `SET key 1 NX PX ttl`;
 * - the audit log is a Redis Stream (`XADD` only, with a per-request stream beside it):
 *   nothing in this program edits or removes an entry;
 * - listings by state and age read sorted sets scored by creation time (ties in the same
 *   millisecond by id).
 *
 * Keys (all under the deployment's prefix, default `mde-chatops:`):
 *   approval:<id> (hash)   approvals:all, approvals:state:<state> (zset, created ms)
 *   approvals:expiry (zset of pending ones, expires ms)
 *   audit (stream), audit:approval:<id> (stream), audit:seq (counter)
 *   action:<id> (hash), actions:open, actions:closed (zset, updated ms), actions:approval:<id> (set), actions:seq
 *   conv:<key> (hash), convs:<platform> (zset, by key)   settings (hash)   claim:<key> (string with a TTL)
 *   bulk:<approval id> (hash: machine id → the device as JSON; a device changes by compare-and-set in Lua)
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { MACHINE_ACTION_FINAL } from '../mde/entities.js';
import {
  APPROVAL_STATES,
  AUDIT_EVENTS,
  BULK_DEVICE_STATES,
  type BulkDevice,
  type BulkDevicePatch,
  type BulkDeviceState,
  auditMatches,
  StoreClosedError,
  StoreConflictError,
  StoreError,
  type ApprovalCard,
  type ApprovalPatch,
  type ApprovalRecord,
  type ApprovalState,
  type AuditEntry,
  type ConversationFilter,
  type ConversationRecord,
  type Json,
  type ListApprovalsQuery,
  type ListAuditQuery,
  type NewApprovalRecord,
  type Store,
  type StoreOptions,
  type StoredAuditEntry,
  type StoredTrackedAction,
  type TrackedAction,
  quorumOf,
} from './types.js';
import { answerWithin, connectRedis, LuaScript, pairs, parseRedisUrl, REDIS_ANSWER_MS, redisFailure, type RedisClientOptions } from './redis-client.js';

const FINAL_ACTION = new Set(MACHINE_ACTION_FINAL.map((s) => s.toLowerCase()));
const isOpenStatus = (status: string): boolean => !FINAL_ACTION.has(status.toLowerCase());

const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if ARGV[4] == 'pending' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1]) end
return 1
`);

/** The compare-and-set: KEYS[1] the request; ARGV prefix, id, from (comma list), to, ifVersion, hasIfOwner, ifOwner, updatedAt, field/value pairs. */
const TRANSITION = new LuaScript(`
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return false end
local ok = false
for s in string.gmatch(ARGV[3], '[^,]+') do if s == state then ok = true end end
if not ok then return false end
if ARGV[5] ~= '' and redis.call('HGET', KEYS[1], 'version') ~= ARGV[5] then return false end
if ARGV[6] == '1' and redis.call('HGET', KEYS[1], 'owner') ~= ARGV[7] then return false end
if #ARGV >= 9 then redis.call('HSET', KEYS[1], unpack(ARGV, 9)) end
redis.call('HSET', KEYS[1], 'state', ARGV[4], 'updatedAt', ARGV[8])
redis.call('HINCRBY', KEYS[1], 'version', 1)
if state ~= ARGV[4] then
  local created = redis.call('HGET', KEYS[1], 'createdMs')
  redis.call('ZREM', ARGV[1] .. 'approvals:state:' .. state, ARGV[2])
  redis.call('ZADD', ARGV[1] .. 'approvals:state:' .. ARGV[4], created, ARGV[2])
  if state == 'pending' then redis.call('ZREM', ARGV[1] .. 'approvals:expiry', ARGV[2]) end
  if ARGV[4] == 'pending' then redis.call('ZADD', ARGV[1] .. 'approvals:expiry', redis.call('HGET', KEYS[1], 'expiresMs'), ARGV[2]) end
end
return redis.call('HGETALL', KEYS[1])
`);

/** Sets fields only when the version is still ARGV[1] (optimistic update of the cards). */
const SET_IF_VERSION = new LuaScript(`
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return false end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2], unpack(ARGV, 3))
redis.call('HINCRBY', KEYS[1], 'version', 1)
return redis.call('HGETALL', KEYS[1])
`);

/** Expires pending requests due before ARGV[2] (ms, exclusive), at most ARGV[4] of them. */
const EXPIRE_DUE = new LuaScript(`
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2], 'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. 'approval:' .. id
  redis.call('ZREM', KEYS[1], id)
  if redis.call('HGET', key, 'state') == 'pending' then
    redis.call('HSET', key, 'state', 'expired', 'updatedAt', ARGV[3])
    redis.call('HINCRBY', key, 'version', 1)
    redis.call('ZREM', ARGV[1] .. 'approvals:state:pending', id)
    redis.call('ZADD', ARGV[1] .. 'approvals:state:expired', redis.call('HGET', key, 'createdMs'), id)
    table.insert(out, redis.call('HGETALL', key))
  end
end
return {#ids, out}
`);

/** Appends to the audit stream (and the request's own stream) with the next sequence number. */
const APPEND_AUDIT = new LuaScript(`
local seq = redis.call('INCR', KEYS[1])
local fields = {'seq', seq, 'at', ARGV[1], 'actor', ARGV[2], 'event', ARGV[3], 'detail', ARGV[4]}
if ARGV[7] ~= '' then
  table.insert(fields, 'meta')
  table.insert(fields, ARGV[7])
end
if ARGV[5] == '1' then
  table.insert(fields, 'approvalId')
  table.insert(fields, ARGV[6])
end
redis.call('XADD', KEYS[2], '*', unpack(fields))
if ARGV[5] == '1' then redis.call('XADD', KEYS[3], '*', unpack(fields)) end
return seq
`);

/** Inserts or updates a tracked action (ARGV[9] = 'track' | 'update'). */
const TRACK = new LuaScript(`
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[9] == 'update' and not exists then return false end
if not exists then
  redis.call('HSET', KEYS[1], 'actionId', ARGV[1], 'approvalId', ARGV[2], 'seq', redis.call('INCR', KEYS[5]))
  redis.call('SADD', KEYS[4], ARGV[1])
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'open', ARGV[4], 'updatedAt', ARGV[7])
if ARGV[6] == '1' then redis.call('HSET', KEYS[1], 'detail', ARGV[5]) end
if ARGV[4] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[8], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
else
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
`);

/** KEYS: the request's device hash. ARGV: updatedAt, then machine id and JSON pairs; existing devices are kept. */
const ADD_BULK = new LuaScript(`
for i = 2, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
`);

/** KEYS: the device hash. ARGV: machine id, to, updatedAt, actionId or '', reason or '', then the states it may be in. */
const TRANSITION_BULK = new LuaScript(`
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local d = cjson.decode(raw)
local allowed = false
for i = 6, #ARGV do if d.state == ARGV[i] then allowed = true end end
if not allowed then return false end
d.state = ARGV[2]
d.updatedAt = ARGV[3]
if ARGV[4] ~= '' then d.actionId = ARGV[4] end
if ARGV[5] ~= '' then d.reason = ARGV[5] end
local out = cjson.encode(d)
redis.call('HSET', KEYS[1], ARGV[1], out)
return out
`);

const SAVE_CONVERSATION = new LuaScript(`
local old = redis.call('HGET', KEYS[1], 'platform')
if old and old ~= ARGV[3] then redis.call('ZREM', ARGV[1] .. 'convs:' .. old, ARGV[2]) end
redis.call('HSET', KEYS[1], 'platform', ARGV[3], 'ref', ARGV[4], 'updatedAt', ARGV[5])
redis.call('ZADD', ARGV[1] .. 'convs:' .. ARGV[3], 0, ARGV[2])
return 1
`);

const AUDIT_META = ['actorName', 'command', 'place', 'definitions', 'devices', 'outcome'] as const;
type AuditMeta = Pick<AuditEntry, (typeof AUDIT_META)[number]>;

function auditOf(f: Record<string, string>): StoredAuditEntry {
  const e: StoredAuditEntry = { seq: Number(f.seq), at: f.at ?? '', actor: f.actor ?? '', event: f.event as AuditEntry['event'], detail: parse<Json>(f.detail, 'audit detail') };
  if (f.approvalId !== undefined) e.approvalId = f.approvalId;
  return f.meta ? Object.assign(e, parse<AuditMeta>(f.meta, 'audit meta')) : e;
}

function toJson(value: Json | undefined): string {
  return JSON.stringify(value ?? null);
}

function isoOf(value: string, field: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new StoreError(`${field} is not a valid date: ${value}`);
  return d.toISOString();
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

function parse<T>(text: string | undefined, what: string): T {
  try {
    return JSON.parse(text ?? 'null') as T;
  } catch {
    throw new StoreError(`stored ${what} is not valid JSON`);
  }
}

export interface RedisStoreOptions extends StoreOptions, RedisClientOptions {
  log?: Logger;
}

/** Opens the Redis store named by a `redis://` or `rediss://` URL (password, database and `?prefix=` from the URL). */
export async function openRedisStore(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
  const target = parseRedisUrl(url);
  const client = await connectRedis(target, options);
  return new RedisStore(client, target.prefix, target.where, { ...options, answerMs: options.commandTimeoutMs ?? REDIS_ANSWER_MS });
}

/** Says why Redis failed, at most once a second (an outage fails every command). */
function failureLogger(log: Logger | undefined) {
  let last = 0;
  let quiet = 0;
  return (error: Error) => {
    if (!log) return;
    const now = Date.now();
    if (now - last < 1000) {
      quiet += 1;
      return;
    }
    log.warn({ err: error.cause instanceof Error ? error.cause.message : error.message, ...(quiet ? { alsoFailed: quiet } : {}) }, 'redis: an operation failed');
    last = now;
    quiet = 0;
  };
}

export class RedisStore implements Store {
  readonly kind = 'redis';
  private readonly now: () => Date;
  private closed = false;
  /** How long one operation may wait for Redis. */
  readonly answerMs: number;
  private readonly noteFailure: (error: Error) => void;

  constructor(
    /** The connection, shared with the rate limiter, the leases and the list cache. */
    readonly client: Redis,
    /** Every key starts with it. */
    readonly prefix: string,
    /** host:port/db, for logs. */
    readonly where: string,
    options: StoreOptions & { answerMs?: number; log?: Logger } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    this.answerMs = options.answerMs ?? REDIS_ANSWER_MS;
    this.noteFailure = failureLogger(options.log?.child({ part: 'store' }));
  }

  private key(...parts: string[]): string {
    return this.prefix + parts.join(':');
  }

  /** Runs Redis work: closed → StoreClosedError; unreachable → StoreUnavailableError. */
  private async run<T>(work: (r: Redis) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError();
    try {
      return await answerWithin(work(this.client), this.answerMs);
    } catch (error) {
      const failure = redisFailure(error);
      this.noteFailure(failure);
      throw failure;
    }
  }

  private nowIso(): string {
    return this.now().toISOString();
  }

  // ---- approvals ----

  private toRecord(h: Record<string, string>): ApprovalRecord {
    const id = h.id ?? '?';
    const rec: ApprovalRecord = {
      id,
      operation: parse(h.operationJson, `operation of ${id}`),
      operationJson: h.operationJson ?? '',
      operationHash: h.operationHash ?? '',
      summary: h.summary ?? '',
      requester: parse(h.requester, `requester of ${id}`),
      origin: parse(h.origin, `origin of ${id}`),
      state: h.state as ApprovalState,
      reason: h.reason ?? '',
      createdAt: h.createdAt ?? '',
      expiresAt: h.expiresAt ?? '',
      cards: parse(h.cards ?? '[]', `cards of ${id}`),
      version: Number(h.version),
      updatedAt: h.updatedAt ?? '',
    };
    if (h.decidedBy !== undefined) rec.decidedBy = parse(h.decidedBy, `decidedBy of ${id}`);
    if (h.decidedAt !== undefined) rec.decidedAt = h.decidedAt;
    if (h.decisionReason !== undefined) rec.decisionReason = h.decisionReason;
    if (h.result !== undefined) rec.result = parse(h.result, `result of ${id}`);
    if (h.owner !== undefined) rec.owner = h.owner;
    if (h.heartbeatAt !== undefined) rec.heartbeatAt = h.heartbeatAt;
    if (h.quorum !== undefined && h.quorum !== '1') rec.quorum = Number(h.quorum);
    if (h.votes !== undefined) rec.votes = parse(h.votes, `votes of ${id}`);
    if (h.breakGlass !== undefined) rec.breakGlass = parse(h.breakGlass, `breakGlass of ${id}`);
    return rec;
  }

  async createApproval(rec: NewApprovalRecord): Promise<ApprovalRecord> {
    checkState(rec.state);
    for (const card of rec.cards ?? []) checkCard(card);
    const createdAt = isoOf(rec.createdAt, 'createdAt');
    const expiresAt = isoOf(rec.expiresAt, 'expiresAt');
    const fields: Record<string, string> = {
      id: rec.id,
      kind: rec.operation.kind,
      operationJson: rec.operationJson,
      operationHash: rec.operationHash,
      summary: rec.summary,
      requesterActor: rec.requester.actor,
      requester: JSON.stringify(rec.requester),
      origin: JSON.stringify(rec.origin),
      state: rec.state,
      reason: rec.reason,
      createdAt,
      expiresAt,
      createdMs: String(Date.parse(createdAt)),
      expiresMs: String(Date.parse(expiresAt)),
      cards: JSON.stringify(rec.cards ?? []),
      version: '1',
      updatedAt: createdAt,
    };
    if (rec.decidedBy) fields.decidedBy = JSON.stringify(rec.decidedBy);
    if (rec.decidedAt) fields.decidedAt = isoOf(rec.decidedAt, 'decidedAt');
    if (rec.decisionReason !== undefined) fields.decisionReason = rec.decisionReason;
    if (rec.result !== undefined) fields.result = toJson(rec.result);
    if (rec.quorum !== undefined) fields.quorum = String(quorumOf(rec.quorum));
    if (rec.votes !== undefined) fields.votes = JSON.stringify(rec.votes);
    if (rec.breakGlass !== undefined) fields.breakGlass = JSON.stringify(rec.breakGlass);
    const created = await this.run((r) =>
      CREATE.run(r, [this.key('approval', rec.id), this.key('approvals', 'all'), this.key('approvals', 'state', rec.state), this.key('approvals', 'expiry')], [
        rec.id,
        fields.createdMs!,
        fields.expiresMs!,
        rec.state,
        ...Object.entries(fields).flat(),
      ]),
    );
    if (created !== 1) throw new StoreConflictError(`an approval with id ${rec.id} already exists`);
    return this.toRecord(fields);
  }

  async getApproval(id: string): Promise<ApprovalRecord | null> {
    const h = await this.run((r) => r.hgetall(this.key('approval', id)));
    return h.id === undefined ? null : this.toRecord(h);
  }

  async listApprovals(query: ListApprovalsQuery = {}): Promise<ApprovalRecord[]> {
    const limit = clampLimit(query.limit, 50);
    const states = query.states;
    if (states !== undefined && states.length === 0) return [];
    states?.forEach(checkState);
    const indexes = states ? [...new Set(states)].map((s) => this.key('approvals', 'state', s)) : [this.key('approvals', 'all')];
    return this.run(async (r) => {
      const tx = r.multi();
      for (const index of indexes) tx.zrevrange(index, 0, limit - 1, 'WITHSCORES');
      const replies = (await tx.exec()) ?? [];
      const found: Array<{ id: string; score: number }> = [];
      for (const [error, reply] of replies) {
        if (error) throw error;
        const flat = reply as string[];
        for (let i = 0; i + 1 < flat.length; i += 2) found.push({ id: flat[i]!, score: Number(flat[i + 1]) });
      }
      found.sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
      const ids = found.slice(0, limit).map((f) => f.id);
      const read = r.pipeline();
      for (const id of ids) read.hgetall(this.key('approval', id));
      const rows = (await read.exec()) ?? [];
      const out: ApprovalRecord[] = [];
      for (const [error, h] of rows) {
        if (error) throw error;
        const hash = h as Record<string, string>;
        // A request that changed state between the two reads is left out of a state listing.
        if (hash.id === undefined || (states && !states.includes(hash.state as ApprovalState))) continue;
        out.push(this.toRecord(hash));
      }
      return out;
    });
  }

  async transitionApproval(id: string, from: ApprovalState | readonly ApprovalState[], to: ApprovalState, patch: ApprovalPatch = {}): Promise<ApprovalRecord | null> {
    const fromList: readonly ApprovalState[] = typeof from === 'string' ? [from] : from;
    fromList.forEach(checkState);
    checkState(to);
    if (fromList.length === 0) return null;
    const sets: string[] = [];
    if (patch.decidedBy !== undefined) sets.push('decidedBy', JSON.stringify(patch.decidedBy));
    if (patch.decidedAt !== undefined) sets.push('decidedAt', isoOf(patch.decidedAt, 'decidedAt'));
    if (patch.decisionReason !== undefined) sets.push('decisionReason', patch.decisionReason);
    if (patch.result !== undefined) sets.push('result', toJson(patch.result));
    if (patch.owner !== undefined) sets.push('owner', patch.owner);
    if (patch.heartbeatAt !== undefined) sets.push('heartbeatAt', isoOf(patch.heartbeatAt, 'heartbeatAt'));
    if (patch.votes !== undefined) sets.push('votes', JSON.stringify(patch.votes));
    if (patch.breakGlass !== undefined) sets.push('breakGlass', JSON.stringify(patch.breakGlass));
    const updatedAt = patch.updatedAt ? isoOf(patch.updatedAt, 'updatedAt') : this.nowIso();
    const reply = await this.run((r) =>
      TRANSITION.run(r, [this.key('approval', id)], [
        this.prefix,
        id,
        fromList.join(','),
        to,
        patch.ifVersion === undefined ? '' : String(patch.ifVersion),
        patch.ifOwner === undefined ? '0' : '1',
        patch.ifOwner ?? '',
        updatedAt,
        ...sets,
      ]),
    );
    return reply ? this.toRecord(pairs(reply)) : null;
  }

  async addApprovalCard(id: string, card: ApprovalCard): Promise<ApprovalRecord | null> {
    checkCard(card);
    const clean: ApprovalCard = { platform: card.platform, location: { ...card.location } };
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.getApproval(id);
      if (!current) return null;
      if (current.cards.some((c) => sameCard(c, clean))) return current;
      const reply = await this.run((r) =>
        SET_IF_VERSION.run(r, [this.key('approval', id)], [String(current.version), this.nowIso(), 'cards', JSON.stringify([...current.cards, clean])]),
      );
      if (reply) return this.toRecord(pairs(reply));
    }
    throw new StoreError(`approval ${id}: could not record a card (too many concurrent changes)`);
  }

  async expireDue(now: Date): Promise<ApprovalRecord[]> {
    const out: ApprovalRecord[] = [];
    const batch = 200;
    for (;;) {
      const reply = (await this.run((r) => EXPIRE_DUE.run(r, [this.key('approvals', 'expiry')], [this.prefix, now.getTime(), now.toISOString(), batch]))) as [number, unknown[]];
      for (const h of reply[1]) out.push(this.toRecord(pairs(h)));
      if (reply[0] < batch) return out;
    }
  }

  // ---- audit (append-only: XADD, never XDEL or XTRIM) ----

  async appendAudit(entry: AuditEntry): Promise<StoredAuditEntry> {
    if (!(AUDIT_EVENTS as readonly string[]).includes(entry.event)) throw new StoreError(`unknown audit event: ${entry.event}`);
    const at = isoOf(entry.at, 'at');
    const detail = toJson(entry.detail);
    const hasApproval = entry.approvalId !== undefined;
    const meta: AuditMeta = {};
    for (const k of AUDIT_META) if (entry[k] !== undefined && !(Array.isArray(entry[k]) && entry[k].length === 0)) (meta as Record<string, unknown>)[k] = entry[k];
    const metaJson = Object.keys(meta).length ? JSON.stringify(meta) : '';
    const seq = await this.run((r) =>
      APPEND_AUDIT.run(r, [this.key('audit', 'seq'), this.key('audit'), this.key('audit', 'approval', entry.approvalId ?? '-')], [
        at,
        entry.actor,
        entry.event,
        detail,
        hasApproval ? '1' : '0',
        entry.approvalId ?? '',
        metaJson,
      ]),
    );
    const stored: StoredAuditEntry = { seq: Number(seq), at, actor: entry.actor, event: entry.event, detail: JSON.parse(detail) as Json };
    if (hasApproval) stored.approvalId = entry.approvalId;
    return Object.assign(stored, metaJson ? (JSON.parse(metaJson) as AuditMeta) : {});
  }

  /**
   * Newest first through the stream in chunks, filtered here (a stream has no secondary
   * index): the log grows by people's actions, so a scan stays small.
   */
  async listAudit(query: ListAuditQuery = {}): Promise<StoredAuditEntry[]> {
    const limit = clampLimit(query.limit, 200);
    const stream = query.approvalId !== undefined ? this.key('audit', 'approval', query.approvalId) : this.key('audit');
    const filtered = query.since !== undefined || query.actor !== undefined || query.definition !== undefined || query.device !== undefined || query.before !== undefined;
    const chunk = filtered ? 500 : limit;
    const out: StoredAuditEntry[] = [];
    let end = '+';
    if (query.since !== undefined) isoOf(query.since, 'since');
    while (out.length < limit) {
      const entries = await this.run((r) => r.xrevrange(stream, end, '-', 'COUNT', chunk));
      for (const [id, flat] of entries) {
        if (id === end) continue;
        const e = auditOf(pairs(flat));
        if (auditMatches(e, query)) out.push(e);
        if (out.length >= limit) break;
      }
      const last = entries.at(-1)?.[0];
      if (entries.length < chunk || last === undefined) break;
      end = last;
    }
    return out.reverse();
  }

  // ---- tracked actions ----

  private toTracked(h: Record<string, string>): StoredTrackedAction {
    const t: StoredTrackedAction = { actionId: h.actionId ?? '', approvalId: h.approvalId ?? '', status: h.status ?? '', updatedAt: h.updatedAt ?? '', open: h.open === '1' };
    if (h.detail !== undefined) t.detail = parse<Json>(h.detail, 'tracked action detail');
    return t;
  }

  private async upsertAction(mode: 'track' | 'update', action: TrackedAction): Promise<StoredTrackedAction | null> {
    const updatedAt = isoOf(action.updatedAt, 'updatedAt');
    const reply = await this.run((r) =>
      TRACK.run(
        r,
        [this.key('action', action.actionId), this.key('actions', 'open'), this.key('actions', 'closed'), this.key('actions', 'approval', action.approvalId), this.key('actions', 'seq')],
        [
          action.actionId,
          action.approvalId,
          action.status,
          isOpenStatus(action.status) ? '1' : '0',
          action.detail === undefined ? '' : toJson(action.detail),
          action.detail === undefined ? '0' : '1',
          updatedAt,
          Date.parse(updatedAt),
          mode,
        ],
      ),
    );
    return reply ? this.toTracked(pairs(reply)) : null;
  }

  async trackAction(action: TrackedAction): Promise<StoredTrackedAction> {
    return (await this.upsertAction('track', action))!;
  }

  async updateTrackedAction(actionId: string, patch: { status: string; updatedAt: string; detail?: Json }): Promise<StoredTrackedAction | null> {
    return this.upsertAction('update', { actionId, approvalId: '', ...patch });
  }

  async listTrackedActions(query: { open?: boolean; approvalId?: string } = {}): Promise<StoredTrackedAction[]> {
    return this.run(async (r) => {
      let ids: string[];
      if (query.approvalId !== undefined) ids = await r.smembers(this.key('actions', 'approval', query.approvalId));
      else if (query.open === true) ids = await r.zrange(this.key('actions', 'open'), 0, -1);
      else if (query.open === false) ids = await r.zrange(this.key('actions', 'closed'), 0, -1);
      else ids = [...(await r.zrange(this.key('actions', 'open'), 0, -1)), ...(await r.zrange(this.key('actions', 'closed'), 0, -1))];
      const read = r.pipeline();
      for (const id of ids) read.hgetall(this.key('action', id));
      const rows: Array<{ t: StoredTrackedAction; seq: number }> = [];
      for (const [error, h] of (await read.exec()) ?? []) {
        if (error) throw error;
        const hash = h as Record<string, string>;
        if (hash.actionId === undefined) continue;
        const t = this.toTracked(hash);
        if (query.open !== undefined && t.open !== query.open) continue;
        rows.push({ t, seq: Number(hash.seq) });
      }
      rows.sort((a, b) => (a.t.updatedAt < b.t.updatedAt ? -1 : a.t.updatedAt > b.t.updatedAt ? 1 : a.seq - b.seq));
      return rows.map((row) => row.t);
    });
  }

  // ---- devices of multi-device AV scans ----

  private toBulk(approvalId: string, machineId: string, json: string): BulkDevice & { seq: number } {
    const d = parse<{ seq: number; name: string; state: BulkDeviceState; actionId?: string; reason?: string; updatedAt: string }>(json, 'device of a multi-device scan');
    return { approvalId, machineId, name: d.name, state: d.state, ...(d.actionId ? { actionId: d.actionId } : {}), ...(d.reason ? { reason: d.reason } : {}), updatedAt: d.updatedAt, seq: d.seq };
  }

  async addBulkDevices(approvalId: string, devices: ReadonlyArray<{ machineId: string; name: string }>, at: string): Promise<void> {
    const updatedAt = isoOf(at, 'at');
    const args = devices.flatMap((d, seq) => [d.machineId, JSON.stringify({ seq, name: d.name, state: 'queued', updatedAt })]);
    await this.run((r) => ADD_BULK.run(r, [this.key('bulk', approvalId)], [updatedAt, ...args]));
  }

  async listBulkDevices(approvalId: string): Promise<BulkDevice[]> {
    const all = await this.run((r) => r.hgetall(this.key('bulk', approvalId)));
    return Object.entries(all)
      .map(([machineId, json]) => this.toBulk(approvalId, machineId, json))
      .sort((a, b) => a.seq - b.seq)
      .map(({ seq: _seq, ...device }) => device);
  }

  async transitionBulkDevice(approvalId: string, machineId: string, from: readonly BulkDeviceState[], to: BulkDeviceState, patch: BulkDevicePatch): Promise<BulkDevice | null> {
    if (!(BULK_DEVICE_STATES as readonly string[]).includes(to)) throw new StoreError(`unknown device state: ${to}`);
    if (from.length === 0) return null;
    const reply = await this.run((r) =>
      TRANSITION_BULK.run(r, [this.key('bulk', approvalId)], [machineId, to, isoOf(patch.updatedAt, 'updatedAt'), patch.actionId ?? '', patch.reason ?? '', ...from]),
    );
    if (!reply) return null;
    const { seq: _seq, ...device } = this.toBulk(approvalId, machineId, String(reply));
    return device;
  }

  // ---- conversations and settings ----

  async saveConversation(key: string, platform: string, ref: Json): Promise<void> {
    await this.run((r) => SAVE_CONVERSATION.run(r, [this.key('conv', key)], [this.prefix, key, platform, toJson(ref), this.nowIso()]));
  }

  private toConversation(key: string, h: Record<string, string>): ConversationRecord {
    return { key, platform: h.platform ?? '', ref: parse<Json>(h.ref, 'conversation reference'), updatedAt: h.updatedAt ?? '' };
  }

  async getConversation(key: string): Promise<ConversationRecord | null> {
    const h = await this.run((r) => r.hgetall(this.key('conv', key)));
    return h.platform === undefined ? null : this.toConversation(key, h);
  }

  async listConversations(platform: string, filter: ConversationFilter = {}): Promise<ConversationRecord[]> {
    return this.run(async (r) => {
      const index = this.key('convs', platform);
      const prefix = filter.keyPrefix ?? '';
      // Keys sort as bytes (score 0 for all): a prefix is the range [prefix, prefix + 0xff).
      let keys =
        prefix === ''
          ? await r.zrange(index, 0, -1)
          : (await r.zrangebylexBuffer(index, Buffer.concat([Buffer.from('['), Buffer.from(prefix)]), Buffer.concat([Buffer.from('('), Buffer.from(prefix), Buffer.from([0xff])]))).map((b) =>
              b.toString('utf8'),
            );
      if (filter.keys !== undefined) {
        const wanted = new Set(filter.keys);
        keys = keys.filter((k) => wanted.has(k));
      }
      const read = r.pipeline();
      for (const k of keys) read.hgetall(this.key('conv', k));
      const out: ConversationRecord[] = [];
      const rows = (await read.exec()) ?? [];
      rows.forEach(([error, h], i) => {
        if (error) throw error;
        const hash = h as Record<string, string>;
        if (hash.platform === platform) out.push(this.toConversation(keys[i]!, hash));
      });
      return out;
    });
  }

  async getSetting(key: string): Promise<Json | null> {
    const value = await this.run((r) => r.hget(this.key('settings'), key));
    return value === null ? null : parse<Json>(value, `setting ${key}`);
  }

  async setSetting(key: string, value: Json): Promise<void> {
    await this.run((r) => r.hset(this.key('settings'), key, toJson(value)));
  }

  // ---- dedupe ----

  async claimOnce(key: string, ttlMs: number): Promise<boolean> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0) throw new StoreError(`claimOnce: ttlMs must be a positive number, got ${ttlMs}`);
    const ok = await this.run((r) => r.set(this.key('claim', key), '1', 'PX', Math.ceil(ttlMs), 'NX'));
    return ok === 'OK';
  }

  // ---- lifecycle ----

  async ping(): Promise<void> {
    await this.run((r) => r.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
