/**
 * The typed MDE client: one method per endpoint the bot uses. Bodies are validated with
 * the schemas of requests.ts before anything is sent; answers are read with the tolerant
 * schemas of entities.ts.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AvScanOutcome, MdeApi } from './api.js';
import { avScanRefusal, isActiveRequestRefusal, isEarlierAction, runningScanText } from './avscan.js';
import {
  MachineActionSchema,
  MachineSchema,
  ScanAgentSchema,
  ScanDefinitionSchema,
  ScanHistoryEntrySchema,
  collectionOf,
  isFinalActionStatus,
  type MachineAction,
  type ScanAgent,
  type ScanDefinition,
} from './entities.js';
import { MdeError } from './errors.js';
import { createHttp, type HttpOptions, type RetryPolicy } from './http.js';
import { createHistoryReader, HISTORY_MAX_TOP } from './history.js';
import type { Limiter } from './limiter.js';
import {
  avScanBodySchema,
  batchDeleteBodySchema,
  cancelActionBodySchema,
  createDefinitionBodySchema,
  describeIssues,
  scanHistoryBodySchema,
  updateDefinitionBodySchema,
  wholeDefinitionBody,
} from './requests.js';
import type { TokenProvider } from './token.js';

export interface MdeClientOptions {
  baseUrl: string;
  tokens: TokenProvider;
  limiter: Limiter;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  /** How long a definition list is served from the cache for a listing (`scans list`). Default 10 s. */
  listCacheMs?: number;
  /**
   * How old the cached list may be to look a definition up by id or name, or to base an
   * update on (the bot's own writes are in it). Default 60 s (0 when `listCacheMs` is 0:
   * no cache at all); a miss reads MDE.
   */
  definitionMaxAgeMs?: number;
  /** How long a history read waits for others to share its call. Default 25 ms. */
  historyBatchMs?: number;
  /** How long a history answer is reused for the same read. Default 5 s. */
  historyCacheMs?: number;
  /** How long the scanner-agent list is reused (default 60 s; 0 when `listCacheMs` is 0). */
  agentsCacheMs?: number;
  /** `$top` for paged reads (default 1000). */
  pageSize?: number;
  /** The most calls one listing may spend (pages and nextLinks together). Default 10. */
  maxListCalls?: number;
  log?: Logger;
  observe?: HttpOptions['observe'];
}

const DEFINITIONS = '/api/DeviceAuthenticatedScanDefinitions';
const AGENTS = '/api/DeviceAuthenticatedScanAgents';
/** Machine action ids per `$filter=id in (…)` call (the URL stays short). */
const ACTIONS_PER_CALL = 50;
/**
 * Listings ask for this many items a page (`$top`): the whole list in one call for any
 * real tenant. No document gives MDE's own cap on these lists, so a page of 100 or more
 * items that is shorter than asked is confirmed by one more call.
 */
const LIST_PAGE_SIZE = 1000;
const CAP_SUSPECT = 100;
/** A lookup that missed reads MDE again unless the list was read this recently. */
const MISS_RECHECK_MS = 1000;
/** Machine action ids this client was handed by runAntiVirusScan, to know one MDE hands back again. */
const KNOWN_ACTIONS_KEPT = 1000;

