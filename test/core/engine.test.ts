import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { approvalIdIn, engineHarness, replyOf, tempStoreUrl, ORIGIN, textOf, until, USERS } from '../helpers/engine.js';

let h: Awaited<ReturnType<typeof engineHarness>>;
const run = (who: keyof typeof USERS, text: string) => h.engine.handleText(USERS[who], ORIGIN, text);

let emulator: Emulator;
beforeAll(async () => {
  // Not a quota test: the followed scans are polled every 20 ms, which MDE's 100 calls a minute would not take.
  emulator = await startEmulator({ actionTimings: { pendingMs: 60, inProgressMs: 60 }, limits: { perMinute: 100_000, perHour: 1_000_000 } });
  h = await engineHarness({ emulator });
});
afterAll(async () => {
  await h.close();
  await emulator.close();
});

describe('read commands against the emulator', () => {
  it('lists definitions with filters and paging', async () => {
    const all = await run('viewer', 'scans list');
    expect(all.visibility).toBe('public');
    expect(all.summary).toBe(`Scan definitions: ${h.emulator.state.definitions.size}`);
    const network = await run('viewer', 'scans list --type network --active');
    const list = network.blocks.find((b) => b.type === 'items');
    // Filtered by type: the type is not repeated on each line; every line is active.
    expect(list?.type === 'items' && list.items.length > 0 && list.items.every((r) => r.badge?.text === 'Active' && !r.meta.includes('Network'))).toBe(true);
    expect(list?.type === 'items' && list.items.every((r) => r.buttons?.map((b) => b.label).join() === 'Show,History')).toBe(true);
    const search = await run('viewer', 'scans list --search finance');
    expect(textOf(search)).toContain('Finance workstations');
    expect(search.summary).toContain(': 1');
  });

  it('shows one definition by id and by exact name, and suggests on a miss', async () => {
    const byId = await run('viewer', `scans show ${SEED.definitions.windowsFinance}`);
    expect(textOf(byId)).toContain('Finance workstations');
    const byName = await run('viewer', 'scans show "finance workstations"');
    expect(textOf(byName)).toContain(SEED.definitions.windowsFinance);
    const miss = await run('viewer', 'scans show finance');
    expect(miss.visibility).toBe('private');
    expect(textOf(miss)).toContain('No scan definition has the id or name \\"finance\\". Did you mean \\"Finance workstations\\"');
  });

  it('shows history for several definitions in one call', async () => {
    h.emulator.resetStats();
    const reply = await run('viewer', `scans history ${SEED.definitions.windowsFinance} ${SEED.definitions.networkCore}`);
    expect(textOf(reply)).toContain('Finance workstations');
    expect(textOf(reply)).toContain('Core switches');
    expect(h.emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/GetScanHistoryByScanDefinitionId']).toBe(1);
  });

  it('answers a greeting with what the bot does and what the user may do', async () => {
    expect(textOf(await run('approver', 'hello'))).toContain('You are an approver');
    expect(textOf(await run('stranger', 'Hi!'))).toContain('ask an admin to add slack:UNOBODY');
  });

  it('answers help, whoami, a parse error with usage, and refuses unknown users with their id', async () => {
    expect(textOf(await run('stranger', 'help'))).toContain('scans list');
    expect(textOf(await run('stranger', 'whoami'))).toContain('Ask an admin to add slack:UNOBODY');
    const refused = await run('stranger', 'scans list');
    expect(textOf(refused)).toContain('slack:UNOBODY');
    const bad = await run('viewer', 'scans list --colour red');
    expect(bad.visibility).toBe('private');
    expect(textOf(bad)).toContain('Usage: scans list');
    const typo = await run('viewer', 'scnas list');
    expect(textOf(typo)).toContain('scans list');
  });
});

describe('writes', () => {
  it('opens the create form with the scanner agents', async () => {
    const reply = await run('operator', 'scans create network');
    const form = reply.blocks.find((b) => b.type === 'form');
    expect(form?.type === 'form' && form.form.fields.find((f) => f.name === 'agent')?.options?.length).toBe(3);
  });

  it('creates a definition from flags with the agent given by name, then updates, disables and enables it', async () => {
    const created = await run('operator', 'scans create windows --name "Branch PCs" --target 10.1.0.1,10.1.0.2 --interval 12 --agent srv-scan-02.contoso.local --username svc-scan$ --domain contoso.local');
    expect(textOf(created)).toContain('Created scan definition Branch PCs');
    expect(textOf(created)).toContain('deprecated');
    const def = [...h.emulator.state.definitions.values()].find((d) => d.scanName === 'Branch PCs')!;
    expect(def.scannerAgentMachineId).toBe(SEED.agents.branch);

    const updated = await run('operator', `scans update ${def.id} --interval 6 --target 10.1.0.3`);
    expect(textOf(updated)).toContain('Updated scan definition');
    expect(h.emulator.state.definitions.get(def.id)).toMatchObject({ intervalInHours: 6, target: '10.1.0.3' });

    expect(textOf(await run('operator', `scans disable ${def.id}`))).toContain('Disabled scan definition Branch PCs');
    expect(h.emulator.state.definitions.get(def.id)?.isActive).toBe(false);
    expect(textOf(await run('operator', `scans enable ${def.id}`))).toContain('Enabled');
  });

  it('rotates credentials and moves the scanner agent through the update form', async () => {
    const id = SEED.definitions.networkCore;
    const form = replyOf(await h.engine.handleButton(USERS.operator, ORIGIN, { type: 'form', form: 'update', definitionId: id }));
    expect(form.blocks[0]?.type === 'form' && form.blocks[0].form.fields.some((f) => f.name === 'credentials')).toBe(true);
    const outcome = await h.engine.handleForm(USERS.operator, ORIGIN, {
      kind: 'update',
      definitionId: id,
      values: { scanName: 'Core switches', target: '10.0.0.1,10.0.0.2,10.0.0.3', targetType: 'Ip', intervalInHours: '4', active: 'true', agent: SEED.agents.lab, credentials: 'replace', snmpType: 'AuthNoPriv', username: 'snmp-v3', authProtocol: 'SHA1', authPassword: 'rotated-Pa55' },
    });
    expect(outcome.ok).toBe(true);
    const stored = h.emulator.state.definitions.get(id)!;
    expect(stored.scannerAgentMachineId).toBe(SEED.agents.lab);
    expect(stored.credentials).toMatchObject({ type: 'AuthNoPriv', username: 'snmp-v3', authPassword: 'rotated-Pa55' });
    expect(JSON.stringify(outcome)).not.toContain('rotated-Pa55');
  });

  it('sends only what the user changed in the update form, not values changed meanwhile', async () => {
    const id = SEED.definitions.windowsFinance;
    h.emulator.state.definitions.get(id)!.isActive = true;
    const opened = replyOf(await h.engine.handleButton(USERS.operator, ORIGIN, { type: 'form', form: 'update', definitionId: id }));
    const form = opened.blocks[0]?.type === 'form' ? opened.blocks[0].form : undefined;
    expect(form?.baseline).toMatchObject({ active: 'true', credentials: 'keep' });
    const baseline = form!.baseline!;
    const shown = Object.fromEntries(form!.fields.filter((f) => f.value !== undefined).map((f) => [f.name, f.value!]));
    const interval = Number(baseline.intervalInHours) === 7 ? '8' : '7';

    h.emulator.state.definitions.get(id)!.isActive = false; // someone disables it while the form is open
    const refused = await h.engine.handleForm(USERS.operator, ORIGIN, { kind: 'update', definitionId: id, values: { ...shown, intervalInHours: '0' }, baseline });
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.form.baseline).toEqual(baseline); // the re-rendered form keeps what was first shown

    const outcome = await h.engine.handleForm(USERS.operator, ORIGIN, { kind: 'update', definitionId: id, values: { ...shown, intervalInHours: interval }, baseline });
    expect(outcome.ok).toBe(true);
    expect(h.emulator.state.definitions.get(id)).toMatchObject({ isActive: false, intervalInHours: Number(interval) });
  });

  it('reports MDE and resolution errors clearly', async () => {
    const noAgent = await run('operator', 'scans create windows --name X --target 10.0.0.1 --interval 1 --agent nowhere --username u --domain d');
    expect(textOf(noAgent)).toContain('No scanner agent is called \\"nowhere\\"');
    const viewer = await run('viewer', `scans disable ${SEED.definitions.windowsFinance}`);
    expect(textOf(viewer)).toMatch(/operator/);
  });
});

