/**
 * AV scans of many devices, end to end over HTTP with the emulator as MDE: the set is
 * resolved before asking, the approval binds it, the scans start within a shrunk quota
 * (an emulated minute is one second here) leaving a share to commands, one card shows the
 * progress, cancel stops what has not started, and a restart resumes without duplicates.
 * Everything is counted at the emulator (calls, actions per device), never timed.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { redisForTests, sharedRedis } from '../helpers/redis.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { MachineActionRecord } from '../../src/emulator/state.js';
import { estimateMs } from '../../src/core/bulk-scan.js';
import { addBulkMachines } from '../helpers/emulator.js';
import { approvalIdIn, engineHarness, ORIGIN, tempStoreUrl, textOf, until, USERS } from '../helpers/engine.js';
import { parsePolicy } from '../../src/policy-file.js';

const MINUTE = 1000;
/** The bot's quota: 20 calls an emulated minute; 40 % of it is left to commands (12 a window for scans). */
const LIMITS = { perMinute: 20, perHour: 1000, minuteMs: MINUTE, hourMs: 60 * MINUTE, interactiveShare: 0.4 };
const RUN = 'POST /api/machines/{id}/runAntiVirusScan';
const CANCEL = 'POST /api/machineactions/{id}/cancel';
const TAG = 'bulk-finance';

let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** 30 devices tagged bulk-finance: one runs an OS MDE does not scan, one has a scan pending already, one fails its scans. */
async function tenant() {
  emulator = await startEmulator({
    limits: { perMinute: LIMITS.perMinute, perHour: LIMITS.perHour, windowMs: { minute: MINUTE, hour: 60 * MINUTE } },
    actionTimings: { pendingMs: 400, inProgressMs: 400 },
  });
  const ids = addBulkMachines(emulator.state, 30);
  for (const id of ids) emulator.state.machines.get(id)!.machineTags = [TAG];
  const [unsupported, running, failing] = [ids[3]!, ids[11]!, ids[20]!];
  emulator.state.machines.get(unsupported)!.osPlatform = 'Windows7';
  emulator.state.markMachineFailing(failing);
  // Someone else's scan the device has not picked up yet (it stays Pending while the test runs).
  const later = new Date(Date.now() + 3_600_000).toISOString();
  emulator.state.addAction({
    id: '0badc0de-0000-4000-8000-000000000001', type: 'RunAntiVirusScan', title: 'Run antivirus scan (Full)', scope: 'Full', requestor: 'soc@contoso.com',
    requestorComment: 'manual scan', status: 'Pending', machineId: running, computerDnsName: emulator.state.machines.get(running)!.computerDnsName,
    creationDateTimeUtc: later, lastUpdateDateTimeUtc: later, errorHResult: 0, requestSource: 'Portal', cancellationRequestor: null, cancellationComment: null, cancellationDateTimeUtc: null,
  });
  const name = (id: string) => emulator!.state.machines.get(id)!.computerDnsName;
  return { ids, unsupported: name(unsupported), running: name(running), failing: name(failing) };
}

const hasRedis = redisForTests('multi-device AV scans on the Redis store');
let redis: Awaited<ReturnType<typeof sharedRedis>> | undefined;
afterAll(async () => redis?.close());
/** Where the request lives across the restart: a SQLite file, and Redis (another replica taking over) when there is one. */
const STORES = [
  { name: 'sqlite', url: async () => tempStoreUrl() },
  ...(hasRedis ? [{ name: 'redis', url: async () => (redis ??= await sharedRedis()).isolated() }] : []),
];

const harnessOptions = { limits: LIMITS, pollMs: 200, bulk: { quota: LIMITS, refreshMs: 100 } };

/** The actions this request started, per machine. */
function actionsOf(approvalId: string): Map<string, MachineActionRecord[]> {
  const byMachine = new Map<string, MachineActionRecord[]>();
  for (const a of emulator!.state.actions.values()) {
    if (!a.requestorComment.includes(`approval ${approvalId}:`)) continue;
    byMachine.set(a.machineId, [...(byMachine.get(a.machineId) ?? []), a]);
  }
  return byMachine;
}

