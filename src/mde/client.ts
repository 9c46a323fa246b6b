/**
 * The typed MDE client: one method per endpoint the bot uses. Bodies are validated with
 * the schemas of requests.ts before anything is sent; answers are read with the tolerant
 * schemas of entities.ts.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import type { AvScanOutcome, MdeApi } from './api.js';
import {
  MachineActionSchema,
  MachineSchema,
  ScanAgentSchema,
  ScanDefinitionSchema,
  ScanHistoryEntrySchema,
  collectionOf,
  isFinalActionStatus,
  type ScanDefinition,
} from './entities.js';
import { MdeError } from './errors.js';
import { createHttp, type HttpOptions, type RetryPolicy } from './http.js';
import type { Limiter } from './limiter.js';
import {
  avScanBodySchema,
  batchDeleteBodySchema,
  cancelActionBodySchema,
  createDefinitionBodySchema,
  describeIssues,
  scanHistoryBodySchema,
  updateDefinitionBodySchema,
} from './requests.js';
import type { TokenProvider } from './token.js';

export interface MdeClientOptions {
  baseUrl: string;
  tokens: TokenProvider;
  limiter: Limiter;
  retry?: Partial<RetryPolicy>;
  timeoutMs?: number;
  /** How long a definition list stays fresh; writes drop it at once. */
  listCacheMs?: number;
  /** `$top` for paged reads. */
  pageSize?: number;
  log?: Logger;
  observe?: HttpOptions['observe'];
}

const DEFINITIONS = '/api/DeviceAuthenticatedScanDefinitions';
const MAX_PAGES = 1000;
const HISTORY_MAX_TOP = 4096;
/** A returned action older than this was not started by our call: a scan was already running. */
const EXISTING_ACTION_AGE_MS = 30_000;

function validate<T extends z.ZodType>(schema: T, body: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    throw new MdeError('validation', `The ${what} is not valid: ${problems.join('; ')}`, { problems });
  }
  return parsed.data;
}

