/**
 * Spending MDE's quota only where it buys an answer, counted at the emulator (never timed):
 * writes keep the definition cache warm and resolve ids from it, a read in flight is never
 * thrown away by a write, a listing's pages go ahead of other waiting calls, history reads
 * are batched and shared, and followed AV scans are polled together.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createLimiter, type Limiter } from '../../src/mde/limiter.js';
import { pollInterval } from '../../src/core/tracker.js';
import { WINDOWS_AUTH_ODATA } from '../../src/mde/requests.js';
import { addBulkDefinitions, addBulkMachines } from '../helpers/emulator.js';
import { approvalIdIn, engineHarness, ORIGIN, textOf, USERS } from '../helpers/engine.js';
import { clientFor } from '../helpers/mde.js';

const LIST = 'GET /api/DeviceAuthenticatedScanDefinitions';
const PATCH = 'PATCH /api/DeviceAuthenticatedScanDefinitions/{id}';
const HISTORY = 'POST /api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId';
const AGENTS = 'GET /api/DeviceAuthenticatedScanAgents';
const ACTION_LIST = 'GET /api/machineactions';
const ACTION_ONE = 'GET /api/machineactions/{id}';

/** The caches as the bot runs them (the harness turns them off by default). */
const AS_DEPLOYED = { listCacheMs: 10_000, definitionMaxAgeMs: 60_000 };

let emulator: Emulator | undefined;
const limiters: Limiter[] = [];
afterEach(async () => {
  for (const l of limiters.splice(0)) await l.stop();
  await emulator?.close();
  emulator = undefined;
});

const calls = (key: string) => emulator!.stats().byEndpoint[key] ?? 0;