const calls = (key: string) => emulator!.stats().byEndpoint[key] ?? 0;

async function requestAndApprove(h: Awaited<ReturnType<typeof engineHarness>>) {
  const reply = await h.engine.handleText(USERS.operator, ORIGIN, `av-scan --tag ${TAG} quick --reason "incident 4711"`);
  const id = approvalIdIn(reply);
  const decided = await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
  expect(textOf(decided)).not.toMatch(/error/i);
  return id;
}

describe('AV scan of a tag of 30 devices', () => {
  it('resolves the set before asking, starts each device once within the quota while commands are answered, and shows the progress on one card', async () => {
    const t = await tenant();
    const h = await engineHarness({ emulator, ...harnessOptions });
    try {
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, `av-scan --tag ${TAG} quick --reason "incident 4711"`);
      const id = approvalIdIn(reply);
      const record = (await h.approvals.get(id))!;
      // The approval binds the exact, sorted list of ids.
      const bound = (record.operation.machines as Array<{ id: string }>).map((m) => m.id);
      expect(bound).toEqual([...t.ids].sort());
      const card = h.publisher.published.at(-1)!.view;
      expect(card.facts.find((f) => f.label === 'Devices')?.value).toBe(`30 (tag "${TAG}")`);
      expect(card.facts.find((f) => f.label === 'First devices')?.value).toMatch(/and 25 more$/);

      // A device that joins the tag after the request is not scanned.
      const late = 'e'.repeat(40);
      emulator!.state.machines.set(late, { ...emulator!.state.machines.get(t.ids[0]!)!, id: late, computerDnsName: 'late.contoso.local', machineTags: [TAG] });

      emulator!.resetStats();
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);

      // Commands typed during the fan-out are answered while scans still wait for the quota.
      await until(async () => (await h.store.listBulkDevices(id)).some((d) => d.state === 'pending'), 'the first scans');
      let answeredDuring = 0;
      for (let i = 0; i < 5; i += 1) {
        const listed = await h.engine.handleText(USERS.viewer, ORIGIN, 'scans list');
        expect(textOf(listed)).toContain('Scan definitions');
        if ((await h.store.listBulkDevices(id)).some((d) => d.state === 'queued')) answeredDuring += 1;
      }
      expect(answeredDuring).toBeGreaterThanOrEqual(3);

      await until(async () => ['succeeded', 'failed'].includes((await h.approvals.get(id))!.state), 'the end of the request', 30_000);
      const devices = await h.store.listBulkDevices(id);
      const count = (state: string) => devices.filter((d) => d.state === state).length;
      expect([count('succeeded'), count('failed'), count('already_running'), count('not_supported')]).toEqual([27, 1, 1, 1]);
      expect(devices.find((d) => d.state === 'not_supported')!.name).toBe(t.unsupported);
      expect(devices.find((d) => d.state === 'already_running')!.name).toBe(t.running);
      expect(devices.find((d) => d.state === 'failed')!.name).toBe(t.failing);

      // MDE: one scan request per device, one action per device, none for the late one, the quota never exceeded.
      expect(calls(RUN)).toBe(30);
      const actions = actionsOf(id);
      expect(actions.size).toBe(28);
      expect([...actions.values()].every((list) => list.length === 1)).toBe(true);
      expect(actions.has(late)).toBe(false);
      const stats = emulator!.stats();
      expect(stats.throttled).toBe(0);
      expect(stats.maxPerWindow.minute).toBeLessThanOrEqual(LIMITS.perMinute);
      // Several emulated minutes: at most 12 scans start per window.
      const starts = stats.servedTimes;
      expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(2 * MINUTE);

      // One card, updated with counts, the failures by name with MDE's reason, and the time left.
      const updates = h.publisher.updatesOf(id);
      const progress = updates.map((u) => u.view.facts.find((f) => f.label === 'Progress')?.value).filter(Boolean);
      expect(new Set(progress).size).toBeGreaterThan(3);
      expect(progress[0]).toMatch(/^queued \d+ · pending \d+ · in progress \d+ · succeeded \d+ · failed \d+ · already running \d+ · not supported \d+ · cancelled \d+$/);
      expect(updates.some((u) => /^about \d+ min to start \d+ more/.test(u.view.facts.find((f) => f.label === 'Time left')?.value ?? ''))).toBe(true);
      const last = updates.at(-1)!.view;
      expect(last.state).toBe('failed');
      expect(last.outcome?.text).toContain('succeeded 27');
      expect(last.outcome?.text).toContain(`${t.failing}: Scan failed`);
      expect(last.outcome?.text).toMatch(new RegExp(`${t.unsupported.replace(/\./g, '\\.')}: MDE refused the antivirus scan.*OsPlatformNotSupported`));

      // The audit log names every scan started.
      const started = (await h.store.listAudit({ approvalId: id, limit: 1000 })).filter((e) => (e.detail as { avScan?: string }).avScan === 'started');
      expect(started).toHaveLength(28);
    } finally {
      await h.close();
    }
  }, 60_000);

  it('cancel mid-way: nothing more starts, running scans are cancelled in MDE with the canceller named, and the card says who', async () => {
    await tenant();
    const h = await engineHarness({ emulator, ...harnessOptions });
    try {
      const id = await requestAndApprove(h);
      await until(async () => (await h.store.listBulkDevices(id)).filter((d) => d.state === 'pending').length >= 3, 'a few scans');
      const refused = await h.engine.handleText(USERS.operator2, ORIGIN, `av-scan cancel ${id}`);
      expect(textOf(refused)).toMatch(/Only the requester .* or an approver/);
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, `av-scan cancel ${id}`);
      expect(textOf(reply)).toMatch(/cancelled by Olivia\. \d+ scans not started will not be; \d+ running scans cancelled in MDE/);
      const startedAtCancel = calls(RUN);
      await until(async () => ['succeeded', 'failed'].includes((await h.approvals.get(id))!.state), 'the end of the request', 30_000);
      const devices = await h.store.listBulkDevices(id);
      // Only scans already asked for when the cancel came (a worker's call in flight) reached MDE.
      expect(calls(RUN)).toBeLessThanOrEqual(startedAtCancel + 4);
      expect(calls(RUN)).toBeLessThan(30);
      expect(devices.filter((d) => d.state === 'cancelled').length).toBeGreaterThan(10);
      expect(calls(CANCEL)).toBeGreaterThan(0);
      const cancelledInMde = [...emulator!.state.actions.values()].filter((a) => a.status === 'Cancelled');
      expect(cancelledInMde.every((a) => a.cancellationComment === `Cancelled by Olivia via mde-chatops (approval ${id})`)).toBe(true);
      const audit = (await h.store.listAudit({ approvalId: id, limit: 1000 })).find((e) => (e.detail as { avScan?: string }).avScan === 'cancel');
      expect(audit?.actor).toBe(USERS.operator.id);
      expect(h.publisher.updatesOf(id).at(-1)!.view.outcome?.text).toContain('Cancelled by Olivia');
      const again = await h.engine.handleText(USERS.approver, ORIGIN, `av-scan cancel ${id}`);
      expect(textOf(again)).toMatch(/nothing left to cancel/);
    } finally {
      await h.close();
    }
  }, 60_000);

  it.each(STORES)('a restart mid-way: a fresh flow on the same store ($name) resumes where it was, and no device is scanned twice', async ({ url }) => {
    await tenant();
    const storeUrl = await url();
    const first = await engineHarness({ emulator, storeUrl, ...harnessOptions });
    let id: string;
    try {
      id = await requestAndApprove(first);
      await until(async () => (await first.store.listBulkDevices(id)).filter((d) => d.state !== 'queued').length >= 8, 'some scans');
    } finally {
      await first.close();
    }
    const before = await (async () => {
      const { openStore } = await import('../../src/store/index.js');
      const s = await openStore(storeUrl);
      try {
        return await s.listBulkDevices(id);
      } finally {
        await s.close();
      }
    })();
    expect(before.some((d) => d.state === 'queued')).toBe(true);
    const second = await engineHarness({ emulator, storeUrl, ...harnessOptions, staleMs: 50, heartbeatMs: 20 });
    try {
      await until(async () => ['succeeded', 'failed'].includes((await second.approvals.get(id))!.state), 'the end of the request', 30_000);
      const devices = await second.store.listBulkDevices(id);
      expect(devices.filter((d) => d.state === 'succeeded')).toHaveLength(27);
      const actions = actionsOf(id);
      expect(actions.size).toBe(28);
      expect([...actions.values()].every((list) => list.length === 1)).toBe(true);
    } finally {
      await second.close();
    }
  }, 60_000);
});