export function createMdeClient(options: MdeClientOptions): MdeApi {
  const http = createHttp(options);
  const pageSize = options.pageSize ?? 100;
  const listCacheMs = options.listCacheMs ?? 10_000;

  let cached: { at: number; value: ScanDefinition[] } | null = null;
  let inFlight: Promise<ScanDefinition[]> | null = null;
  let generation = 0;

  function invalidate() {
    generation += 1;
    cached = null;
    inFlight = null;
  }

  /** Pages with $top/$skip, stopping on a short page; follows a nextLink only when present and new. */
  async function readAllPages<T extends z.ZodType>(path: string, item: T, query: Record<string, string> = {}): Promise<z.output<T>[]> {
    const schema = collectionOf(item);
    const items: z.output<T>[] = [];
    const seenLinks = new Set<string>();
    let next: { path: string; query?: Record<string, string | number> } = { path, query: { ...query, $top: pageSize, $skip: 0 } };
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const { data } = await http.call({ method: 'GET', ...next, schema, idempotent: true });
      const value = (data?.value ?? []) as z.output<T>[];
      items.push(...value);
      const link = data?.['@odata.nextLink'];
      if (link && !seenLinks.has(link)) {
        seenLinks.add(link);
        next = { path: link };
      } else if (value.length < pageSize) {
        return items;
      } else {
        next = { path, query: { ...query, $top: pageSize, $skip: items.length } };
      }
    }
    throw new MdeError('bad_response', `MDE kept returning pages for ${path}; stopped after ${MAX_PAGES}.`);
  }

  async function fetchDefinitions(): Promise<ScanDefinition[]> {
    const started = generation;
    const value = await readAllPages(DEFINITIONS, ScanDefinitionSchema);
    if (started === generation) cached = { at: Date.now(), value };
    return value;
  }

  return {
    listDefinitions() {
      if (cached && Date.now() - cached.at < listCacheMs) return Promise.resolve(cached.value);
      if (!inFlight) {
        const current = fetchDefinitions().finally(() => {
          if (inFlight === current) inFlight = null;
        });
        inFlight = current;
      }
      return inFlight;
    },

    async createDefinition(body) {
      const valid = validate(createDefinitionBodySchema, body, 'scan definition');
      const { data } = await http.call({ method: 'POST', path: DEFINITIONS, body: valid, schema: ScanDefinitionSchema, idempotent: false });
      invalidate();
      return required(data, 'create');
    },

    async updateDefinition(id, body) {
      const valid = validate(updateDefinitionBodySchema, body, 'update');
      const { data } = await http.call({ method: 'PATCH', path: `${DEFINITIONS}/${encodeURIComponent(id)}`, body: valid, schema: ScanDefinitionSchema, idempotent: true });
      invalidate();
      return required(data, 'update');
    },

    async deleteDefinitions(ids) {
      const valid = validate(batchDeleteBodySchema, { ScanDefinitionIds: ids }, 'delete request');
      try {
        await http.call({ method: 'POST', path: `${DEFINITIONS}/BatchDelete`, body: valid, idempotent: true });
      } catch (error) {
        // A retry after an unclear failure finds the definitions already gone (404): the
        // delete happened. Only a 404 while some of them still exist is a failure.
        invalidate();
        if (!(error instanceof MdeError && error.kind === 'not_found')) throw error;
        const remaining = new Set((await readAllPages(DEFINITIONS, ScanDefinitionSchema)).map((d) => d.id.toLowerCase()));
        if (valid.ScanDefinitionIds.some((id) => remaining.has(id.toLowerCase()))) throw error;
      } finally {
        invalidate();
      }
    },

    async getScanHistory(ids, page = {}) {
      const valid = validate(scanHistoryBodySchema, { ScanDefinitionIds: ids }, 'history request');
      const top = Math.min(page.top ?? 100, HISTORY_MAX_TOP);
      const { data } = await http.call({
        method: 'POST',
        path: `${DEFINITIONS}/GetScanHistoryByScanDefinitionId`,
        query: { $top: top, $skip: page.skip },
        body: valid,
        schema: collectionOf(ScanHistoryEntrySchema),
        idempotent: true,
      });
      return data?.value ?? [];
    },

    async runAntivirusScan(machineId, body): Promise<AvScanOutcome> {
      const valid = validate(avScanBodySchema, body, 'antivirus scan request');
      const requestedAt = Date.now();
      try {
        const { status, data } = await http.call({
          method: 'POST',
          path: `/api/machines/${encodeURIComponent(machineId)}/runAntiVirusScan`,
          body: valid,
          schema: MachineActionSchema,
          idempotent: false,
        });
        const action = required(data, 'antivirus scan');
        const created = Date.parse(action.creationDateTimeUtc ?? '');
        const existing = status === 200 || (!Number.isNaN(created) && requestedAt - created > EXISTING_ACTION_AGE_MS);
        if (existing && !isFinalActionStatus(action.status)) {
          return { kind: 'already_running', action, message: 'A scan is already running on this device.' };
        }
        return { kind: 'started', action };
      } catch (error) {
        if (error instanceof MdeError && error.code === 'ActiveRequestAlreadyExists') {
          return { kind: 'already_running', action: null, message: 'A scan is already running on this device.' };
        }
        throw error;
      }
    },

    async getMachine(idOrName) {
      const { status, data } = await http.call({
        method: 'GET',
        path: `/api/machines/${encodeURIComponent(idOrName)}`,
        schema: MachineSchema,
        idempotent: true,
        passStatuses: [404],
      });
      return status === 404 ? null : (data ?? null);
    },

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

    async getMachineAction(id) {
      const { data } = await http.call({ method: 'GET', path: `/api/machineactions/${encodeURIComponent(id)}`, schema: MachineActionSchema, idempotent: true });
      return required(data, 'machine action');
    },

    async cancelMachineAction(id, comment) {
      const valid = validate(cancelActionBodySchema, { Comment: comment }, 'cancel request');
      const { data } = await http.call({ method: 'POST', path: `/api/machineactions/${encodeURIComponent(id)}/cancel`, body: valid, schema: MachineActionSchema, idempotent: true });
      return required(data, 'cancel');
    },

    listScanAgents() {
      return readAllPages('/api/DeviceAuthenticatedScanAgents', ScanAgentSchema);
    },
  };

  function required<T>(data: T | undefined, what: string): T {
    if (data === undefined) throw new MdeError('bad_response', `MDE answered the ${what} call with no body.`);
    return data;
  }
}