describe('writes keep the definition cache warm', () => {
  it('enable/disable resolve the id from the cache: one PATCH per command, and the list shows every write without a read', async () => {
    emulator = await startEmulator();
    const h = await engineHarness({ emulator, client: AS_DEPLOYED });
    try {
      const ids = [SEED.definitions.windowsHr, SEED.definitions.networkBranch, SEED.definitions.networkCore];
      await h.engine.handleText(USERS.operator, ORIGIN, 'scans list');
      emulator.resetStats();
      // Each command switches the definition (one already in that state is answered from the cache, without a PATCH).
      const active = new Map(ids.map((id) => [id, emulator!.state.findDefinition(id)!.isActive]));
      for (let i = 0; i < 30; i += 1) {
        const id = ids[i % ids.length]!;
        const enable = !active.get(id);
        const reply = await h.engine.handleText(USERS.operator, ORIGIN, `scans ${enable ? 'enable' : 'disable'} ${id}`);
        expect(textOf(reply)).toMatch(/abled scan definition/);
        active.set(id, enable);
      }
      await Promise.all(ids.map((id) => h.engine.handleText(USERS.operator, ORIGIN, `scans update ${id} --interval 7`)));
      expect(calls(PATCH)).toBe(33);
      expect(calls(LIST)).toBe(0);

      // The cached list holds MDE's answers to those writes.
      const shown = textOf(await h.engine.handleText(USERS.operator, ORIGIN, `scans show ${SEED.definitions.networkCore}`));
      expect(shown).toContain('7');
      const state = emulator.state.findDefinition(SEED.definitions.windowsHr)!;
      const listed = textOf(await h.engine.handleText(USERS.operator, ORIGIN, 'scans list --inactive'));
      expect(listed.includes(state.scanName)).toBe(!state.isActive);
      expect(calls(LIST)).toBe(0);
      // The 33 PATCHes, and the one history read of `scans show` (its last runs).
      expect(emulator.stats().served).toBe(34);
    } finally {
      await h.close();
    }
  });

  it('a create puts the new definition in the cache and a delete takes it out, with no read', async () => {
    emulator = await startEmulator();
    const { client, limiter } = await clientFor(emulator, AS_DEPLOYED);
    limiters.push(limiter);
    const before = await client.listDefinitions();
    emulator.resetStats();
    const created = await client.createDefinition({
      scanType: 'Windows', scanName: 'cached create', isActive: true, target: '10.0.0.9', intervalInHours: 24, targetType: 'Ip',
      scannerAgent: { machineId: SEED.agents.hq },
      scanAuthenticationParams: { '@odata.type': WINDOWS_AUTH_ODATA, type: 'Kerberos', username: 'svc$', domain: 'contoso.local', isGmsaUser: true },
    });
    expect((await client.listDefinitions()).map((d) => d.id)).toEqual([...before.map((d) => d.id), created.id]);
    await client.deleteDefinitions([created.id]);
    expect((await client.listDefinitions()).map((d) => d.id)).toEqual(before.map((d) => d.id));
    expect(calls(LIST)).toBe(0);
  });

  it('a read in flight is kept when a write lands meanwhile, and carries that write', async () => {
    emulator = await startEmulator();
    const { client, limiter } = await clientFor(emulator, AS_DEPLOYED);
    limiters.push(limiter);
    emulator.setLatency(300);
    const reading = client.listDefinitions();
    await new Promise((resolve) => setTimeout(resolve, 100)); // the list has reached MDE and waits on its latency
    emulator.setLatency(0);
    const disabled = await client.updateDefinition(SEED.definitions.windowsHr, { isActive: false });
    expect(calls(PATCH)).toBe(1);
    const read = await reading;
    expect(read.find((d) => d.id === disabled.id)?.isActive).toBe(false);
    expect((await client.listDefinitions()).find((d) => d.id === disabled.id)?.isActive).toBe(false);
    // The update joined the read in flight for its base, and nothing was read twice.
    expect(calls(LIST)).toBe(1);
  });

  it('a definition made elsewhere is found: a lookup that misses reads MDE once', async () => {
    emulator = await startEmulator();
    const h = await engineHarness({ emulator, client: AS_DEPLOYED });
    try {
      await h.engine.handleText(USERS.operator, ORIGIN, 'scans list');
      const [id] = addBulkDefinitions(emulator.state, 1);
      await new Promise((resolve) => setTimeout(resolve, 1100)); // past the one second a fresh list counts as complete
      emulator.resetStats();
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, `scans show ${id}`))).toContain('Bulk 0');
      expect(calls(LIST)).toBe(1);
      // A miss right after that read is answered from it.
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, 'scans show "no such scan"'))).toContain('No scan definition');
      expect(calls(LIST)).toBe(1);
    } finally {
      await h.close();
    }
  });

  it("takes a listing's pages in one sequence, ahead of calls that queued meanwhile", async () => {
    emulator = await startEmulator();
    const limiter: Limiter = createLimiter({ perMinute: 3, perHour: 1000, minuteMs: 250, hourMs: 60_000 });
    limiters.push(limiter);
    const { client } = await clientFor(emulator, { limiter, pageSize: 2, listCacheMs: 0 });
    emulator.resetStats();
    const listing = client.listDefinitions().then(() => calls(AGENTS));
    const others = Promise.all(Array.from({ length: 12 }, () => client.listScanAgents()));
    const agentsWhenListed = await listing;
    await others;
    // 6 definitions in pages of 2: 4 calls. Queued behind the 12 agent calls they would have
    // ended last; going first, the listing is done after at most two agent calls a window.
    expect(calls(LIST)).toBe(4);
    expect(agentsWhenListed).toBeLessThanOrEqual(8);
    expect(emulator.stats().throttled).toBe(0);
  });
});

