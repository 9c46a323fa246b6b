/**
 * End to end over real HTTP: the bot (startApp, demo mode with the in-process MDE
 * emulator) with the Slack adapter, signed Slack requests to /slack/events, and a local
 * Slack Web API stub that records every call and every response_url post.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockKitProblems } from '../helpers/block-kit-schema.js';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import { decodeMeta } from '../../adapters/slack/modal.js';
import { ACTION_PATTERN, decodeAction } from '../../adapters/slack/render.js';
import { addPagingProbes } from '../helpers/emulator.js';
import { startApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { SlackDriver } from '../helpers/slack-driver.js';
import { startSlackStub, type SlackCall, type SlackStub } from '../helpers/slack-stub.js';
import {
  blockActionPayload,
  modalFieldPayload,
  postSigned,
  type UserRef,
} from '../helpers/slack-requests.js';

const SECRET = 'e2e-signing-secret-0123456789';
const APPROVALS = 'C0APPROVE';
const OPERATOR: UserRef = { id: DEMO_USERS.operator.slack.slice('slack:'.length), name: 'olivia' };
const APPROVER: UserRef = { id: DEMO_USERS.approver.slack.slice('slack:'.length), name: 'adam' };
const VIEWER: UserRef = { id: 'U0VIEWER', name: 'victor' };
const D = SEED.definitions;

let stub: SlackStub;
let app: App;
let events: string;
/** Every log line the bot wrote (trace level and up). */
const logLines: string[] = [];

beforeAll(async () => {
  stub = await startSlackStub();
  app = await startApp({
    port: 0,
    log: createLogger('trace', { write: (line: string) => void logLines.push(line) }),
    env: {
      STORE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'silent',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: stub.apiUrl,
      SLACK_APPROVAL_CHANNEL: APPROVALS,
    },
    emulator: { actionTimings: { pendingMs: 300, inProgressMs: 400 } },
    pollMs: 100,
    agentsCacheMs: 0, // the form asks MDE for the scanner agents each time (the slow-MDE test needs its loading modal)
    adapters: async (deps) => {
      const config = deps.config.slack;
      if (!config) throw new Error('slack config missing');
      return [await createSlackAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { ...config, retries: 0, timing: { cardUpdateMinMs: 100 } } })];
    },
  });
  events = `${app.url}/slack/events`;
  drive = new SlackDriver(events, stub, SECRET, APPROVALS);
  addPagingProbes(app.emulator!);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await stub?.close();
});

// ---------------------------------------------------------------------------------------
// helpers

let drive: SlackDriver;
const slash = (...a: Parameters<SlackDriver['slash']>) => drive.slash(...a);
const click = (...a: Parameters<SlackDriver['click']>) => drive.click(...a);
const postPayload = (payload: unknown, retryNum?: number) => drive.postPayload(payload, retryNum);
const answerTo = (url: string, timeoutMs?: number) => drive.answerTo(url, timeoutMs);
const responsesTo = (url: string) => drive.responsesTo(url);
const cardFor = (approvalId: string) => drive.cardFor(approvalId);
const requestApproval = (user: UserRef, text: string) => drive.requestApproval(user, text);

/** All texts of a message (blocks and fallback) as one string. */
function textOf(body: Record<string, any>): string {
  return JSON.stringify([body.text, body.blocks]);
}

function buttons(blocks: any[]): any[] {
  return blocks.filter((b) => b.type === 'actions').flatMap((b) => b.elements);
}

/** The view id the stub gave a views.open call. */
async function viewIdOf(open: SlackCall): Promise<string> {
  return stub.waitFor(() => open.response?.view?.id as string | undefined);
}

const updatesOf = (ts: string) => stub.callsTo('chat.update').filter((c) => c.body.ts === ts);

const approveButton = (card: { blocks: any[] }) => buttons(card.blocks).find((b) => decodeAction(b.value)?.type === 'approval' && (decodeAction(b.value) as any).decision === 'approve');

// ---------------------------------------------------------------------------------------

