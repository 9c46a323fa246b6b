/**
 * The audit trail end to end over real HTTP: signed Slack requests to the running bot
 * (demo mode, the emulator as MDE), the Slack Web API stub taking the uploaded exports,
 * `AUDIT_FILE` receiving every entry, and the download link Teams users get.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import { startApp, type App } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import type { StoredAuditEntry } from '../../src/core/records.js';
import { SlackDriver } from '../helpers/slack-driver.js';
import { startSlackStub, type SlackCall, type SlackStub } from '../helpers/slack-stub.js';
import { modalFieldPayload, type UserRef } from '../helpers/slack-requests.js';
import { createTeamsAdapter } from '../../adapters/teams/index.js';
import { startConnectorStub, type ConnectorStub } from '../helpers/teams-connector.js';
import { TeamsDriver } from '../helpers/teams-driver.js';
import type { TeamsUser } from '../helpers/teams.js';

const SECRET = 'audit-signing-secret-0123456789';
const APPROVALS = 'C0APPROVE';
const OPERATOR: UserRef = { id: DEMO_USERS.operator.slack.slice('slack:'.length), name: 'olivia' };
const APPROVER: UserRef = { id: DEMO_USERS.approver.slack.slice('slack:'.length), name: 'adam' };
const VIEWER: UserRef = { id: 'U0VIEWER', name: 'victor' };
const SECRETS = ['Aud1t-auth-Pa55word!', 'Aud1t-priv-Pa55word!'];
const LINK_TTL_MS = 15 * 60_000;

let stub: SlackStub;
let app: App;
let drive: SlackDriver;
let auditFile: string;
let clockOffsetMs = 0;
let connector: ConnectorStub;
let teams: TeamsDriver;
const logLines: string[] = [];

beforeAll(async () => {
  stub = await startSlackStub();
  auditFile = join(mkdtempSync(join(tmpdir(), 'audit-e2e-')), 'audit.jsonl');
  app = await startApp({
    port: 0,
    log: createLogger('trace', { write: (line: string) => void logLines.push(line) }),
    now: () => new Date(Date.now() + clockOffsetMs),
    downloadTtlMs: LINK_TTL_MS,
    env: {
      STORE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'silent',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: stub.apiUrl,
      SLACK_APPROVAL_CHANNEL: APPROVALS,
      AUDIT_FILE: auditFile,
    },
    pollMs: 100,
    adapters: async (deps) => [
      await createSlackAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { ...deps.config.slack!, retries: 0, timing: { cardUpdateMinMs: 50 } } }),
      await createTeamsAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { mode: 'local' } }),
    ],
  });
  drive = new SlackDriver(`${app.url}/slack/events`, stub, SECRET, APPROVALS);
  connector = await startConnectorStub();
  teams = new TeamsDriver(`${app.url}/api/messages`, connector);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await stub?.close();
  await connector?.close();
});

const textOf = (body: Record<string, any>) => JSON.stringify([body.text, body.blocks]);

async function ask(user: UserRef, text: string): Promise<string> {
  const sent = await drive.slash(user, text);
  expect(sent.http.status).toBe(200);
  return textOf((await drive.answerTo(sent.responseUrl)).body);
}

/** The file the bot uploaded after `text` (the newest completed upload). */
async function exportVia(text: string): Promise<{ bytes: string; complete: SlackCall }> {
  const before = new Set(stub.uploads.keys());
  await ask(APPROVER, text);
  const upload = await stub.waitFor(() => [...stub.uploads.values()].find((u) => !before.has(u.fileId) && u.completed));
  const complete = stub.callsTo('files.completeUploadExternal').at(-1)!;
  return { bytes: upload.bytes.toString('utf8'), complete };
}