describe('history reads are batched and shared', () => {
  it('200 concurrent identical reads make one call; 200 distinct make a few, and each caller gets its own rows', async () => {
    emulator = await startEmulator();
    const ids = addBulkDefinitions(emulator.state, 200);
    const { client, limiter } = await clientFor(emulator, AS_DEPLOYED);
    limiters.push(limiter);
    emulator.resetStats();

    const same = await Promise.all(Array.from({ length: 200 }, () => client.getScanHistory([ids[0]!], { top: 50 })));
    expect(calls(HISTORY)).toBe(1);
    for (const rows of same) expect(rows).toEqual(same[0]);
    expect(same[0]).toHaveLength(3);

    emulator.resetStats();
    const distinct = await Promise.all(ids.map((id) => client.getScanHistory([id], { top: 50 })));
    expect(calls(HISTORY)).toBeLessThanOrEqual(3); // 100 ids a body, $top ≤ 4096 (81 callers of 50 rows)
    distinct.forEach((rows, i) => {
      expect(rows).toHaveLength(3);
      for (const row of rows) expect(row.scanDefinitionId).toBe(ids[i]);
      expect(rows).toEqual(emulator!.state.historyFor([ids[i]!]).map((r) => expect.objectContaining({ lastScanned: r.LastScanned, scanStatus: r.ScanStatus })));
    });

    // Reused for a short while.
    await client.getScanHistory([ids[7]!], { top: 50 });
    expect(calls(HISTORY)).toBeLessThanOrEqual(3);
  });

  it('200 concurrent `scans history <same id>` commands cost one list read and one history call', async () => {
    emulator = await startEmulator();
    const h = await engineHarness({ emulator, client: AS_DEPLOYED });
    try {
      emulator.resetStats();
      const replies = await Promise.all(Array.from({ length: 200 }, () => h.engine.handleText(USERS.viewer, ORIGIN, `scans history ${SEED.definitions.networkCore}`)));
      for (const reply of replies) expect(textOf(reply)).toBe(textOf(replies[0]!));
      expect(textOf(replies[0]!)).toContain('Core switches');
      expect(calls(LIST)).toBe(1);
      expect(calls(HISTORY)).toBe(1);
      expect(calls(AGENTS)).toBe(1);
      // The same again a moment later: the list, the history and the scanner names are reused.
      await Promise.all(Array.from({ length: 200 }, () => h.engine.handleText(USERS.viewer, ORIGIN, `scans history ${SEED.definitions.networkCore}`)));
      expect(emulator.stats().served).toBe(3);
    } finally {
      await h.close();
    }
  });

  it('a merged answer cut off by $top is completed per caller', async () => {
    emulator = await startEmulator();
    const [busy, quiet] = addBulkDefinitions(emulator.state, 2);
    const now = Date.now();
    for (let i = 0; i < 20; i += 1) emulator.state.history.push({ ScanDefinitionIds: busy!, LastScanned: new Date(now - i * 1000).toISOString(), ScanStatus: 'Success', ScannerId: SEED.agents.hq });
    const { client, limiter } = await clientFor(emulator, AS_DEPLOYED);
    limiters.push(limiter);
    emulator.resetStats();
    // 4 + 4 rows asked together: the busy definition's newest rows fill the merged answer.
    const [a, b] = await Promise.all([client.getScanHistory([busy!], { top: 4 }), client.getScanHistory([quiet!], { top: 4 })]);
    expect(a).toHaveLength(4);
    expect(b).toHaveLength(3);
    for (const row of b!) expect(row.scanDefinitionId).toBe(quiet);
    expect(calls(HISTORY)).toBe(2);
  });
});

describe('followed AV scans are polled together', () => {
  it('backs off as a scan runs long', () => {
    expect([0, 59_000, 61_000, 299_000, 301_000, 899_000, 901_000, 3_600_000].map((age) => pollInterval(10_000, age) / 1000)).toEqual([10, 10, 30, 30, 60, 60, 120, 120]);
  });

  it('following 30 scans costs about what following one does: one list call per round, none per action', async () => {
    // This counts calls, not the quota: 62 requests and their polls can pass MDE's 100 a minute,
    // and a 429's Retry-After would then outlast the test.
    emulator = await startEmulator({ actionTimings: { pendingMs: 300, inProgressMs: 300 }, limits: { perMinute: 10_000, perHour: 100_000 } });
    const machines = addBulkMachines(emulator.state, 31);
    const h = await engineHarness({ emulator, client: AS_DEPLOYED });
    try {
      const requestAll = async (list: string[]) => {
        const approvals = [];
        for (const m of list) approvals.push(approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `av-scan ${m} quick --reason bulk`)));
        emulator!.resetStats();
        await Promise.all(approvals.map((id) => h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`)));
        await h.engine.idle();
        for (const id of approvals) expect((await h.approvals.get(id))?.state).toBe('succeeded');
        return { list: calls(ACTION_LIST), one: calls(ACTION_ONE) };
      };
      const single = await requestAll(machines.slice(0, 1));
      const thirty = await requestAll(machines.slice(1));
      expect(single.one + thirty.one).toBe(0);
      expect(single.list).toBeGreaterThan(0);
      // Followed one by one, 30 scans would cost 30 times one; the approvals start them a
      // little apart, so the rounds cover a little more time than one scan's.
      expect(thirty.list).toBeLessThanOrEqual(3 * single.list);
    } finally {
      await h.close();
    }
  });
});
