/**
 * Scan history reads, batched. `GetScanHistoryByScanDefinitionId` takes up to 100 ids and
 * `$top` up to 4096 rows, so reads that arrive close together (within `windowMs`) go out
 * as one call carrying all their ids, and each caller gets its own rows back. Identical
 * reads (same ids, same page) share one answer, which is kept for `cacheMs`.
 *
 * One round of calls is in flight at a time: reads that arrive meanwhile wait for it and
 * go together in the next round, so a busy quota (calls waiting in the limiter) makes the
 * batches larger instead of the queue longer.
 *
 * Splitting a merged answer is exact when MDE returned fewer rows than asked (it sent all
 * rows of all the ids), or when a caller found at least the rows it wanted (rows come
 * newest first, so a caller's first rows are the same in a merged answer as in its own).
 * Otherwise that caller is asked for alone. A merged call MDE refuses (400, 404) is retried
 * per caller, so one caller's bad id does not fail the others.
 */
import type { ScanHistoryEntry } from './entities.js';
import { MdeError } from './errors.js';

export const HISTORY_MAX_IDS = 100;
export const HISTORY_MAX_TOP = 4096;

export interface HistoryReaderOptions {
  /** One call to MDE: these ids (≤ 100), `$top`, `$skip`. */
  fetch: (ids: string[], top: number, skip: number) => Promise<ScanHistoryEntry[]>;
  /** How long a read waits for others to join its call. Default 25 ms. */
  windowMs?: number;
  /** How long an answer is reused for the same read. Default 5 s. */
  cacheMs?: number;
}

interface Read {
  key: string;
  ids: string[];
  top: number;
  resolve: (rows: ScanHistoryEntry[]) => void;
  reject: (error: unknown) => void;
}

export interface HistoryReader {
  read(ids: string[], top: number, skip: number): Promise<ScanHistoryEntry[]>;
}

export function createHistoryReader(options: HistoryReaderOptions): HistoryReader {
  const windowMs = options.windowMs ?? 25;
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, { at: number; rows: ScanHistoryEntry[] }>();
  const inFlight = new Map<string, Promise<ScanHistoryEntry[]>>();
  let pending: Read[] = [];
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;

  const keyOf = (ids: string[], top: number, skip: number) => `${[...ids].map((id) => id.toLowerCase()).sort().join(',')}|${top}|${skip}`;

  function remember(key: string, rows: ScanHistoryEntry[]) {
    cache.set(key, { at: Date.now(), rows });
    if (cache.size > 1000) {
      const now = Date.now();
      for (const [k, v] of cache) if (now - v.at >= cacheMs) cache.delete(k);
      while (cache.size > 1000) cache.delete(cache.keys().next().value as string);
    }
  }

  function schedule() {
    if (timer !== undefined || round !== undefined || pending.length === 0) return;
    timer = setTimeout(() => {
      timer = undefined;
      const reads = pending;
      pending = [];
      round = runRound(reads).finally(() => {
        round = undefined;
        schedule();
      });
    }, windowMs);
  }

  /** Groups reads into calls within MDE's limits: ≤ 100 ids per body, the callers' `$top`s adding up to ≤ 4096. */
  function binsOf(reads: Read[]): Read[][] {
    const bins: Array<{ reads: Read[]; ids: Set<string>; top: number }> = [];
    for (const read of reads) {
      const lower = read.ids.map((id) => id.toLowerCase());
      const bin = bins.find((b) => b.top + read.top <= HISTORY_MAX_TOP && new Set([...b.ids, ...lower]).size <= HISTORY_MAX_IDS);
      if (bin) {
        bin.reads.push(read);
        for (const id of lower) bin.ids.add(id);
        bin.top += read.top;
      } else {
        bins.push({ reads: [read], ids: new Set(lower), top: read.top });
      }
    }
    return bins.map((b) => b.reads);
  }

  async function alone(read: Read): Promise<void> {
    try {
      const rows = await options.fetch(read.ids, read.top, 0);
      remember(read.key, rows);
      read.resolve(rows);
    } catch (error) {
      read.reject(error);
    }
  }

  async function runBin(reads: Read[]): Promise<void> {
    if (reads.length === 1) return alone(reads[0]!);
    const ids = [...new Map(reads.flatMap((r) => r.ids).map((id) => [id.toLowerCase(), id])).values()];
    const top = Math.min(HISTORY_MAX_TOP, reads.reduce((sum, r) => sum + r.top, 0));
    let rows: ScanHistoryEntry[];
    try {
      rows = await options.fetch(ids, top, 0);
    } catch (error) {
      if (error instanceof MdeError && (error.status === 400 || error.status === 404)) {
        await Promise.all(reads.map(alone));
        return;
      }
      for (const read of reads) read.reject(error);
      return;
    }
    const complete = rows.length < top;
    await Promise.all(
      reads.map(async (read) => {
        const wanted = new Set(read.ids.map((id) => id.toLowerCase()));
        const mine = rows.filter((row) => row.scanDefinitionId !== null && wanted.has(row.scanDefinitionId.toLowerCase()));
        if (!complete && mine.length < read.top) return alone(read);
        const own = mine.slice(0, read.top);
        remember(read.key, own);
        read.resolve(own);
      }),
    );
  }

  async function runRound(reads: Read[]): Promise<void> {
    await Promise.all(binsOf(reads).map(runBin));
  }

  return {
    read(ids, top, skip) {
      const key = keyOf(ids, top, skip);
      const hit = cache.get(key);
      if (hit && Date.now() - hit.at < cacheMs) return Promise.resolve(hit.rows);
      const shared = inFlight.get(key);
      if (shared) return shared;
      let answer: Promise<ScanHistoryEntry[]>;
      if (skip > 0 || top > HISTORY_MAX_TOP / 2) {
        // A later page, or a read as large as a batch: its own call.
        answer = options.fetch(ids, top, skip).then((rows) => (remember(key, rows), rows));
      } else {
        answer = new Promise<ScanHistoryEntry[]>((resolve, reject) => {
          pending.push({ key, ids, top, resolve, reject });
          schedule();
        });
      }
      const tracked = answer.finally(() => inFlight.delete(key));
      inFlight.set(key, tracked);
      return tracked;
    },
  };
}
