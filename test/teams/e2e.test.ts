/**
 * End to end over real HTTP: the bot (startApp, demo mode with the in-process MDE
 * emulator) with the Teams adapter in local mode, Bot Framework activities POSTed to
 * /api/messages, and a local connector stub as their serviceUrl recording every send,
 * reply and update.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTeamsAdapter, type TeamsHttpAdapter } from '../../adapters/teams/index.js';
import { addPagingProbes } from '../helpers/emulator.js';
import { startApp, type App } from '../../src/app.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log.js';
import { expectValidCard } from '../helpers/teams-cards.js';
import { actionTitles, cardsOf, cardText, findAction, startConnectorStub, type ConnectorCall, type ConnectorStub } from '../helpers/teams-connector.js';
import { approvalIdOfCard, TeamsDriver } from '../helpers/teams-driver.js';
import { invokeActivity, messageActivity, otherLocalAddress, postActivity, type TeamsUser, type Where } from '../helpers/teams.js';

const OPERATOR: TeamsUser = { aad: DEMO_USERS.operator.teams.slice('teams:'.length), name: 'Olivia Operator' };
const APPROVER: TeamsUser = { aad: DEMO_USERS.approver.teams.slice('teams:'.length), name: 'Adam Approver' };
/** A second operator: may request, may not approve. */
const OTTO: TeamsUser = { aad: '33333333-3333-4333-8333-333333333333', name: 'Otto Operator' };
/** Anyone else is a viewer in demo mode. */
const VIEWER: TeamsUser = { aad: '44444444-4444-4444-8444-444444444444', name: 'Victor Viewer' };
const D = SEED.definitions;

let stub: ConnectorStub;
let app: App;
let teams: TeamsHttpAdapter;
let endpoint: string;
const logLines: string[] = [];

const personal = (user: TeamsUser): Where => ({ serviceUrl: stub.url, conversationId: `a:personal-${user.aad}` });
const channel = (): Where => ({ serviceUrl: stub.url, conversationId: '19:general@thread.tacv2;messageid=1700000000000', kind: 'channel' });
const groupChat = (): Where => ({ serviceUrl: stub.url, conversationId: '19:group-chat@thread.v2', kind: 'groupChat' });