describe('Slack signatures', () => {
  it('answers 401 to a wrong signature and runs nothing', async () => {
    const before = stub.calls.length;
    const sent = await slash(OPERATOR, 'scans list', { signature: 'v0=' + '0'.repeat(64) });
    expect(sent.http.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(responsesTo(sent.responseUrl)).toHaveLength(0);
    expect(stub.calls.length).toBe(before);
  });

  it('answers 401 to a correctly signed request older than 5 minutes and runs nothing', async () => {
    const before = stub.calls.length;
    const sent = await slash(OPERATOR, 'scans list', { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 });
    expect(sent.http.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(responsesTo(sent.responseUrl)).toHaveLength(0);
    expect(stub.calls.length).toBe(before);
  });

  it('answers 401 to a correctly signed request more than 5 minutes in the future and runs nothing', async () => {
    const before = stub.calls.length;
    const sent = await slash(OPERATOR, 'scans list', { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 });
    expect(sent.http.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(responsesTo(sent.responseUrl)).toHaveLength(0);
    expect(stub.calls.length).toBe(before);
  });

  it('answers 400 to a correctly signed body that is not a Slack request the bot reads, and stays up', async () => {
    expect((await postSigned(events, 'payload=null', { secret: SECRET })).status).toBe(400);
    expect((await postSigned(events, 'null', { secret: SECRET, contentType: 'application/json' })).status).toBe(400);
    expect((await slash(OPERATOR, 'help')).http.status).toBe(200);
  });

  it('answers a signed request at once with an empty ack', async () => {
    const sent = await slash(OPERATOR, 'help');
    expect(sent.http.status).toBe(200);
    expect(sent.http.text).toBe('');
  });
});

describe('/mde commands', () => {
  it('scans list: the definitions, in the channel', async () => {
    const sent = await slash(VIEWER, 'scans list');
    const { body } = await answerTo(sent.responseUrl);
    expect(body.response_type).toBe('in_channel');
    expect(body.replace_original).toBe(false);
    const text = textOf(body);
    expect(text).toMatch(/Scan definitions: 18/);
    expect(text).toContain('Page 1 of 2');
    expect(body.blocks.length).toBeLessThanOrEqual(50);
  });

  it('agents list: the scanner agents, the silent one flagged stale', async () => {
    const sent = await slash(VIEWER, 'agents list');
    const { body } = await answerTo(sent.responseUrl);
    const text = textOf(body);
    expect(text).toContain('Scanner agents: 3');
    expect(text).toContain(SEED.agents.lab);
    expect(text).toMatch(/stale/);
  });

  it('scans list pages with Next / Previous, replacing the list in place', async () => {
    const sent = await slash(VIEWER, 'scans list --search "Paging probe"');
    const first = await answerTo(sent.responseUrl);
    expect(textOf(first.body)).toContain('Page 1 of 2');
    const next = buttons(first.body.blocks).find((b) => ACTION_PATTERN.page.test(b.action_id));
    expect(next.text.text).toMatch(/Next/);
    const clicked = await click(VIEWER, { ts: '1700000099.000001', channel: 'C0OPS', blocks: first.body.blocks }, next);
    expect(clicked.http.status).toBe(200);
    const page2 = await answerTo(clicked.responseUrl);
    expect(page2.body.replace_original).toBe(true);
    expect(textOf(page2.body)).toContain('Page 2 of 2');
    expect(buttons(page2.body.blocks).map((b) => b.text.text)).toEqual(['◀ Previous']);
  });

  it('scans show: the definition with its facts and buttons; History runs as a new message', async () => {
    const sent = await slash(VIEWER, `scans show ${D.windowsHr}`);
    const { body } = await answerTo(sent.responseUrl);
    expect(body.response_type).toBe('in_channel');
    expect(body.blocks.some((b: any) => b.type === 'section' && b.fields)).toBe(true);
    expect(textOf(body)).toContain(D.windowsHr);
    const history = buttons(body.blocks).find((b) => b.text.text === 'History');
    expect(decodeAction(history.value)).toEqual({ type: 'command', command: `scans history ${D.windowsHr}` });
    const clicked = await click(VIEWER, { ts: '1700000099.000002', channel: 'C0OPS', blocks: body.blocks }, history);
    const answer = await answerTo(clicked.responseUrl);
    expect(answer.body.replace_original).toBe(false);
    expect(textOf(answer.body)).toContain('Scan history');
  });

  it('scans history: the history as a list', async () => {
    const sent = await slash(VIEWER, `scans history ${D.windowsFinance}`);
    const { body } = await answerTo(sent.responseUrl);
    expect(body.response_type).toBe('in_channel');
    expect(textOf(body)).toContain('Scan history');
    expect(body.blocks.filter((b: any) => b.type === 'section').length).toBeGreaterThan(0);
  });

  it('help: only the caller sees it', async () => {
    const sent = await slash(VIEWER, 'help');
    const { body } = await answerTo(sent.responseUrl);
    expect(body.response_type).toBe('ephemeral');
    expect(textOf(body)).toContain('scans list');
  });

  it('an unknown command: an ephemeral error with a suggestion', async () => {
    const sent = await slash(VIEWER, 'scnas lst');
    const { body } = await answerTo(sent.responseUrl);
    expect(body.response_type).toBe('ephemeral');
    expect(textOf(body)).toContain(':x:');
  });

  it('a bad flag: an ephemeral error with the usage', async () => {
    const sent = await slash(VIEWER, 'scans list --colour red');
    const { body } = await answerTo(sent.responseUrl);
    expect(body.response_type).toBe('ephemeral');
    expect(textOf(body)).toContain(':x:');
    expect(textOf(body)).toContain('Usage: scans list');
  });

  it('nothing a user types reaches Slack unescaped', async () => {
    const sent = await slash(VIEWER, 'scans show "<!channel> & <@U123>"');
    const { body } = await answerTo(sent.responseUrl);
    const text = textOf(body);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U123>');
  });
});

describe('create through the modal', () => {
  it('opens the form, shows a field error beside its field, then creates the definition', async () => {
    const sent = await slash(OPERATOR, 'scans create');
    expect(sent.http.status).toBe(200);
    const open = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === sent.triggerId));
    let view = open.body.view;
    // Loading modal first when MDE is slow; here it answers fast, so the form opens directly.
    expect(view.callback_id).toBe('mde_form');
    view = { ...view, id: await viewIdOf(open) };
    const agent = view.blocks.find((b: any) => b.block_id === 'agent');
    expect(agent.element.options.map((o: any) => o.value)).toContain(SEED.agents.hq);

    const values = { scanName: 'Slack modal scan', target: '10.1.2.3, 10.1.2.4', intervalInHours: '0', agent: SEED.agents.hq, username: 'svc-scan$', domain: 'contoso.com' };
    const bad = await drive.submit(OPERATOR, view, values);
    expect(bad.status).toBe(200);
    expect(bad.json.response_action).toBe('errors');
    expect(Object.keys(bad.json.errors)).toEqual(['intervalInHours']);
    expect(app.emulator!.state.definitions.size).toBeGreaterThan(0);
    expect([...app.emulator!.state.definitions.values()].some((d) => d.scanName === 'Slack modal scan')).toBe(false);

    const good = await drive.submit(OPERATOR, view, { ...values, intervalInHours: '12' });
    expect(good.status).toBe(200);
    expect(good.text).toBe(''); // ack(): the modal closes
    const created = [...app.emulator!.state.definitions.values()].find((d) => d.scanName === 'Slack modal scan');
    expect(created).toMatchObject({ intervalInHours: 12, scanType: 'Windows', scannerAgentMachineId: SEED.agents.hq });
    // The result goes where the command was typed, through the command's response_url.
    const result = await answerTo(sent.responseUrl);
    expect(result.body.response_type).toBe('in_channel');
    expect(textOf(result.body)).toContain('Slack modal scan');
  });

  it('runs a submission once: three concurrent copies and a retry create one definition', async () => {
    const sent = await slash(OPERATOR, 'scans create');
    const open = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === sent.triggerId));
    const view = { ...open.body.view, id: await viewIdOf(open) };
    const values = { scanName: 'Submitted once', target: '10.9.9.9', intervalInHours: '24', agent: SEED.agents.hq, username: 'svc-scan$', domain: 'contoso.com' };
    app.emulator!.resetStats();
    const answers = await Promise.all([drive.submit(OPERATOR, view, values), drive.submit(OPERATOR, view, values), drive.submit(OPERATOR, view, values)]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect((await drive.submit(OPERATOR, view, values, 1)).status).toBe(200);
    await app.engine.idle();
    expect([...app.emulator!.state.definitions.values()].filter((d) => d.scanName === 'Submitted once')).toHaveLength(1);
    expect(app.emulator!.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions']).toBe(1);
  });

  it('re-renders the modal for a Network scan with its SNMP fields', async () => {
    const sent = await slash(OPERATOR, 'scans create network');
    const open = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === sent.triggerId));
    const names = open.body.view.blocks.filter((b: any) => b.type === 'input').map((b: any) => b.block_id);
    expect(names).toContain('snmpType');
    expect(names).not.toContain('domain');
  });
});