describe('approvals', () => {
  it('deletes only after a second person approves, and re-renders the card at each step', async () => {
    const id = SEED.definitions.networkPrinters;
    const requested = await run('operator', `scans delete ${id} --reason "retired printers"`);
    const approvalId = approvalIdIn(requested);
    expect(textOf(requested)).toContain('#approvals');
    expect(h.publisher.published.at(-1)?.view.id).toBe(approvalId);

    expect(textOf(await run('operator', `approve ${approvalId}`))).toContain('approver role');
    expect(h.emulator.state.definitions.has(id)).toBe(true);

    const approved = await run('approver', `approve ${approvalId}`);
    expect(textOf(approved)).toContain(`Approved ${approvalId}`);
    await h.engine.idle();
    expect(h.emulator.state.definitions.has(id)).toBe(false);
    expect(h.publisher.statesOf(approvalId).at(-1)).toBe('succeeded');

    const again = await run('approver', `approve ${approvalId}`);
    expect(textOf(again)).toContain('already approved');
    const audit = await h.store.listAudit({ approvalId });
    expect(audit.map((a) => a.event)).toEqual(['requested', 'approved', 'executing', 'succeeded']);
  });

  it('runs an AV scan after approval and follows it to Succeeded', async () => {
    // Each step lasts long enough that a busy machine's pause between two polls (every 20 ms) cannot skip one.
    h.emulator.state.actionTimings = { pendingMs: 400, inProgressMs: 400 };
    onTestFinished(() => {
      h.emulator.state.actionTimings = { pendingMs: 60, inProgressMs: 60 };
    });
    const approvalId = approvalIdIn(await run('operator', 'av-scan ws-hr-01.contoso.local quick --reason "alert 3212"'));
    const outcome = await h.engine.handleButton(USERS.approver, ORIGIN, { type: 'approval', approvalId, decision: 'approve' });
    expect(outcome.type).toBe('decided');
    await h.engine.idle();
    const record = await h.approvals.get(approvalId);
    expect(record?.state).toBe('succeeded');
    const texts = h.publisher.updatesOf(approvalId).map((u) => u.view.outcome?.text ?? '');
    expect(texts.some((t) => t.includes('Waiting for the device'))).toBe(true);
    expect(texts.some((t) => t.includes('in progress'))).toBe(true);
    const last = h.publisher.updatesOf(approvalId).at(-1)!.view;
    expect(last.timeline.map((s) => s.text)).toEqual(['Requested by ' + last.requester, `Approved by ${last.decidedBy}`, 'Started', 'Sent to the device', 'In progress on the device', 'Finished: Succeeded']);
    expect(last.timeline.every((s) => s.at?.endsWith('UTC'))).toBe(true);
    expect(texts.at(-1)).toContain('Succeeded');
    const action = [...h.emulator.state.actions.values()].find((a) => a.machineId === SEED.machines.wsHr01)!;
    expect(action.requestorComment).toContain(`approval ${approvalId}`);
  });

  it('follows an AV scan to Failed on a failing device', async () => {
    const approvalId = approvalIdIn(await run('operator2', `av-scan ${SEED.machines.failing} full --reason "alert 9"`));
    await run('approver', `approve ${approvalId}`);
    await h.engine.idle();
    const record = await h.approvals.get(approvalId);
    expect(record?.state).toBe('failed');
    expect(JSON.stringify(record?.result)).toContain('Failed');
  });

  it('reports a scan already running on the device as such, not as a failure', async () => {
    h.emulator.state.actionTimings = { pendingMs: 5000, inProgressMs: 5000 };
    try {
      const first = approvalIdIn(await run('operator', 'av-scan ws-dev-01.contoso.local quick --reason one'));
      const second = approvalIdIn(await run('operator2', 'av-scan ws-dev-01.contoso.local full --reason two'));
      await run('approver', `approve ${first}`);
      await until(async () => (await h.store.listTrackedActions({ approvalId: first, open: true })).length === 1, 'the first scan to be followed');
      await run('approver', `approve ${second}`);
      await until(async () => (await h.approvals.get(second))?.state === 'succeeded', 'the second request to end');
      const record = await h.approvals.get(second);
      expect(record?.state).toBe('succeeded');
      // The running scan as MDE has it: its real type (Quick, not the Full just asked for) and who started it.
      const text = JSON.stringify(record?.result);
      expect(text).toContain('A Quick antivirus scan is already');
      expect(text).toContain(`started by ${h.emulator.state.appDisplayName}`);
      expect(text).toContain(`approval ${first}`);
      expect(text).toContain('No second scan was started.');
    } finally {
      h.emulator.state.actionTimings = { pendingMs: 60, inProgressMs: 60 };
      await h.engine.idle();
    }
  });

  it('asks for an AV scan on Linux like any other device, and runs it', async () => {
    const approvalId = approvalIdIn(await run('operator', 'av-scan lnx-web-01.contoso.local quick --reason "linux alert"'));
    await run('approver', `approve ${approvalId}`);
    await h.engine.idle();
    expect((await h.approvals.get(approvalId))?.state).toBe('succeeded');
  });

  it("reports MDE's refusal of a device it cannot scan, naming the device's platform", async () => {
    const approvalId = approvalIdIn(await run('operator', `av-scan ${SEED.names.linuxLegacy} full --reason "old client"`));
    await run('approver', `approve ${approvalId}`);
    await h.engine.idle();
    const record = await h.approvals.get(approvalId);
    expect(record?.state).toBe('failed');
    const text = JSON.stringify(record?.result);
    expect(text).toContain('lnx-legacy-01.contoso.local (Linux, Defender client 101.23.64)');
    expect(text).toContain('ClientVersionNotSupported');
  });

  it('warns, and does not refuse, when MDE reports the device inactive or not onboarded', async () => {
    const inactive = await run('operator', `av-scan ${SEED.names.inactive} quick --reason "stale device"`);
    expect(textOf(inactive)).toContain('Warning: MDE reports ws-hr-02.contoso.local as Inactive');
    approvalIdIn(inactive);
    h.emulator.state.machines.get(SEED.machines.mac)!.onboardingStatus = 'CanBeOnboarded';
    try {
      const discovered = await run('operator', `av-scan ${SEED.names.mac} quick --reason "discovered"`);
      expect(textOf(discovered)).toContain('as CanBeOnboarded, not onboarded');
    } finally {
      h.emulator.state.machines.get(SEED.machines.mac)!.onboardingStatus = 'Onboarded';
    }
  });

  it('stops following a machine action MDE refuses to report (400 for an id that is not a GUID)', async () => {
    // A store or an MDE answer that hands the follower a 40-hex machine id instead of an action id.
    const odd = await engineHarness({
      emulator: h.emulator,
      wrapMde: (mde) => ({
        ...mde,
        async runAntivirusScan(machineId, body) {
          const outcome = await mde.runAntivirusScan(machineId, body);
          return outcome.kind === 'started' ? { kind: 'started', action: { ...outcome.action, id: machineId } } : outcome;
        },
      }),
    });
    try {
      const approvalId = approvalIdIn(await odd.engine.handleText(USERS.operator, ORIGIN, `av-scan ${SEED.machines.obrien} quick --reason "odd id"`));
      await odd.engine.handleText(USERS.approver, ORIGIN, `approve ${approvalId}`);
      await odd.engine.idle();
      const record = await odd.approvals.get(approvalId);
      expect(record?.state).toBe('failed');
      expect(JSON.stringify(record?.result)).toContain('is not a machine action id');
    } finally {
      await odd.close();
    }
  }, 10_000);

  it('executes once when the same approval is clicked twice at once', async () => {
    const approvalId = approvalIdIn(await run('operator', `scans delete ${SEED.definitions.networkLab} --reason dup`));
    h.emulator.resetStats();
    const clicks = await Promise.all([1, 2, 3].map(() => h.engine.handleButton(USERS.approver, ORIGIN, { type: 'approval', approvalId, decision: 'approve' })));
    await h.engine.idle();
    expect(clicks.filter((c) => c.type === 'decided')).toHaveLength(1);
    expect(h.emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBe(1);
  });

  it('rejects with a reason, lists pending and recent requests', async () => {
    const approvalId = approvalIdIn(await run('operator', `scans delete ${SEED.definitions.windowsHr} --reason "maybe"`));
    expect(textOf(await run('viewer', 'approvals'))).toContain(approvalId);
    expect(textOf(await run('approver', `reject ${approvalId} --reason "still needed"`))).toContain(`Rejected ${approvalId}`);
    expect(h.emulator.state.definitions.has(SEED.definitions.windowsHr)).toBe(true);
    expect(textOf(await run('viewer', 'approvals'))).not.toContain(approvalId);
    expect(textOf(await run('viewer', 'approvals --all'))).toContain('still needed');
    const audit = await h.store.listAudit({ approvalId });
    expect(audit.at(-1)).toMatchObject({ event: 'rejected', actor: USERS.approver.id });
  });

  it('expires an undecided request, re-renders its cards to say so, and refuses a late approval', async () => {
    const clock = { now: new Date() };
    const short = await engineHarness({ emulator: h.emulator, now: () => clock.now, expirySweepMs: 20 });
    try {
      const approvalId = approvalIdIn(await short.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkCore} --reason "too slow"`));
      clock.now = new Date(clock.now.getTime() + 61 * 60_000); // the injected clock, past the 60-minute TTL
      await until(() => short.publisher.statesOf(approvalId).includes('expired'), 'the sweep to expire it');
      const expiredCard = short.publisher.updatesOf(approvalId).find((u) => u.view.state === 'expired')!;
      expect(textOf(expiredCard.card)).toContain('Expired at');
      expect(textOf(await short.engine.handleText(USERS.approver, ORIGIN, `approve ${approvalId}`))).toContain('expired');
      expect(h.emulator.state.definitions.has(SEED.definitions.networkCore)).toBe(true);
    } finally {
      await short.close();
    }
  });

  it('marks a conversation as the approvals place', async () => {
    await run('approver', 'approvals here');
    expect(await h.store.getSetting('approvals.here.test')).toEqual(ORIGIN.location);
  });
});

describe('restart', () => {
  it('runs an approved request that had not started, and reads back the outcome of one cut off while executing', async () => {
    const storeUrl = tempStoreUrl();
    const first = await engineHarness({ storeUrl, emulator: h.emulator });
    const approved = approvalIdIn(await first.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.windowsFinance} --reason "recover approved"`));
    const cutOff = approvalIdIn(await first.engine.handleText(USERS.operator2, ORIGIN, `scans delete ${SEED.definitions.windowsHr} --reason "recover executing"`));
    // As if the process died right after each step: decided but not started; started but not finished.
    await first.approvals.decide({ id: approved, decision: 'approve', actor: USERS.approver.id, actorRoles: ['viewer', 'operator', 'approver'] });
    const decided = await first.approvals.decide({ id: cutOff, decision: 'approve', actor: USERS.approver.id, actorRoles: ['viewer', 'operator', 'approver'] });
    if (!decided.ok) throw new Error(decided.message);
    await first.approvals.beginExecution(cutOff, decided.record.operationHash);
    await first.close();

    const second = await engineHarness({ storeUrl, emulator: h.emulator });
    await second.engine.idle();
    expect((await second.approvals.get(approved))?.state).toBe('succeeded');
    expect(h.emulator.state.definitions.has(SEED.definitions.windowsFinance)).toBe(false);
    const unknown = await second.approvals.get(cutOff);
    expect(unknown?.state).toBe('failed');
    expect(JSON.stringify(unknown?.result)).toContain('Not carried out'); // read back from MDE: the definition is still there
    await second.close();
  });

  it('keeps a pending approval across a restart and executes it exactly once', async () => {
    const storeUrl = tempStoreUrl();
    const first = await engineHarness({ storeUrl, emulator: h.emulator });
    const approvalId = approvalIdIn(await first.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkBranch} --reason "restart test"`));
    await first.close();

    const second = await engineHarness({ storeUrl, emulator: h.emulator });
    h.emulator.resetStats();
    await Promise.all([
      second.engine.handleText(USERS.approver, ORIGIN, `approve ${approvalId}`),
      second.engine.handleText(USERS.approver, ORIGIN, `approve ${approvalId}`),
    ]);
    await second.engine.idle();
    expect((await second.approvals.get(approvalId))?.state).toBe('succeeded');
    expect(h.emulator.state.definitions.has(SEED.definitions.networkBranch)).toBe(false);
    expect(h.emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBe(1);
    await second.close();
  });
});