beforeAll(async () => {
  stub = await startConnectorStub();
  app = await startApp({
    port: 0,
    log: createLogger('trace', { write: (line: string) => void logLines.push(line) }),
    env: { STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', BOT_OPERATORS: `teams:${OTTO.aad}` },
    emulator: { actionTimings: { pendingMs: 150, inProgressMs: 250 } },
    pollMs: 100,
    adapters: async (deps) => {
      teams = await createTeamsAdapter({
        engine: deps.engine,
        store: deps.store,
        log: deps.log,
        config: { mode: 'local' },
      });
      return [teams];
    },
  });
  endpoint = `${app.url}/api/messages`;
  drive = new TeamsDriver(endpoint, stub);
  addPagingProbes(app.emulator!);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await stub?.close();
});

// ---------------------------------------------------------------------------------------
// helpers

let drive: TeamsDriver;
const post = (activity: unknown) => drive.post(activity);
const say = (user: TeamsUser, text: string, where?: Where) => drive.say(user, text, where);
const press = (...a: Parameters<TeamsDriver['press']>) => drive.press(...a);
const approvalCardIn = (conversationId: string, approvalId: string, from: number) => drive.approvalCardIn(conversationId, approvalId, from);
const textOf = (card: any) => cardText(card);

/** The approval request a card names (a structured field of the card). */
function approvalIdOf(card: any): string {
  const id = approvalIdOfCard(card);
  if (!id) throw new Error(`no approval id in: ${cardText(card)}`);
  return id;
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------------------

describe('Teams messages', () => {
  it('learns the approver’s personal chat from a first message (an unknown command)', async () => {
    const { card, call } = await say(APPROVER, 'hello there');
    expect(call.kind).toBe('reply');
    expect(textOf(card)).toMatch(/unknown command|hello/i);
    expect(card.body.some((b: any) => b.style === 'attention')).toBe(true);
    const stored = await app.store.getConversation(`teams:user:${APPROVER.aad}`);
    expect(stored?.ref).toMatchObject({ conversation: { id: personal(APPROVER).conversationId }, serviceUrl: stub.url, user: { id: `29:${APPROVER.aad}` } });
  });

  it('agents list: the scanner agents, the silent one flagged stale', async () => {
    const { card } = await say(VIEWER, 'agents list');
    const text = textOf(card);
    expect(text).toContain('Scanner agents: 3');
    expect(text).toContain(SEED.agents.lab);
    expect(text).toMatch(/stale/);
    expect(text).toContain('not been seen for more than 24 hours');
  });

  it('help', async () => {
    const { card } = await say(OPERATOR, 'help');
    expect(textOf(card)).toContain('mde-chatops commands');
    expect(textOf(card)).toContain('scans list');
  });

  it('scans list with paging; Next page replaces the card for the presser', async () => {
    const { card } = await say(OPERATOR, 'scans list');
    const text = textOf(card);
    expect(text).toContain('Scan definitions');
    expect(text).toContain('Finance workstations');
    expect(text).toMatch(/Page 1 of 2/);
    const next = findAction(card, 'Next page');
    const answer = await press(next, OPERATOR, personal(OPERATOR), { replyToId: 'list-card' });
    expect(answer.statusCode).toBe(200);
    expect(answer.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(textOf(answer.value)).toMatch(/Page 2 of 2/);
  });

  it('scans show: the definition’s facts and its buttons', async () => {
    const { card } = await say(OPERATOR, `scans show ${D.windowsFinance}`);
    const text = textOf(card);
    expect(text).toContain('Finance workstations');
    expect(text).toContain('Targets: 10.10.1.10, 10.10.1.11');
    expect(actionTitles(card)).toEqual(expect.arrayContaining(['History', 'Edit']));
  });

  it('scans history (and the History button posts the history as a new message)', async () => {
    const { card } = await say(OPERATOR, `scans history ${D.windowsFinance}`);
    expect(textOf(card)).toContain('Scan history');
    const { card: detail } = await say(OPERATOR, `scans show ${D.networkCore}`);
    const mark = stub.calls.length;
    const answer = await press(findAction(detail, 'History'), OPERATOR, personal(OPERATOR), { replyToId: 'detail-card' });
    expect(answer.type).toBe('application/vnd.microsoft.activity.message');
    const sent = await stub.waitFor((c) => c.conversationId === personal(OPERATOR).conversationId && cardsOf(c).length > 0, { from: mark });
    expect(textOf(cardsOf(sent)[0])).toContain('Scan history: Core switches');
  });

  it('an unknown command gets an error card with a suggestion', async () => {
    const { card } = await say(OPERATOR, 'scans lst');
    expect(textOf(card)).toMatch(/scans list/);
    expect(card.body.some((b: any) => b.style === 'attention')).toBe(true);
  });

  it('a mention in a channel: the @mention is stripped, entities decoded, the answer goes to the thread', async () => {
    const where = channel();
    const { card, call } = await say(VIEWER, 'scans show &quot;Finance workstations&quot;', where);
    expect(call.kind).toBe('reply');
    expect(call.conversationId).toBe(where.conversationId);
    expect(textOf(card)).toContain(D.windowsFinance);
  });

  it('a mention whose entity is missing still works (the <at> leftover is dropped)', async () => {
    const where = groupChat();
    const activity = { ...messageActivity('whoami', VIEWER, where), entities: [] };
    const mark = stub.calls.length;
    await post(activity);
    const call = await stub.waitFor((c) => c.conversationId === where.conversationId, { from: mark });
    expect(textOf(cardsOf(call)[0])).toContain(`teams:${VIEWER.aad}`);
  });
});

describe('Teams create form', () => {
  it('a bad field re-renders the form with the error; a good submission creates the definition', async () => {
    const { card: first, call } = await say(OPERATOR, 'scans create network');
    const hasPassword = (card: any) => card.body.some((b: any) => b.type === 'Container' && b.items?.some((i: any) => i.type === 'Input.Text' && i.style === 'password'));
    const ids = (card: any): string[] => JSON.stringify(card).match(/"id":"[A-Za-z]+"/g) ?? [];
    // Only the fields of the choices made: a Network scan with SNMP NoAuthNoPriv asks no secret and no Windows account.
    expect(hasPassword(first)).toBe(false);
    expect(ids(first)).not.toContain('"id":"windowsCredential"');
    expect(ids(first).indexOf('"id":"snmpType"')).toBeLessThan(ids(first).indexOf('"id":"scanName"'));
    // Choosing CommunityString and pressing "Show fields for these choices" brings its fields, keeping what was typed.
    const shown = await press(findAction(first, 'Show fields for these choices'), OPERATOR, personal(OPERATOR), { replyToId: call.id, inputs: { scanType: 'Network', snmpType: 'CommunityString', scanName: 'kept' } });
    expect(shown.type).toBe('application/vnd.microsoft.card.adaptive');
    const form = shown.value;
    expect(hasPassword(form)).toBe(true);
    expect(JSON.stringify(form)).toContain('"value":"kept"');
    const submit = findAction(form, 'Create');
    expect(submit.verb).toBe('submitForm');
    const good = {
      scanType: 'Network',
      scanName: 'Teams e2e switches',
      target: '10.9.0.1, 10.9.0.2',
      targetType: 'Ip',
      intervalInHours: '12',
      active: 'true',
      agent: SEED.agents.hq,
      snmpType: 'CommunityString',
      snmpCredential: 'inline',
      communityString: 'S3cr3t-community!',
    };

    const bad = await press(submit, OPERATOR, personal(OPERATOR), { replyToId: call.id, inputs: { ...good, intervalInHours: '0' } });
    expect(bad.type).toBe('application/vnd.microsoft.card.adaptive');
    const badText = textOf(bad.value);
    expect(badText).toMatch(/interval/i);
    expect(JSON.stringify(bad.value)).not.toContain('S3cr3t-community!');
    const intervalInput = JSON.stringify(bad.value).includes('"id":"intervalInHours"');
    expect(intervalInput).toBe(true);
    expect([...app.emulator!.state.definitions.values()].some((d) => d.scanName === 'Teams e2e switches')).toBe(false);

    const mark = stub.calls.length;
    const ok = await press(findAction(bad.value, 'Create'), OPERATOR, personal(OPERATOR), { replyToId: call.id, inputs: good });
    expect(ok.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(textOf(ok.value)).toContain('Teams e2e switches');
    const created = [...app.emulator!.state.definitions.values()].find((d) => d.scanName === 'Teams e2e switches');
    expect(created).toBeDefined();
    expect(JSON.stringify(created)).toContain('S3cr3t-community!'); // it reached MDE…
    // …and the form was replaced for everyone by the result.
    const update = await stub.waitFor((c) => c.kind === 'update' && c.activityId === call.id, { from: mark });
    expect(textOf(cardsOf(update)[0])).toContain('Teams e2e switches');
    expect(JSON.stringify(stub.calls)).not.toContain('S3cr3t-community!');
    expect(logLines.join('\n')).not.toContain('S3cr3t-community!');
  });

  it('three clicks on Create (three invokes) create one definition', async () => {
    const { card: form, call } = await say(OPERATOR, 'scans create network');
    const inputs = { scanType: 'Network', scanName: 'Clicked thrice', target: '10.9.1.1', targetType: 'Ip', intervalInHours: '6', active: 'true', agent: SEED.agents.hq, snmpType: 'NoAuthNoPriv', snmpCredential: 'inline', username: 'ro' };
    app.emulator!.resetStats();
    const answers = await Promise.all([1, 2, 3].map(() => press(findAction(form, 'Create'), OPERATOR, personal(OPERATOR), { replyToId: call.id, inputs })));
    expect(answers.filter((a) => a.type === 'application/vnd.microsoft.card.adaptive')).toHaveLength(1);
    expect(answers.filter((a) => a.type === 'application/vnd.microsoft.activity.message' && /already submitted/.test(String(a.value)))).toHaveLength(2);
    expect([...app.emulator!.state.definitions.values()].filter((d) => d.scanName === 'Clicked thrice')).toHaveLength(1);
    expect(app.emulator!.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions']).toBe(1);
  });
});

describe('Teams update form', () => {
  /** The values a card's inputs show, as Teams would submit them untouched. */
  function shownInputs(card: unknown): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(walk);
      if (!node || typeof node !== 'object') return;
      const el = node as Record<string, unknown>;
      if (typeof el.type === 'string' && el.type.startsWith('Input.') && typeof el.id === 'string' && el.value !== undefined) out[el.id] = String(el.value);
      Object.values(el).forEach(walk);
    };
    walk(card);
    return out;
  }

  it('sends only what the user changed: a definition disabled while the card was open stays disabled', async () => {
    expect(textOf((await say(OPERATOR, `scans enable ${D.windowsHr}`)).card)).toContain('Enabled');
    const { card: form, call } = await say(OPERATOR, `scans update ${D.windowsHr}`);
    const save = findAction(form, 'Save');
    expect(save.verb).toBe('submitForm');
    // The values the card showed ride along in the action data, beside the form kind.
    expect(save.data._mde).toMatchObject({ t: 'submitForm', kind: 'update', definitionId: D.windowsHr, baseline: { active: 'true', intervalInHours: '12', credentials: 'keep' } });
    const shown = shownInputs(form);
    expect(shown).toMatchObject({ active: 'true', intervalInHours: '12' });

    // Someone disables it meanwhile (through the bot, so the definitions list cache is fresh).
    expect(textOf((await say(OTTO, `scans disable ${D.windowsHr}`)).card)).toContain('Disabled');
    expect(app.emulator!.state.definitions.get(D.windowsHr)?.isActive).toBe(false);
    const ok = await press(save, OPERATOR, personal(OPERATOR), { replyToId: call.id, inputs: { ...shown, intervalInHours: '6' } });
    expect(ok.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(app.emulator!.state.definitions.get(D.windowsHr)).toMatchObject({ isActive: false, intervalInHours: 6 });

    // A malformed baseline is ignored, not refused: the submission is compared with the definition as it is.
    const broken = { ...save, data: { _mde: { ...save.data._mde, baseline: { active: 5 } } } };
    await press(broken, OPERATOR, personal(OPERATOR), { replyToId: call.id, inputs: { ...shown, intervalInHours: '7' } });
    expect(app.emulator!.state.definitions.get(D.windowsHr)).toMatchObject({ isActive: true, intervalInHours: 7 });
  });
});

describe('Teams approvals', () => {
  it('delete: requester refused, non-approver refused, approver approves, every card updated', async () => {
    const target = D.networkPrinters;
    const mark = stub.calls.length;
    const { card: ack } = await say(OPERATOR, `scans delete ${target} --reason "printers moved"`, groupChat());
    const ackText = textOf(ack);
    expect(ackText).toContain('this conversation');
    expect(ackText).toContain('the personal chat of Adam Approver');
    const id = approvalIdOf(ack);

    const shared = await approvalCardIn(groupChat().conversationId, id, mark);
    const mine = await approvalCardIn(personal(APPROVER).conversationId, id, mark);
    const sharedCard = cardsOf(shared)[0];
    const approverCard = cardsOf(mine)[0];
    // The approver's personal chat shows the buttons; the shared card is read-only and refreshes for the approver.
    expect(actionTitles(approverCard)).toEqual(['Approve', 'Reject']);
    expect(actionTitles(sharedCard)).toEqual([]);
    expect(sharedCard.refresh.userIds).toEqual([`29:${APPROVER.aad}`]);

    // Refresh: an approver gets the buttons, anyone else the read-only card.
    const refreshAction = sharedCard.refresh.action;
    const forApprover = await press(refreshAction, APPROVER, groupChat(), { replyToId: shared.id });
    expect(actionTitles(forApprover.value)).toEqual(['Approve', 'Reject']);
    const forViewer = await press(refreshAction, VIEWER, groupChat(), { replyToId: shared.id });
    expect(actionTitles(forViewer.value)).toEqual([]);

    const approve = findAction(approverCard, 'Approve');
    const byRequester = await press(approve, OPERATOR, groupChat(), { replyToId: shared.id });
    expect(textOf(byRequester.value)).toMatch(/You requested .* yourself/i);
    expect(actionTitles(byRequester.value)).toEqual([]);
    const byOtto = await press(approve, OTTO, groupChat(), { replyToId: shared.id });
    expect(textOf(byOtto.value)).toMatch(/approver/i);
    expect((await app.store.getApproval(id))!.state).toBe('pending');
    expect(app.emulator!.state.findDefinition(target)).toBeDefined();

    const before = stub.calls.length;
    const byApprover = await press(approve, APPROVER, personal(APPROVER), { replyToId: mine.id });
    expect(byApprover.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(textOf(byApprover.value)).toMatch(/Approved|Succeeded/);
    expect(actionTitles(byApprover.value)).toEqual([]);
    await until(async () => (await app.store.getApproval(id))!.state === 'succeeded', 'the delete to finish');
    expect(app.emulator!.state.findDefinition(target)).toBeUndefined();
    // Both cards end showing the outcome, for everyone.
    for (const [conversationId, activityId] of [
      [groupChat().conversationId, shared.id],
      [personal(APPROVER).conversationId, mine.id],
    ]) {
      await stub.waitFor((c) => c.kind === 'update' && c.conversationId === conversationId && c.activityId === activityId && /Succeeded/.test(textOf(cardsOf(c)[0])), { from: before });
    }
    const final = stub.since(before).filter((c) => c.kind === 'update' && c.activityId === shared.id).pop()!;
    expect(textOf(cardsOf(final)[0])).toContain('Adam Approver');
    expect(actionTitles(cardsOf(final)[0])).toEqual([]);
  });

  it('AV scan: approved from the personal chat, the card follows the machine action to Succeeded', async () => {
    const mark = stub.calls.length;
    const { card: ack } = await say(OTTO, `av-scan ${SEED.names.wsFin01} quick --reason "suspicious download"`);
    const id = approvalIdOf(ack);
    expect(textOf(ack)).toContain('the personal chat of Adam Approver, this conversation (to follow it)');
    const mine = await approvalCardIn(personal(APPROVER).conversationId, id, mark);
    // The requester follows it on a read-only card in their own chat.
    const status = await approvalCardIn(personal(OTTO).conversationId, id, mark);
    expect(actionTitles(cardsOf(status)[0])).toEqual([]);
    expect(cardsOf(status)[0].refresh).toBeUndefined();
    const approve = findAction(cardsOf(mine)[0], 'Approve');
    // Before the approver: the requester's and a non-approver's clicks are refused on the card, and nothing runs.
    const actionsBefore = app.emulator!.state.actions.size;
    const byRequester = await press(approve, OTTO, personal(OTTO), { replyToId: status.id });
    expect(byRequester.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(textOf(byRequester.value)).toMatch(/You requested .* yourself/i);
    expect(actionTitles(byRequester.value)).toEqual([]);
    const byOperator = await press(approve, OPERATOR, personal(OPERATOR));
    expect(byOperator.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(textOf(byOperator.value)).toMatch(/approver/i);
    expect(actionTitles(byOperator.value)).toEqual([]);
    expect((await app.store.getApproval(id))!.state).toBe('pending');
    expect(app.emulator!.state.actions.size).toBe(actionsBefore);

    const answer = await press(approve, APPROVER, personal(APPROVER), { replyToId: mine.id });
    expect(textOf(answer.value)).toMatch(/Approved/);
    const progress: string[] = [];
    for (const card of [mine, status]) {
      const done = await stub.waitFor((c) => c.kind === 'update' && c.activityId === card.id && /Succeeded/.test(textOf(cardsOf(c)[0])), { from: mark, timeoutMs: 10_000 });
      expect(textOf(cardsOf(done)[0])).toMatch(/Succeeded/);
    }
    for (const c of stub.since(mark)) if (c.kind === 'update' && c.activityId === mine.id) progress.push(textOf(cardsOf(c)[0]));
    expect(progress.some((t) => /Approved, running/.test(t))).toBe(true);
    expect((await app.store.getApproval(id))!.state).toBe('succeeded');
  });

  it('the same Action.Execute delivered twice at once executes once', async () => {
    const target = D.networkLab;
    const mark = stub.calls.length;
    const { card: ack } = await say(OPERATOR, `scans delete ${target} --reason "lab closed"`);
    const id = approvalIdOf(ack);
    const mine = await approvalCardIn(personal(APPROVER).conversationId, id, mark);
    const approve = findAction(cardsOf(mine)[0], 'Approve');
    const invokeId = `f:duplicate-${id}`;
    const [a, b] = await Promise.all([
      press(approve, APPROVER, personal(APPROVER), { replyToId: mine.id, id: invokeId }),
      press(approve, APPROVER, personal(APPROVER), { replyToId: mine.id, id: invokeId }),
    ]);
    expect([a.statusCode, b.statusCode]).toEqual([200, 200]);
    const notices = [a, b].filter((r) => textOf(r.value).includes('already received'));
    expect(notices).toHaveLength(1);
    await until(async () => (await app.store.getApproval(id))!.state === 'succeeded', 'the delete to finish');
    const audit = await app.store.listAudit({ approvalId: id });
    expect(audit.filter((e) => e.event === 'approved')).toHaveLength(1);
    expect(audit.filter((e) => e.event === 'executing')).toHaveLength(1);
    // A second, separate click (a new invoke) is refused by the engine: nothing runs twice.
    const again = await press(approve, APPROVER, personal(APPROVER), { replyToId: mine.id });
    expect(actionTitles(again.value)).toEqual([]);
    expect((await app.store.listAudit({ approvalId: id })).filter((e) => e.event === 'executing')).toHaveLength(1);
  });

  it('approvals here: cards for new requests go to that channel', async () => {
    const where = channel();
    const { card } = await say(APPROVER, 'approvals here', where);
    expect(textOf(card)).toMatch(/posted in this conversation/);
    const mark = stub.calls.length;
    const { card: ack } = await say(OPERATOR, `scans delete ${D.networkBranch} --reason "moved to the new scan"`);
    expect(textOf(ack)).toContain('the channel General of the team Security');
    const id = approvalIdOf(ack);
    await approvalCardIn(where.conversationId, id, mark);
  });
});

describe('Teams local mode', () => {
  // Card updates of earlier tests are paced (Bot Framework's rate): let them land first.
  beforeEach(() => app.engine.idle());

  it('refuses a non-loopback peer with 401 before botbuilder sees it', async () => {
    const other = otherLocalAddress();
    if (!other) return; // no second interface on this machine: the unit test of the check covers it
    await app.engine.idle();
    const mark = stub.calls.length;
    const result = await postActivity(endpoint, messageActivity('help', VIEWER, personal(VIEWER)), { localAddress: other });
    expect(result.status).toBe(401);
    expect(stub.since(mark)).toHaveLength(0);
  });

  it('refuses an activity whose serviceUrl is not on loopback', async () => {
    await app.engine.idle();
    const mark = stub.calls.length;
    const activity = messageActivity('help', VIEWER, { ...personal(VIEWER), serviceUrl: 'https://smba.trafficmanager.net/emea/' });
    const result = await postActivity(endpoint, activity);
    expect(result.status).toBe(401);
    expect(result.body.error).toMatch(/serviceUrl/);
    expect(stub.since(mark)).toHaveLength(0);
    expect(teams.localMode).toBe(true);
  });

  /** POSTs a help message with extra or replaced headers; expects 401 with nothing run. */
  async function refused(headers: Record<string, string>, why: RegExp): Promise<void> {
    // Approval cards of earlier tests may still be updating (paced): let them finish first.
    await app.engine.idle();
    const mark = stub.calls.length;
    const logMark = logLines.length;
    const activity = messageActivity('help', VIEWER, personal(VIEWER));
    const result = await postActivity(endpoint, activity, { headers });
    expect(result.status, result.text).toBe(401);
    expect(result.body.error).toMatch(why);
    await new Promise((r) => setTimeout(r, 100));
    expect(stub.since(mark)).toHaveLength(0);
    const logged = logLines.slice(logMark).map((l) => JSON.parse(l) as { msg: string; level: number });
    expect(logged.some((l) => l.msg.startsWith('teams local mode: refused') && l.level === 40)).toBe(true);
  }

  it('refuses a request addressed to another host name (DNS rebinding)', async () => {
    await refused({ host: `rebind.evil.example:${new URL(endpoint).port}` }, /Host/);
  });

  it('answers a local tool written with Node’s fetch (it sends sec-fetch-mode: cors, but no Origin or Sec-Fetch-Site)', async () => {
    const mark = stub.calls.length;
    const activity = messageActivity('whoami', VIEWER, personal(VIEWER));
    const res = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(activity) });
    expect(res.status).toBe(200);
    const reply = await stub.waitFor((c) => c.kind === 'reply' && c.activityId === activity.id, { from: mark });
    expect(textOf(cardsOf(reply)[0])).toContain(`teams:${VIEWER.aad}`);
  });

  it('refuses a request from a browser (Origin)', async () => {
    await refused({ origin: 'http://rebind.evil.example' }, /origin/);
    await refused({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' }, /sec-fetch/);
  });

  it('refuses a request through a reverse proxy (X-Forwarded-For)', async () => {
    await refused({ 'x-forwarded-for': '203.0.113.9' }, /x-forwarded-for/);
  });

  it('refuses a text/plain body (what a page can POST without a preflight)', async () => {
    await refused({ 'content-type': 'text/plain;charset=UTF-8' }, /application\/json/);
  });

  it('answers the Agents Playground’s requests (its headers, a loopback Host, JSON with a charset)', async () => {
    const port = new URL(endpoint).port;
    const variants: Array<Record<string, string>> = [
      { host: `127.0.0.1:${port}`, 'x-ms-agents-playground': 'true', 'user-agent': 'axios/1.12.2', accept: 'application/json, text/plain, */*' },
      { host: `localhost:${port}`, 'content-type': 'application/json; charset=utf-8' },
    ];
    for (const headers of variants) {
      const mark = stub.calls.length;
      const activity = messageActivity('whoami', VIEWER, personal(VIEWER));
      expect((await postActivity(endpoint, activity, { headers })).status).toBe(200);
      await stub.waitFor((c) => c.kind === 'reply' && c.activityId === activity.id, { from: mark });
    }
  });

  it('answers 400 for a body that is not an activity, 413 for an oversized one', async () => {
    expect((await postActivity(endpoint, null, { rawBody: '{not json' })).status).toBe(400);
    expect((await postActivity(endpoint, null, { rawBody: JSON.stringify({ text: 'x'.repeat(300 * 1024) }) })).status).toBe(413);
  });
});

describe('Teams cards', () => {
  it('every card the bot sent or answered with is a valid Adaptive Card 1.5', () => {
    const cards = [...stub.cards(), ...drive.answeredCards]; // invoke answers are checked like the sent cards
    expect(cards.length).toBeGreaterThan(20);
    for (const card of cards) expectValidCard(card);
  });
});