describe('update through the modal', () => {
  it('sends only what the user changed: a definition disabled while the modal was open stays disabled', async () => {
    const sent = await slash(OPERATOR, `scans update ${D.networkCore}`);
    const open = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === sent.triggerId));
    expect(open.body.view.callback_id).toBe('mde_form');
    const view = { ...open.body.view, id: await viewIdOf(open) };
    // The values the modal showed ride along in private_metadata.
    expect(decodeMeta(view.private_metadata)?.baseline).toMatchObject({ scanName: 'Core switches', active: 'true', intervalInHours: '4', credentials: 'keep' });

    // Someone disables it meanwhile (through the bot, so the definitions list cache is fresh).
    const disabled = await slash(OPERATOR, `scans disable ${D.networkCore}`);
    expect(textOf((await answerTo(disabled.responseUrl)).body)).toContain('Disabled');
    expect(app.emulator!.state.definitions.get(D.networkCore)?.isActive).toBe(false);
    const res = await drive.submit(OPERATOR, view, { intervalInHours: '5' }); // every other input as shown
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    expect(app.emulator!.state.definitions.get(D.networkCore)).toMatchObject({ isActive: false, intervalInHours: 5 });
    await answerTo(sent.responseUrl);
  });
});

describe('modal details', () => {
  const SECRET_VALUES = ['Auth-S3cret-xyzzy', 'Priv-S3cret-plugh'];

  async function openCreate(text = 'scans create') {
    const sent = await slash(OPERATOR, text);
    const open = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === sent.triggerId));
    return { sent, view: { ...open.body.view, id: await viewIdOf(open) } };
  }

  it('changing the scan type re-renders the modal with the fields that now apply', async () => {
    const { view } = await openCreate();
    const payload = modalFieldPayload(OPERATOR, view, 'scanType', { scanType: 'Network' });
    expect((await postPayload(payload)).status).toBe(200);
    const update = await stub.waitFor(() => stub.callsTo('views.update').find((c) => c.body.view_id === view.id));
    const names = update.body.view.blocks.filter((b: any) => b.type === 'input').map((b: any) => b.block_id);
    expect(names).toContain('snmpType');
    expect(names).not.toContain('domain');
    expect(update.body.hash).toBe(view.hash ?? '1.hash');
  });

  it('secrets go to MDE only: never echoed to Slack, never logged', async () => {
    const { sent, view } = await openCreate('scans create network');
    // Choose AuthPriv: the modal is re-rendered with the password fields.
    await postPayload(modalFieldPayload(OPERATOR, view, 'snmpType', { scanType: 'Network', snmpType: 'AuthPriv' }));
    const update = await stub.waitFor(() => stub.callsTo('views.update').filter((c) => c.body.view_id === view.id).at(-1));
    const again = { ...view, blocks: update.body.view.blocks };
    expect(again.blocks.map((b: any) => b.block_id)).toEqual(expect.arrayContaining(['authPassword', 'privPassword']));
    const values = {
      scanName: 'SNMP secret scan',
      target: '10.9.9.9',
      intervalInHours: '24',
      agent: SEED.agents.branch,
      snmpType: 'AuthPriv',
      username: 'snmp-user',
      authPassword: SECRET_VALUES[0],
      privPassword: SECRET_VALUES[1],
    };
    const res = await drive.submit(OPERATOR, again, values);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    const created = [...app.emulator!.state.definitions.values()].find((d) => d.scanName === 'SNMP secret scan');
    expect(created?.credentials).toMatchObject({ authPassword: SECRET_VALUES[0], privPassword: SECRET_VALUES[1] });
    await answerTo(sent.responseUrl);
    const everything = JSON.stringify([stub.calls.map((c) => c.body), stub.responses.map((r) => r.body)]) + logLines.join('');
    expect(logLines.some((l) => l.includes('slack form submitted'))).toBe(true);
    for (const secret of SECRET_VALUES) expect(everything).not.toContain(secret);
  });

  it('a slow submission keeps the modal open with a notice, then shows the result', async () => {
    const { sent, view } = await openCreate();
    app.emulator!.setLatency(2600);
    try {
      const values = { scanName: 'Slow modal scan', target: '10.7.7.7', intervalInHours: '6', agent: SEED.agents.lab, username: 'svc$', domain: 'contoso.com' };
      const res = await drive.submit(OPERATOR, view, values);
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(3000);
      expect(res.json.response_action).toBe('update');
      expect(JSON.stringify(res.json.view)).toContain('Working on it');
      const done = await stub.waitFor(() => stub.callsTo('views.update').find((c) => c.body.view_id === view.id && c.body.view.title.text === 'Done'), 20_000);
      expect(textOf({ blocks: done.body.view.blocks })).toContain('Slow modal scan');
      await answerTo(sent.responseUrl, 20_000);
    } finally {
      app.emulator!.setLatency(0);
    }
  }, 30_000);
});