/** RFC 4180 rows (quoted fields, doubled quotes, CRLF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (cell += '"'), i++;
      else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(cell), (cell = '');
    else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell), rows.push(row), (row = []), (cell = ''), i++;
    } else cell += c;
  }
  return rows;
}

let definitionId = '';

describe('the audit trail of a definition: create → update → disable → delete', () => {
  it('records each step with who, where, what changed and MDE’s answer, and exports it as JSON lines and CSV', async () => {
    // create through the modal, with SNMP passwords
    const sent = await drive.slash(OPERATOR, 'scans create network');
    const open = await stub.waitFor(() => stub.callsTo('views.open').find((c) => c.body.trigger_id === sent.triggerId));
    const view = { ...open.body.view, id: await stub.waitFor(() => open.response?.view?.id as string | undefined) };
    await drive.postPayload(modalFieldPayload(OPERATOR, view, 'snmpType', { scanType: 'Network', snmpType: 'AuthPriv' }));
    const update = await stub.waitFor(() => stub.callsTo('views.update').filter((c) => c.body.view_id === view.id).at(-1));
    const values = { scanName: 'Audit trail scan', target: '10.7.7.7', intervalInHours: '24', agent: SEED.agents.branch, snmpType: 'AuthPriv', username: 'snmp-audit', authPassword: SECRETS[0], privPassword: SECRETS[1] };
    expect((await drive.submit(OPERATOR, { ...view, blocks: update.body.view.blocks }, values)).status).toBe(200);
    await drive.answerTo(sent.responseUrl);
    definitionId = [...app.emulator!.state.definitions.values()].find((d) => d.scanName === 'Audit trail scan')!.id;

    expect(await ask(OPERATOR, `scans update ${definitionId} --interval 12`)).toContain('Updated');
    expect(await ask(OPERATOR, `scans disable ${definitionId}`)).toContain('Disabled');
    // a refusal: a viewer may not change definitions
    expect(await ask(VIEWER, `scans enable ${definitionId}`)).toMatch(/operator/i);
    const { id, card } = await drive.requestApproval(OPERATOR, `scans delete ${definitionId} --reason "audit trail test"`);
    // four eyes: the requester cannot approve their own request (the refusal is audited too)
    await drive.click(OPERATOR, card, card.blocks.filter((b: any) => b.type === 'actions').flatMap((b: any) => b.elements).find((b: any) => /approve/i.test(JSON.stringify(b.text))));
    await drive.click(APPROVER, card, card.blocks.filter((b: any) => b.type === 'actions').flatMap((b: any) => b.elements).find((b: any) => /approve/i.test(JSON.stringify(b.text))));
    await stub.waitFor(() => !app.emulator!.state.definitions.has(definitionId));
    await app.engine.idle();

    // in chat
    const shown = await ask(APPROVER, `audit --since 1h --definition ${definitionId}`);
    expect(shown).toContain('Audit log, newest first');
    expect(shown).toContain('intervalInHours: 24 → 12');
    expect(shown).toContain('isActive: true → false');
    expect(shown).toContain('olivia (slack:UDEMOOPER)');

    // exported as JSON lines, uploaded to the channel
    const jsonl = await exportVia(`audit export --since 1h --format jsonl --definition ${definitionId}`);
    const entries = jsonl.bytes.trim().split('\n').map((l) => JSON.parse(l) as StoredAuditEntry);
    const steps = entries.map((e) => [e.event, e.command, e.outcome]);
    expect(steps).toEqual([
      ['write', 'scans create', 'ok'],
      ['write', 'scans update', 'ok'],
      ['write', 'scans disable', 'ok'],
      ['refused', 'scans enable', 'refused'],
      ['requested', 'scans delete', 'pending'],
      ['refused', 'scans delete', 'refused'],
      ['approved', 'scans delete', 'pending'],
      ['executing', 'scans delete', 'pending'],
      ['succeeded', 'scans delete', 'ok'],
    ]);
    const [created, updated, disabled, refused, requested, selfApproval, approved, , deleted] = entries as StoredAuditEntry[] & { detail: any }[];
    expect(created).toMatchObject({ actor: DEMO_USERS.operator.slack, actorName: 'olivia', place: { platform: 'slack' } });
    expect((created!.detail as any).changes).toMatchObject({ scanName: { to: 'Audit trail scan' }, intervalInHours: { to: 24 }, authentication: { to: 'AuthPriv, user snmp-audit' } });
    expect((created!.detail as any).mde).toEqual([{ call: 'createDefinition', ok: true, id: definitionId }]);
    expect((updated!.detail as any).changes).toEqual({ intervalInHours: { from: 24, to: 12 } });
    expect((updated!.detail as any).mde).toEqual([{ call: 'updateDefinition', ok: true, id: definitionId }]);
    expect((disabled!.detail as any).changes).toEqual({ isActive: { from: true, to: false } });
    expect(updated!.definitions).toEqual(expect.arrayContaining([definitionId, 'Audit trail scan']));
    expect(refused).toMatchObject({ actor: `slack:${VIEWER.id}`, outcome: 'refused' });
    expect(requested).toMatchObject({ approvalId: id, actor: DEMO_USERS.operator.slack, place: { platform: 'slack' } });
    expect(selfApproval).toMatchObject({ approvalId: id, actor: DEMO_USERS.operator.slack, detail: { code: 'self_approval' } });
    expect(approved).toMatchObject({ approvalId: id, actor: DEMO_USERS.approver.slack, place: { platform: 'slack', location: { channel: APPROVALS } } });
    expect((deleted!.detail as any).mde).toEqual([{ call: 'deleteDefinitions', ok: true }]);
    expect(jsonl.complete.body.channel_id).toBeTruthy();

    // and as CSV, parsed back
    const csv = await exportVia(`audit export --since 1h --format csv --definition "Audit trail scan"`);
    const rows = parseCsv(csv.bytes);
    const header = rows[0]!;
    const col = (name: string) => header.indexOf(name);
    expect(rows.slice(1).map((r) => r[col('event')])).toEqual(steps.filter((_, i) => i !== 3).map((s) => s[0])); // by name: all but the refusal, which named the id only
    expect(rows[2]![col('changes')]).toBe('intervalInHours: 24 → 12');
    expect(JSON.parse(rows[1]![col('detail')]!)).toEqual(created!.detail);

    // no secret anywhere: store, exports, AUDIT_FILE, log, Slack
    const fileLines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StoredAuditEntry & { type: string });
    const everything = [jsonl.bytes, csv.bytes, readFileSync(auditFile, 'utf8'), JSON.stringify(await app.store.listAudit({ limit: 1000 })), logLines.join(''), JSON.stringify(stub.calls.map((c) => c.body))].join('\n');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);

    // AUDIT_FILE: one JSON line per entry, in order
    const stored = await app.store.listAudit({ limit: 1000 });
    expect(fileLines.map((l) => l.seq)).toEqual(stored.map((e) => e.seq));
    expect(fileLines.every((l) => l.type === 'mde-chatops.audit')).toBe(true);
  }, 60_000);

  it('filters by actor and device, pages newest first, and refuses bad filters with the usage', async () => {
    const mine = await ask(APPROVER, 'audit --since 1h --actor victor');
    expect(mine).toContain('scans enable');
    expect(mine).not.toContain('scans update');
    expect(await ask(APPROVER, 'audit --since 1h --device pc-nowhere.contoso.com')).toContain('Nothing in the audit log matches');
    for (let i = 0; i < 3; i++) await ask(VIEWER, `scans enable ${definitionId}`);
    const first = await ask(APPROVER, 'audit --since 1h');
    expect(first).toContain('more: `audit --page 2 --since 1h`');
    expect(await ask(APPROVER, 'audit --since 1h --page 2')).toContain('page 2');
    expect(await ask(APPROVER, 'audit --since yesterday')).toMatch(/--since must be a number and a unit/);
    expect(await ask(APPROVER, 'audit export --format xml')).toMatch(/--format must be jsonl or csv/);
    // only approvers read the log, and the refusal itself is recorded
    expect(await ask(OPERATOR, 'audit')).toMatch(/approver/i);
    expect((await app.store.listAudit({ actor: DEMO_USERS.operator.slack })).at(-1)).toMatchObject({ event: 'refused', command: 'audit' });
  }, 30_000);
});

describe('Teams: the export as a download link', () => {
  const approver: TeamsUser = { aad: DEMO_USERS.approver.teams.slice('teams:'.length), name: 'Adam Approver' };

  it('the card links to the file (GET only), 404 with a wrong token and after expiry', async () => {
    const { card } = await teams.say(approver, 'audit export --since 1h --format csv');
    const open = JSON.stringify(card).match(/\{"type":"Action\.OpenUrl"[^}]*\}/)?.[0];
    const link = { url: (JSON.parse(open!) as { url: string }).url };
    expect(link.url).toMatch(new RegExp(`^${app.url}/downloads/[A-Za-z0-9_-]{43}$`));

    const got = await fetch(link.url);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toContain('text/csv');
    expect(got.headers.get('content-disposition')).toMatch(/^attachment; filename="mde-chatops-audit-.*\.csv"$/);
    const body = await got.text();
    expect(body.split('\r\n')[0]).toBe('seq,at,actor,actorName,platform,place,event,command,approvalId,definitions,devices,outcome,changes,mde,detail');
    expect(body).toContain('scans update');
    // the file the link serves is the one asked for: later entries are not in it
    await ask(VIEWER, 'scans disable whatever');
    expect(await (await fetch(link.url)).text()).toBe(body);

    const token = link.url.split('/').pop()!;
    const wrong = `${app.url}/downloads/${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`;
    expect((await fetch(wrong)).status).toBe(404);
    expect((await fetch(`${app.url}/downloads/short`)).status).toBe(404);
    expect((await fetch(link.url, { method: 'POST' })).status).toBe(405);

    clockOffsetMs = LINK_TTL_MS + 1000;
    try {
      expect((await fetch(link.url)).status).toBe(404);
    } finally {
      clockOffsetMs = 0;
    }
  });
});