function validate<T extends z.ZodType>(schema: T, body: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    throw new MdeError('validation', `The ${what} is not valid: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

/** A failure after which the write may or may not have happened (5xx, network, time-out). */
function isUnclear(error: unknown): error is MdeError {
  return error instanceof MdeError && error.kind === 'unavailable';
}

/** The definition a create asked for (MDE gives it an id): same name, type, targets, interval and agent. */
function sameDefinition(d: ScanDefinition, body: { scanName: string; scanType: string; target: string; intervalInHours: number; scannerAgent: { machineId: string } }): boolean {
  const norm = (t: string | null | undefined) => (t ?? '').split(',').map((x) => x.trim().toLowerCase()).sort().join(',');
  return (
    d.scanName === body.scanName &&
    d.scanType === body.scanType &&
    norm(d.target) === norm(body.target) &&
    d.intervalInHours === body.intervalInHours &&
    (d.scannerAgent?.machineId ?? '').toLowerCase() === body.scannerAgent.machineId.toLowerCase()
  );
}

export function createMdeClient(options: MdeClientOptions): MdeApi {
  const http = createHttp(options);
  const pageSize = options.pageSize ?? LIST_PAGE_SIZE;
  const listCacheMs = options.listCacheMs ?? 10_000;
  const maxListCalls = options.maxListCalls ?? 10;
  const knownActions = new Set<string>();
  let agentsInFlight: Promise<ScanAgent[]> | null = null;
  let agentsCache: { at: number; agents: ScanAgent[] } | null = null;
  const agentsCacheMs = options.agentsCacheMs ?? (listCacheMs === 0 ? 0 : 60_000);

  const definitionMaxAgeMs = options.definitionMaxAgeMs ?? (listCacheMs === 0 ? 0 : 60_000);

  /**
   * The definition list as last read from MDE (`at`: when that read started), with the
   * bot's own writes applied since: a create or update puts MDE's answer in, a delete
   * takes the ids out. A read in flight when a write lands gets the write applied to its
   * answer too (writes are idempotent upserts and removals), so no read is thrown away.
   */
  let cache: { at: number; byId: Map<string, ScanDefinition>; list?: ScanDefinition[] } | null = null;
  type Write = { put: ScanDefinition } | { remove: string[] };
  const reads = new Set<{ writes: Write[] }>();
  let shared: Promise<ScanDefinition[]> | null = null;

  function applyTo(byId: Map<string, ScanDefinition>, write: Write) {
    if ('put' in write) byId.set(write.put.id.toLowerCase(), write.put);
    else for (const id of write.remove) byId.delete(id.toLowerCase());
  }

  function wrote(write: Write) {
    if (cache) {
      applyTo(cache.byId, write);
      cache.list = undefined;
    }
    for (const read of reads) read.writes.push(write);
  }

  function cachedList(): ScanDefinition[] {
    const c = cache!;
    c.list ??= [...c.byId.values()];
    return c.list;
  }

  /** One full read of the list from MDE; its answer (with writes that landed meanwhile) becomes the cache. */
  async function readDefinitions(): Promise<ScanDefinition[]> {
    const started = Date.now();
    const read = { writes: [] as Write[] };
    reads.add(read);
    try {
      const value = await readAllPages(DEFINITIONS, ScanDefinitionSchema, (d) => d.id);
      const byId = new Map(value.map((d) => [d.id.toLowerCase(), d] as const));
      for (const write of read.writes) applyTo(byId, write);
      if (!cache || cache.at <= started) cache = { at: started, byId };
      return cache.at === started ? cachedList() : [...byId.values()];
    } finally {
      reads.delete(read);
    }
  }

  /** The cached list when younger than `maxAgeMs`, else one read shared by every concurrent caller. */
  function definitions(maxAgeMs: number): Promise<ScanDefinition[]> {
    if (cache && Date.now() - cache.at < maxAgeMs) return Promise.resolve(cachedList());
    if (!shared) {
      const current = readDefinitions().finally(() => {
        if (shared === current) shared = null;
      });
      shared = current;
    }
    return shared;
  }

  const history = createHistoryReader({
    windowMs: options.historyBatchMs,
    cacheMs: options.historyCacheMs,
    async fetch(ids, top, skip) {
      const { data } = await http.call({
        method: 'POST',
        path: `${DEFINITIONS}/GetScanHistoryByScanDefinitionId`,
        query: { $top: top, $skip: skip || undefined },
        body: { ScanDefinitionIds: ids },
        schema: collectionOf(ScanHistoryEntrySchema),
        idempotent: true,
      });
      return data?.value ?? [];
    },
  });

  /**
   * Reads a whole collection. No document confirms `$top`/`$skip` on these lists, so the
   * answer decides: a nextLink (new, followed by its path and query on the base URL) is the
   * next page; a short page is the last; a page that brings no id not seen before means the
   * server ignored the paging and already sent everything. Never more than `maxListCalls`
   * calls for one listing.
   */
  async function readAllPages<T extends z.ZodType>(path: string, item: T, keyOf: (entry: z.output<T>) => string): Promise<z.output<T>[]> {
    const schema = collectionOf(item);
    const items: z.output<T>[] = [];
    const seen = new Set<string>();
    const links = new Set<string>();
    let next: { path: string; query?: Record<string, string | number> } = { path, query: { $top: pageSize, $skip: 0 } };
    for (let calls = 1; ; calls += 1) {
      // Pages after the first go ahead of other waiting calls: one listing, one sequence of slots.
      const { data } = await http.call({ method: 'GET', ...next, schema, idempotent: true, urgent: calls > 1 });
      const value = (data?.value ?? []) as z.output<T>[];
      let fresh = 0;
      for (const entry of value) {
        const key = keyOf(entry).toLowerCase();
        if (seen.has(key)) continue;
        seen.add(key);
        items.push(entry);
        fresh += 1;
      }
      const link = data?.['@odata.nextLink'];
      if (fresh === 0) return items;
      if (link) {
        if (links.has(link)) return items;
        links.add(link);
        next = { path: link };
      } else if (value.length < Math.min(pageSize, CAP_SUSPECT)) {
        return items;
      } else {
        // A full page, or a short one so large it may be a server cap below our $top: one
        // more page tells (it brings no new id when the list is complete).
        next = { path, query: { $top: pageSize, $skip: items.length } };
      }
      if (calls >= maxListCalls) {
        throw new MdeError('bad_response', `MDE kept sending more of ${path} after ${calls} calls (${items.length} items); the bot stopped there to spare the API quota.`);
      }
    }
  }

  return {
    listDefinitions(options = {}) {
      const freshness = options.freshness ?? 'list';
      const maxAge = freshness === 'list' ? listCacheMs : freshness === 'lookup' ? definitionMaxAgeMs : MISS_RECHECK_MS;
      return definitions(maxAge);
    },

    async createDefinition(body) {
      const valid = validate(createDefinitionBodySchema, body, 'scan definition');
      try {
        const { data } = await http.call({ method: 'POST', path: DEFINITIONS, body: valid, schema: ScanDefinitionSchema, idempotent: false });
        const created = required(data, 'create');
        wrote({ put: created });
        return created;
      } catch (error) {
        // An unclear answer (5xx, a lost answer) to a create is checked, not guessed: MDE
        // may have created it, and "try again" would then make a duplicate.
        if (!isUnclear(error)) throw error;
        const created = (await readDefinitions()).find((d) => sameDefinition(d, valid));
        if (created) return created;
        throw new MdeError('unavailable', `${(error as MdeError).message} The bot checked: MDE holds no such definition, so nothing was created; it is safe to try again.`, (error as MdeError).details);
      }
    },

    async updateDefinition(id, body) {
      const changes = validate(updateDefinitionBodySchema, body, 'update');
      // The whole definition goes, as the docs send it: the changes laid over the definition
      // as the bot holds it (read from MDE at most definitionMaxAgeMs ago, with the bot's own
      // writes since), so a server that replaces rather than merges loses nothing.
      const wanted = id.trim().toLowerCase();
      const find = (all: ScanDefinition[]) => all.find((d) => d.id.toLowerCase() === wanted);
      const current = find(await definitions(definitionMaxAgeMs)) ?? find(await definitions(MISS_RECHECK_MS));
      const whole = current ? wholeDefinitionBody(current, changes) : changes;
      const { data } = await http.call({ method: 'PATCH', path: `${DEFINITIONS}/${encodeURIComponent(id)}`, body: whole, schema: ScanDefinitionSchema, idempotent: true });
      const updated = required(data, 'update');
      wrote({ put: updated });
      return updated;
    },

    async deleteDefinitions(ids) {
      const valid = validate(batchDeleteBodySchema, { ScanDefinitionIds: ids }, 'delete request');
      try {
        await http.call({ method: 'POST', path: `${DEFINITIONS}/BatchDelete`, body: valid, idempotent: true });
        wrote({ remove: valid.ScanDefinitionIds });
      } catch (error) {
        // An unclear answer (5xx, a lost answer), or a 404 on a retry, is checked by reading
        // back: the ids gone means the delete happened.
        if (!(error instanceof MdeError && (error.kind === 'not_found' || isUnclear(error)))) throw error;
        const remaining = new Set((await readDefinitions()).map((d) => d.id.toLowerCase()));
        const left = valid.ScanDefinitionIds.filter((id) => remaining.has(id.toLowerCase()));
        if (left.length === 0) return;
        // A 404 with some still there: MDE refused the batch (an id it does not know).
        if (error.kind === 'not_found' || left.length === valid.ScanDefinitionIds.length) throw error;
        throw new MdeError('unavailable', `${error.message} The bot checked: ${valid.ScanDefinitionIds.length - left.length} of ${valid.ScanDefinitionIds.length} were deleted; still there: ${left.join(', ')}.`, error.details);
      }
    },

    async getScanHistory(ids, page = {}) {
      const valid = validate(scanHistoryBodySchema, { ScanDefinitionIds: ids }, 'history request');
      const top = Math.max(1, Math.min(page.top ?? 100, HISTORY_MAX_TOP));
      return history.read(valid.ScanDefinitionIds, top, page.skip ?? 0);
    },

    /**
     * A second scan while one is pending: MDE answers the pending MachineAction (201 or 200)
     * or a 400 "Action is already in progress" (code ActiveRequestAlreadyExists, or none).
     * Which one it was is read from MDE's answer, never from clocks; the running scan is
     * described as MDE has it (its type, who started it). Any other 400 names the device's
     * platform.
     */
    async runAntivirusScan(machineId, body, options = {}): Promise<AvScanOutcome> {
      const valid = validate(avScanBodySchema, body, 'antivirus scan request');
      const background = options.background === true;
      let action: MachineAction;
      try {
        const { data } = await http.call({
          method: 'POST',
          path: `/api/machines/${encodeURIComponent(machineId)}/runAntiVirusScan`,
          body: valid,
          schema: MachineActionSchema,
          idempotent: false,
          background,
        });
        action = required(data, 'antivirus scan');
      } catch (error) {
        if (isActiveRequestRefusal(error)) {
          const running = await runningScanOn(machineId, background).catch(() => null);
          return { kind: 'already_running', action: running, message: runningScanText(running) };
        }
        if (error instanceof MdeError && error.status === 400) {
          const machine = background ? null : await getMachine(machineId).catch(() => null);
          throw avScanRefusal(error, machine, machineId);
        }
        throw error;
      }
      if (isEarlierAction(action, valid, knownActions)) {
        return { kind: 'already_running', action, message: runningScanText(action) };
      }
      remember(action.id);
      return { kind: 'started', action };
    },

    getMachine,

    async findMachinesByDnsName(name) {
      const { status, data } = await http.call({
        method: 'GET',
        path: '/api/machines',
        query: { $filter: `computerDnsName eq '${name.replaceAll("'", "''")}'` },
        schema: collectionOf(MachineSchema),
        idempotent: true,
        passStatuses: [404],
      });
      return status === 404 ? [] : (data?.value ?? []);
    },

    async findMachinesByTag(tag, startsWith) {
      const { status, data } = await http.call({
        method: 'GET',
        path: '/api/machines/findbytag',
        query: { tag, useStartsWithFilter: startsWith ? 'true' : 'false' },
        schema: collectionOf(MachineSchema),
        idempotent: true,
        passStatuses: [404],
      });
      return status === 404 ? [] : (data?.value ?? []);
    },

    async listMachinesInGroup(group) {
      const { status, data } = await http.call({
        method: 'GET',
        path: '/api/machines',
        query: { $filter: `rbacGroupName eq '${group.replaceAll("'", "''")}'`, $top: 10_000 },
        schema: collectionOf(MachineSchema),
        idempotent: true,
        passStatuses: [404],
      });
      return status === 404 ? [] : (data?.value ?? []);
    },

    async listMachineActions(ids) {
      const unique = [...new Map(ids.map((id) => [id.toLowerCase(), id])).values()];
      const chunks: string[][] = [];
      for (let i = 0; i < unique.length; i += ACTIONS_PER_CALL) chunks.push(unique.slice(i, i + ACTIONS_PER_CALL));
      const pages = await Promise.all(
        chunks.map(async (chunk) => {
          const { status, data } = await http.call({
            method: 'GET',
            path: '/api/machineactions',
            query: { $filter: `id in (${chunk.map((id) => `'${id.replaceAll("'", "''")}'`).join(',')})`, $top: chunk.length },
            schema: collectionOf(MachineActionSchema),
            idempotent: true,
            passStatuses: [404],
          });
          return status === 404 ? [] : (data?.value ?? []);
        }),
      );
      return pages.flat();
    },

    async getMachineAction(id) {
      try {
        const { data } = await http.call({ method: 'GET', path: `/api/machineactions/${encodeURIComponent(id)}`, schema: MachineActionSchema, idempotent: true });
        return required(data, 'machine action');
      } catch (error) {
        throw notAnActionId(error, id);
      }
    },

    async cancelMachineAction(id, comment) {
      const valid = validate(cancelActionBodySchema, { Comment: comment }, 'cancel request');
      try {
        const { data } = await http.call({ method: 'POST', path: `/api/machineactions/${encodeURIComponent(id)}/cancel`, body: valid, schema: MachineActionSchema, idempotent: true });
        return required(data, 'cancel');
      } catch (error) {
        throw notAnActionId(error, id);
      }
    },

    listScanAgents() {
      // Concurrent reads (a burst of history commands, each naming its scanners) share one
      // call, and its answer is kept a while: agents come and go over days.
      if (agentsCache && Date.now() - agentsCache.at < agentsCacheMs) return Promise.resolve(agentsCache.agents);
      if (!agentsInFlight) {
        const started = Date.now();
        agentsInFlight = readAllPages(AGENTS, ScanAgentSchema, (a) => a.machineId)
          .then((agents) => {
            agentsCache = { at: started, agents };
            return agents;
          })
          .finally(() => {
            agentsInFlight = null;
          });
      }
      return agentsInFlight;
    },
  };

  async function getMachine(idOrName: string) {
    const { status, data } = await http.call({
      method: 'GET',
      path: `/api/machines/${encodeURIComponent(idOrName)}`,
      schema: MachineSchema,
      idempotent: true,
      passStatuses: [404],
    });
    return status === 404 ? null : (data ?? null);
  }

  /** The newest AV scan on the device that is not final, as MDE's action list has it. */
  async function runningScanOn(machineId: string, background = false): Promise<MachineAction | null> {
    const { data } = await http.call({
      background,
      method: 'GET',
      path: '/api/machineactions',
      query: { $filter: `machineId eq '${machineId.replaceAll("'", "''")}' and type eq 'RunAntiVirusScan'` },
      schema: collectionOf(MachineActionSchema),
      idempotent: true,
      passStatuses: [404],
    });
    const open = (data?.value ?? []).filter((a) => !isFinalActionStatus(a.status));
    open.sort((a, b) => (Date.parse(b.creationDateTimeUtc ?? '') || 0) - (Date.parse(a.creationDateTimeUtc ?? '') || 0));
    return open[0] ?? null;
  }

  function remember(actionId: string) {
    knownActions.add(actionId.toLowerCase());
    if (knownActions.size > KNOWN_ACTIONS_KEPT) knownActions.delete(knownActions.values().next().value as string);
  }

  /** MDE's 400 for an id that is not a GUID (`Edm.Guid`), said plainly; other errors pass unchanged. */
  function notAnActionId(error: unknown, id: string): unknown {
    if (!(error instanceof MdeError) || error.status !== 400 || !/Edm\.Guid/i.test(error.details.message ?? '')) return error;
    return new MdeError('api', `"${id}" is not a machine action id: MDE wants a GUID such as 2e9da30d-27f6-4208-81f2-9cd3d67893ba. MDE said: "${error.details.message}"`, error.details);
  }

  function required<T>(data: T | undefined, what: string): T {
    if (data === undefined) throw new MdeError('bad_response', `MDE answered the ${what} call with no body.`);
    return data;
  }
}