describe('naming the devices', () => {
  it('lists every name that matches nothing or several devices, and asks for nothing', async () => {
    emulator = await startEmulator();
    const [a, b] = addBulkMachines(emulator.state, 2);
    emulator.state.machines.get(b!)!.computerDnsName = 'twin.contoso.local';
    emulator.state.machines.set('f'.repeat(40), { ...emulator.state.machines.get(a!)!, id: 'f'.repeat(40), computerDnsName: 'twin.contoso.local' });
    const h = await engineHarness({ emulator });
    try {
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan bulk-0.contoso.local,nosuch.contoso.local,twin.contoso.local quick --reason "x"');
      const text = textOf(reply);
      expect(text).toContain('Nothing was requested');
      expect(text).toContain('no device is named \\"nosuch.contoso.local\\"');
      expect(text).toMatch(/several devices share a name: \\"twin\.contoso\.local\\" \(2 devices/);
      expect(await h.store.listApprovals()).toHaveLength(0);

      const none = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag no-such-tag quick --reason "x"');
      expect(textOf(none)).toContain('No device carries tag \\"no-such-tag\\"');
      const both = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag a --group b quick --reason "x"');
      expect(textOf(both)).toContain('Give one of --tag, --tag-starts-with or --group');
      const extra = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag a quick now --reason "x"');
      expect(textOf(extra)).toContain('unexpected \\"now\\"');
    } finally {
      await h.close();
    }
  });

  it("takes the policy file's av-scan.bulk max_devices over AV_SCAN_MAX_DEVICES", async () => {
    emulator = await startEmulator();
    const ids = addBulkMachines(emulator.state, 6);
    for (const id of ids) emulator.state.machines.get(id)!.machineTags = ['labz'];
    const policy = parsePolicy(`roles:\n  viewer: ["*"]\n  operator: ["${USERS.operator.id}"]\n  approver: ["${USERS.approver.id}"]\nrules:\n  av-scan.bulk: { max_devices: 5 }\n`, 'bulk.yaml');
    const h = await engineHarness({ emulator, policy, settings: { avScanMaxDevices: 500 } });
    try {
      const tooMany = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag labz quick --reason "x"');
      expect(textOf(tooMany)).toContain('6 devices match tag \\"labz\\": one request may scan at most 5');
      emulator.state.machines.get(ids[0]!)!.machineTags = [];
      expect(approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag labz quick --reason "x"'))).toMatch(/^A/);
    } finally {
      await h.close();
    }
  });

  it('refuses more devices than AV_SCAN_MAX_DEVICES; a tag or group of one device keeps the single-device request', async () => {
    emulator = await startEmulator();
    const ids = addBulkMachines(emulator.state, 12);
    for (const id of ids) emulator.state.machines.get(id)!.machineTags = ['labx-a'];
    emulator.state.machines.get(ids[0]!)!.machineTags = ['solo'];
    for (const id of ids.slice(0, 3)) emulator.state.machines.get(id)!.rbacGroupName = 'Lab devices';
    const h = await engineHarness({ emulator, settings: { avScanMaxDevices: 10 } });
    try {
      const tooMany = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag-starts-with labx quick --reason "x"');
      expect(textOf(tooMany)).toContain('11 devices match tags starting with \\"labx\\": one request may scan at most 10 (AV_SCAN_MAX_DEVICES');
      const solo = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag solo full --reason "x"'));
      expect((await h.approvals.get(solo))!.operation).toMatchObject({ machine: ids[0], scanType: 'Full' });
      const group = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --group "Lab devices" quick --reason "x"'));
      expect(((await h.approvals.get(group))!.operation.machines as unknown[]).length).toBe(3);
    } finally {
      await h.close();
    }
  });
});

describe('time left', () => {
  it('follows the background share of the quota: 60 scans a minute of 100, then 900 an hour', () => {
    const real = { perMinute: 100, perHour: 1500, interactiveShare: 0.4 };
    expect(estimateMs(60, real)).toBe(0);
    expect(estimateMs(500, real)).toBe(8 * 60_000);
    expect(estimateMs(900, real)).toBe(14 * 60_000);
    expect(estimateMs(1000, real)).toBeGreaterThanOrEqual(3_600_000);
  });
});

describe('cancel of one scan', () => {
  it('a single-device request is cancelled by its machine action id (an approver), and one device of a multi-device request alone', async () => {
    emulator = await startEmulator({ actionTimings: { pendingMs: 60_000, inProgressMs: 60_000 } });
    const ids = addBulkMachines(emulator.state, 3);
    for (const id of ids.slice(1)) emulator.state.machines.get(id)!.machineTags = ['pair'];
    const h = await engineHarness({ emulator, bulk: { quota: LIMITS, refreshMs: 20 } });
    try {
      const single = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `av-scan ${ids[0]} quick --reason "x"`));
      const early = await h.engine.handleText(USERS.operator, ORIGIN, `av-scan cancel ${single}`);
      expect(textOf(early)).toContain('has not been approved');
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${single}`);
      await until(async () => (await h.store.listTrackedActions({ approvalId: single })).length === 1, 'the scan');
      const [tracked] = await h.store.listTrackedActions({ approvalId: single });
      const reply = await h.engine.handleText(USERS.approver, ORIGIN, `av-scan cancel ${tracked!.actionId}`);
      expect(textOf(reply)).toContain(`${single}: cancelled by Adam`);
      await until(async () => (await h.approvals.get(single))!.state === 'failed', 'the end of the single request');
      expect(emulator.state.getAction(tracked!.actionId)!.cancellationComment).toBe(`Cancelled by Adam via mde-chatops (approval ${single})`);

      const pair = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan --tag pair quick --reason "x"'));
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${pair}`);
      await until(async () => {
        const devices = await h.store.listBulkDevices(pair);
        return devices.length === 2 && devices.every((d) => d.state === 'pending');
      }, 'both scans');
      const [first] = await h.store.listBulkDevices(pair);
      await h.engine.handleText(USERS.operator, ORIGIN, `av-scan cancel ${first!.actionId}`);
      const devices = await h.store.listBulkDevices(pair);
      expect(devices.map((d) => d.state)).toEqual(['cancelled', 'pending']);
      expect((await h.approvals.get(pair))!.state).toBe('executing');
      const unknown = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan cancel 2e9da30d-27f6-4208-81f2-9cd3d67893ba');
      expect(textOf(unknown)).toContain('was not started by this bot: only an approver may cancel it');
      const junk = await h.engine.handleText(USERS.operator, ORIGIN, 'av-scan cancel nonsense');
      expect(textOf(junk)).toContain('is neither an approval request id');
    } finally {
      await h.close();
    }
  });
});