describe('approvals', () => {
  it('delete: card → requester refused → non-approver refused → approver approves → card updated → definition gone', async () => {
    const { id, card, answer } = await requestApproval(OPERATOR, `scans delete ${D.networkPrinters} --reason "printer VLAN retired"`);
    expect(answer.body.response_type).toBe('in_channel');
    expect(textOf(answer.body)).toContain('approval channel');
    const cardText = JSON.stringify(card.blocks);
    expect(cardText).toContain('printer VLAN retired');
    expect(cardText).toContain('olivia');
    const approve = approveButton(card);
    expect(approve.style).toBe('primary');
    expect(buttons(card.blocks).find((b) => b.text.text === 'Reject').style).toBe('danger');

    const own = await click(OPERATOR, card, approve);
    const refusal = await answerTo(own.responseUrl);
    expect(refusal.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(textOf(refusal.body)).toMatch(/:x:/);

    const viewer = await click(VIEWER, card, approve);
    const refusal2 = await answerTo(viewer.responseUrl);
    expect(refusal2.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(app.emulator!.state.findDefinition(D.networkPrinters)).toBeDefined();
    expect(updatesOf(card.ts)).toHaveLength(0);

    const ok = await click(APPROVER, card, approve);
    expect(ok.http.status).toBe(200);
    await app.engine.idle();
    const updates = await stub.waitFor(() => {
      const u = updatesOf(card.ts);
      return u.some((c) => /Succeeded/.test(textOf(c.body))) && u;
    });
    const last = updates.at(-1)!.body;
    expect(last.channel).toBe(APPROVALS);
    expect(textOf(last)).toContain('adam');
    expect(buttons(last.blocks)).toHaveLength(0);
    expect(app.emulator!.state.findDefinition(D.networkPrinters)).toBeUndefined();
    expect(responsesTo(ok.responseUrl)).toHaveLength(0); // the card itself shows it
    expect((await app.store.getApproval(id))?.state).toBe('succeeded');
  });

  it('AV scan: approval → progress on the same message → Succeeded', async () => {
    const { id, card } = await requestApproval(OPERATOR, `av-scan ${SEED.names.wsFin01} quick --reason "suspicious process"`);
    const ok = await click(APPROVER, card, approveButton(card));
    expect(ok.http.status).toBe(200);
    const updates = await stub.waitFor(() => {
      const u = updatesOf(card.ts);
      return u.some((c) => /Succeeded/.test(textOf(c.body))) && u;
    }, 15_000);
    // Every change went to the one card: approved/running, then the MachineAction's states.
    expect(updates.every((u) => u.body.channel === APPROVALS)).toBe(true);
    expect(updates.length).toBeGreaterThanOrEqual(3);
    const seen = updates.map((u) => textOf(u.body));
    expect(seen.some((t) => /InProgress|Pending|running|Running/.test(t))).toBe(true);
    // One card for the request, changed in place: never a second post of it. The requester
    // gets new messages of their own (approved, then the outcome), each once.
    const posts = stub.callsTo('chat.postMessage').filter((c) => textOf(c.body).includes(id));
    expect(posts.filter((c) => !textOf(c.body).includes('Your request'))).toHaveLength(1);
    await app.engine.idle();
    const told = stub.callsTo('chat.postMessage').filter((c) => textOf(c.body).includes(`Your request ${id}`));
    expect(told.map((c) => /was approved|ran and succeeded/.exec(textOf(c.body))?.[0])).toEqual(['was approved', 'ran and succeeded']);
    expect(told.every((c) => textOf(c.body).includes(`<@${OPERATOR.id}>`))).toBe(true);
  });

  it('the same approve click delivered twice, and once as a Slack retry, executes once', async () => {
    const { id, card } = await requestApproval(OPERATOR, `scans delete ${D.networkLab} --reason "lab closed"`);
    const approve = approveButton(card);
    const responseUrl = stub.responseUrl();
    const payload = blockActionPayload({ user: APPROVER, message: card, button: approve, responseUrl, actionTs: '1700001234.567890' });
    const results = await Promise.all([postPayload(payload), postPayload(payload), postPayload(payload, 1)]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    await app.engine.idle();
    await stub.waitFor(() => updatesOf(card.ts).some((c) => /Succeeded/.test(textOf(c.body))));
    const audit = await app.store.listAudit({ approvalId: id });
    expect(audit.filter((e) => e.event === 'approved')).toHaveLength(1);
    expect(audit.filter((e) => e.event === 'executing')).toHaveLength(1);
    // Repeats were acked and dropped: no "already decided" answers.
    await new Promise((r) => setTimeout(r, 200));
    expect(responsesTo(responseUrl)).toHaveLength(0);
  });

  it('a real double click (two clicks) executes once; the second click is told', async () => {
    const { id, card } = await requestApproval(OPERATOR, `scans delete ${D.networkBranch} --reason "branch merged"`);
    const approve = approveButton(card);
    const [a, b] = await Promise.all([click(APPROVER, card, approve, { actionTs: '1700002000.000001' }), click(APPROVER, card, approve, { actionTs: '1700002000.000002' })]);
    expect([a.http.status, b.http.status]).toEqual([200, 200]);
    await stub.waitFor(() => updatesOf(card.ts).some((c) => /Succeeded/.test(textOf(c.body))));
    await app.engine.idle();
    const audit = await app.store.listAudit({ approvalId: id });
    expect(audit.filter((e) => e.event === 'executing')).toHaveLength(1);
    const told = await stub.waitFor(() => [...responsesTo(a.responseUrl), ...responsesTo(b.responseUrl)][0]);
    expect(told.body.response_type).toBe('ephemeral');
  });
});

describe('slow MDE', () => {
  it('acks every /mde request within 3 s while MDE takes 4 s, and answers later', async () => {
    const emulator = app.emulator!;
    emulator.setLatency(4000);
    try {
      const texts = ['scans list --type network', `scans history ${D.windowsHr}`, 'scans create', `av-scan ${SEED.names.linuxWeb} full --reason "slow test"`, 'help'];
      const sent = await Promise.all(texts.map((t) => slash(OPERATOR, t)));
      for (const s of sent) {
        expect(s.http.status).toBe(200);
        expect(s.http.ms).toBeLessThan(3000);
      }
      // The form: a loading modal at once (the trigger id expires in 3 s), replaced by the form.
      const createTrigger = sent[2]!.triggerId;
      const opened = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === createTrigger), 3000);
      expect(JSON.stringify(opened.body.view)).toContain('Loading');
      const viewId = await viewIdOf(opened);
      const replaced = await stub.waitFor(() => stub.callsTo('views.update').find((c) => c.body.view_id === viewId), 15_000);
      expect(replaced.body.view.callback_id).toBe('mde_form');
      for (const i of [0, 1, 4]) await answerTo(sent[i]!.responseUrl, 20_000);
    } finally {
      emulator.setLatency(0);
    }
  }, 40_000);
});

describe('every Slack message these tests recorded', () => {
  it('keeps to Block Kit’s limits (the zod schema of test/helpers/block-kit-schema.ts)', () => {
    const messages = [
      ...stub.calls.filter((c) => ['chat.postMessage', 'chat.update', 'chat.postEphemeral'].includes(c.method) && Array.isArray(c.body.blocks)).map((c) => [c.method, c.body] as const),
      ...stub.responses.filter((r) => Array.isArray(r.body.blocks)).map((r) => ['respond', r.body] as const),
    ];
    expect(messages.length).toBeGreaterThan(20);
    for (const [method, body] of messages) expect(blockKitProblems({ text: body.text ?? '', blocks: body.blocks }), `${method}: ${JSON.stringify(body).slice(0, 800)}`).toEqual([]);
  });
});
