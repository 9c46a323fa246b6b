/**
 * The adapter over HTTP with a fake engine: app-id mode (botbuilder's JWT check), the
 * invoke time budget, unknown card actions, duplicate deliveries, legacy submits, who a
 * sender is (Teams only; no object id, no role), and what the dedupe claims keep.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { textReply } from '../../src/core/reply.js';
import type { ApprovalPost } from '../../src/core/context.js';
import type { ApprovalRecord } from '../../src/core/records.js';
import { approvalCard, approvalView } from '../../src/core/views.js';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTeamsAdapter, type TeamsHttpAdapter } from '../../adapters/teams/index.js';
import { createRolePolicy, hasRole, normalizeActorId } from '../../src/core/roles.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { FakeEngine } from '../helpers/fake-engine.js';
import { expectValidCard } from '../helpers/teams-cards.js';
import { cardsOf, cardText, startConnectorStub, type ConnectorStub } from '../helpers/teams-connector.js';
import { invokeActivity, messageActivity, otherLocalAddress, postActivity, type TeamsUser, type Where } from '../helpers/teams.js';

const USER: TeamsUser = { aad: '55555555-5555-4555-8555-555555555555', name: 'Una User' };

async function serve(adapter: TeamsHttpAdapter): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => void adapter.handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/messages` };
}

let stub: ConnectorStub;
let store: Store;
const log = createLogger('silent');
const servers: Server[] = [];

beforeAll(async () => {
  stub = await startConnectorStub();
  store = await openStore('sqlite::memory:');
});
afterEach(() => vi.restoreAllMocks());
afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
  await store.close();
  await stub.close();
});

const where = (): Where => ({ serviceUrl: stub.url, conversationId: 'a:adapter-test' });

describe('with MicrosoftAppId: botbuilder authenticates every request', () => {
  it('refuses a request without a token (from this machine or another), and runs nothing', async () => {
    vi.spyOn(console, 'error').mockImplementation(() => undefined); // botbuilder logs auth failures itself
    const engine = new FakeEngine();
    const adapter = await createTeamsAdapter({ engine, store, log, config: { mode: 'app', appId: '5b2c1f7e-9d3a-4e8b-a6c1-0f2e3d4c5b6a', appPassword: 'not-used', appType: 'SingleTenant', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' } });
    expect(adapter.localMode).toBe(false);
    const { server, url } = await serve(adapter);
    servers.push(server);
    const mark = stub.calls.length;
    expect((await postActivity(url, messageActivity('help', USER, where()))).status).toBe(401);
    // A remote serviceUrl is not the local gate's business here: botbuilder's auth decides (and refuses: no token).
    expect((await postActivity(url, messageActivity('help', USER, { ...where(), serviceUrl: 'https://smba.trafficmanager.net/emea/' }))).status).toBe(401);
    const other = otherLocalAddress();
    if (other) expect((await postActivity(url, messageActivity('help', USER, where()), { localAddress: other })).status).toBe(401);
    expect(engine.texts).toHaveLength(0);
    expect(stub.since(mark)).toHaveLength(0);
  });
});

describe('a refused Bot Framework token', () => {
  it('is one log line (no stack trace, nothing on the console) and a 401', async () => {
    const consoleCalls: unknown[][] = [];
    for (const method of ['error', 'warn', 'log', 'info'] as const) vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void consoleCalls.push(args));
    const lines: string[] = [];
    const engine = new FakeEngine();
    const adapter = await createTeamsAdapter({
      engine,
      store,
      log: createLogger('info', { write: (line: string) => void lines.push(line) }),
      config: { mode: 'app', appId: '5b2c1f7e-9d3a-4e8b-a6c1-0f2e3d4c5b6a', appPassword: 'not-used', appType: 'SingleTenant', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' },
    });
    const { server, url } = await serve(adapter);
    servers.push(server);
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-a-jwt' }, { authorization: 'Basic dXNlcjpwYXNz' }];
    for (const headers of attempts) {
      const before = lines.length;
      expect((await postActivity(url, messageActivity('help', USER, where()), { headers })).status).toBe(401);
      const written = lines.slice(before);
      expect(written, written.join('')).toHaveLength(1);
      const entry = JSON.parse(written[0]!);
      expect(entry).toMatchObject({ level: 40, msg: 'teams: refused a request whose Bot Framework token did not validate' });
      expect(written[0]).not.toMatch(/\bat [\w.<>]+ \(|\\n\s+at /);
    }
    expect(consoleCalls).toEqual([]);
    expect(engine.texts).toHaveLength(0);
  });
});

describe('configuration', () => {
  it('botbuilder’s named imports work under this module setup (CommonJS package from ESM)', async () => {
    const bb = await import('botbuilder');
    for (const name of ['CloudAdapter', 'ConfigurationBotFrameworkAuthentication', 'TeamsActivityHandler', 'TurnContext'] as const) expect(typeof bb[name]).toBe('function');
  });

  it('a half-configured bot is refused by the configuration, with the variable named', async () => {
    const make = (env: Record<string, string>) => () => loadConfig({ MicrosoftAppId: '5b2c1f7e-9d3a-4e8b-a6c1-0f2e3d4c5b6a', ...env });
    expect(make({ MicrosoftAppType: 'SingleTenant', MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' })).toThrow(/MicrosoftAppPassword/);
    expect(make({ MicrosoftAppType: 'SingleTenant', MicrosoftAppPassword: 'x' })).toThrow(/MicrosoftAppTenantId/);
    expect(make({ MicrosoftAppType: 'Everywhere', MicrosoftAppPassword: 'x' })).toThrow(/MicrosoftAppType/);
    const config = make({ MicrosoftAppPassword: 'x', MicrosoftAppTenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' })();
    expect(config.teams).toMatchObject({ mode: 'app', appType: 'SingleTenant' });
    await expect(createTeamsAdapter({ engine: new FakeEngine(), store, log, config: config.teams })).resolves.toMatchObject({ localMode: false });
  });
});

describe('local mode with a fake engine', () => {
  let engine: FakeEngine;
  let url: string;
  let adapter: Awaited<ReturnType<typeof createTeamsAdapter>>;
  beforeAll(async () => {
    engine = new FakeEngine();
    adapter = await createTeamsAdapter({ engine, store, log, config: { mode: 'local' }, invokeBudgetMs: 200 });
    const s = await serve(adapter);
    servers.push(s.server);
    url = s.url;
  });

  it('a personal message reaches the engine as is, with the actor and origin', async () => {
    const mark = stub.calls.length;
    const a = messageActivity('scans list --search "a b"', USER, where());
    expect((await postActivity(url, a)).status).toBe(200);
    const call = await stub.waitFor((c) => c.kind === 'reply' && c.activityId === a.id, { from: mark });
    expect(cardText(cardsOf(call)[0])).toContain('echo: scans list --search "a b"');
    expect(engine.texts.at(-1)).toMatchObject({
      actor: { id: `teams:${USER.aad}`, name: USER.name },
      origin: { platform: 'teams', scope: 'personal', location: { conversationId: 'a:adapter-test', serviceUrl: stub.url, conversationType: 'personal' } },
      text: 'scans list --search "a b"',
    });
  });

  it('a message in a conversation the bot knows writes no conversation reference again', async () => {
    const conversation = { ...where(), conversationId: 'a:known-conversation' };
    await postActivity(url, messageActivity('whoami', USER, conversation));
    const saves = vi.spyOn(store, 'saveConversation');
    try {
      for (let i = 0; i < 3; i += 1) await postActivity(url, messageActivity('whoami', USER, conversation));
      expect(saves).not.toHaveBeenCalled();
      await postActivity(url, messageActivity('whoami', USER, { ...conversation, conversationId: 'a:another-conversation' }));
      expect(saves.mock.calls.map((c) => c[0])).toEqual(['teams:conv:a:another-conversation', `teams:user:${USER.aad}`]);
    } finally {
      saves.mockRestore();
    }
  });

  it('the same message delivered twice is answered once', async () => {
    const a = messageActivity('whoami', USER, where());
    const before = engine.texts.length;
    const [r1, r2] = await Promise.all([postActivity(url, a), postActivity(url, a)]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(engine.texts.length - before).toBe(1);
  });

  it('a user without aadObjectId gets an actor id no role entry can match', async () => {
    const a = messageActivity('whoami', USER, where());
    delete (a.from as { aadObjectId?: string }).aadObjectId;
    await postActivity(url, a);
    expect(engine.texts.at(-1)?.actor.id).toBe(`teams:unknown:29:${USER.aad}`);
    // A from.id that is an approver's object id (Teams never sends one; other clients choose it) gets no role.
    const b = messageActivity('whoami', USER, where());
    b.from = { id: USER.aad, name: USER.name } as typeof b.from;
    await postActivity(url, b);
    const actor = engine.texts.at(-1)!.actor.id;
    expect(actor).toBe(`teams:unknown:${USER.aad}`);
    expect(normalizeActorId(actor)).toBeUndefined();
    const policy = createRolePolicy({ approver: [`teams:${USER.aad}`] });
    expect(hasRole(policy, `teams:${USER.aad}`, 'approver')).toBe(true);
    expect(hasRole(policy, actor, 'viewer')).toBe(false);
  });

  it('a card action that is not one of the bot’s gets an error body', async () => {
    const res = await postActivity(url, invokeActivity({ verb: 'approve', data: { id: 1 } }, USER, where()));
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ statusCode: 400, type: 'application/vnd.microsoft.error' });
  });

  it('a slow button is answered "working on it" within the budget; the result is posted when it comes', async () => {
    engine.buttonDelayMs = 600;
    const mark = stub.calls.length;
    const started = Date.now();
    const res = await postActivity(url, invokeActivity({ verb: 'command', data: { _mde: { t: 'button', action: { type: 'command', command: 'scans list' } } } }, USER, where()));
    expect(Date.now() - started).toBeLessThan(550);
    expect(res.body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    const late = await stub.waitFor((c) => c.kind === 'send' && c.conversationId === 'a:adapter-test', { from: mark });
    expect(cardText(cardsOf(late)[0])).toContain('scans list');
    engine.buttonDelayMs = 0;
  });

  it('a refresh of an unknown approval answers with a card saying so', async () => {
    const res = await postActivity(url, invokeActivity({ verb: 'refresh', data: { _mde: { t: 'refresh', approvalId: 'AZZZZZZ' } } }, USER, where()));
    expect(res.body.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(res.body.value)).toContain('no approval request AZZZZZZ');
    expectValidCard(res.body.value);
  });

  it('a legacy Action.Submit message gets a hint instead of a command run', async () => {
    const before = engine.texts.length;
    const a = { ...messageActivity('', USER, where()), text: undefined, value: { x: 1 } };
    const mark = stub.calls.length;
    await postActivity(url, a);
    const call = await stub.waitFor((c) => c.kind === 'reply' && c.activityId === a.id, { from: mark });
    expect(cardText(cardsOf(call)[0])).toMatch(/newer Teams client/);
    expect(engine.texts.length).toBe(before);
  });

  it('only POST', async () => {
    const res = await fetch(url);
    expect(res.status).toBe(405);
  });

  it('an approver who never wrote to the bot: a personal chat is opened (createConversation) and gets the card; a refusal is reported', async () => {
    const NEW = '66666666-6666-4666-8666-666666666666';
    const REFUSED = '77777777-7777-4777-8777-777777777777';
    stub.refuseCreateFor.add(REFUSED);
    const now = new Date();
    const record: ApprovalRecord = {
      id: 'A2222222',
      operation: { kind: 'scans.delete', ids: ['def-1'], reason: 'old' },
      operationJson: '{}',
      operationHash: 'h',
      summary: 'Delete 1 scan definition: def-1',
      requester: { actor: 'slack:UREQ', name: 'Ann' },
      origin: { platform: 'teams', location: { conversationId: 'a:adapter-test', serviceUrl: stub.url, conversationType: 'personal' } },
      state: 'pending',
      reason: 'old',
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
      cards: [],
      version: 1,
      updatedAt: now.toISOString(),
    };
    const view = approvalView(record, []);
    const unreachable: Array<[string, string]> = [];
    const post: ApprovalPost = {
      view,
      card: approvalCard(view),
      origin: record.origin,
      cards: [],
      mayDecide: (actor) => actor !== record.requester.actor,
      deciders: [`teams:${NEW}`, `teams:${REFUSED}`],
      unreachable: (account, why) => void unreachable.push([account, why]),
    };
    const mark = stub.calls.length;
    const posted = await adapter.publisher.publish(post);
    const creates = stub.since(mark).filter((c) => c.kind === 'create');
    expect(creates.map((c) => c.body.members.map((m: { id: string }) => m.id))).toEqual(expect.arrayContaining([[NEW], [REFUSED]]));
    expect(creates.every((c) => c.body.isGroup === false)).toBe(true);
    const opened = posted.find((p) => p.where === `a new personal chat with teams:${NEW}`);
    expect(opened?.card.location.mode).toBe('personal');
    const sent = stub.since(mark).find((c) => c.kind === 'send' && c.conversationId === opened!.card.location.conversationId);
    expect(cardText(cardsOf(sent!)[0])).toContain('Delete 1 scan definition');
    // Kept like a chat the user started: reminders and later cards reach them there.
    expect(await store.getConversation(`teams:user:${NEW}`)).toMatchObject({ ref: { conversation: { id: opened!.card.location.conversationId, conversationType: 'personal' } } });
    expect(unreachable).toEqual([[`teams:${REFUSED}`, expect.stringContaining('the app is probably not installed for them')]]);
    expect(await store.getConversation(`teams:user:${REFUSED}`)).toBeNull();

    // A notice to a person (an escalation's members): their chat, opened when there is none.
    const OTHER = '88888888-8888-4888-8888-888888888888';
    const at = stub.calls.length;
    expect(await adapter.publisher.notify({ at: { platform: 'teams', location: { user: OTHER } }, reply: textReply('Escalated: A2222222 waits'), mention: [`teams:${OTHER}`] })).toBe(true);
    const calls = stub.since(at);
    expect(calls.find((c) => c.kind === 'create')?.body.members).toEqual([{ id: OTHER, name: '' }]);
    const sends = calls.filter((c) => c.kind === 'send' && c.conversationId?.startsWith('stub-conversation-'));
    expect(sends[0]!.body.entities).toEqual([{ type: 'mention', text: '<at>approver</at>', mentioned: { id: OTHER, name: 'approver' } }]);
    expect(cardText(cardsOf(sends[1]!)[0])).toContain('Escalated');
    expect(await adapter.publisher.notify({ at: { platform: 'teams', location: { user: REFUSED } }, reply: textReply('Escalated') })).toBe(false);
  });

  it('notices: a new message in a conversation, a reply in a card\'s channel thread, mentions of users the bot knows', async () => {
    await postActivity(url, messageActivity('whoami', USER, where()));
    const mark = stub.calls.length;
    const reply = textReply('Reminder: A000001 waits for a decision.');
    expect(await adapter.publisher.notify({ at: { platform: 'teams', location: { conversationId: 'a:adapter-test', serviceUrl: stub.url } }, reply, mention: [`teams:${USER.aad}`, 'slack:U0APP'] })).toBe(true);
    const sent = stub.since(mark).filter((c) => c.kind === 'send' && c.conversationId === 'a:adapter-test');
    expect(sent[0]!.body.entities).toEqual([{ type: 'mention', text: `<at>${USER.name}</at>`, mentioned: { id: `29:${USER.aad}`, name: USER.name } }]);
    expect(cardText(cardsOf(sent[1]!)[0])).toContain('Reminder');

    const channel = { conversationId: '19:general@thread.tacv2', serviceUrl: stub.url, conversationType: 'channel', activityId: '1700000000000' };
    const at = stub.calls.length;
    expect(await adapter.publisher.notify({ at: { platform: 'teams', location: channel }, inThread: true, reply })).toBe(true);
    const threaded = await stub.waitFor((c) => c.kind === 'send' && c.conversationId === '19:general@thread.tacv2;messageid=1700000000000', { from: at });
    expect(cardText(cardsOf(threaded)[0])).toContain('Reminder');
    expect(await adapter.publisher.notify({ at: { platform: 'slack', location: { channel: 'C1' } }, reply })).toBe(false);
  });
});

describe('only Teams activities', () => {
  let engine: FakeEngine;
  let url: string;
  const lines: string[] = [];
  beforeAll(async () => {
    engine = new FakeEngine();
    const adapter = await createTeamsAdapter({ engine, store, log: createLogger('info', { write: (l: string) => void lines.push(l) }), config: { mode: 'local' } });
    const s = await serve(adapter);
    servers.push(s.server);
    url = s.url;
  });

  it.each(['webchat', 'directline', 'emulator', undefined])('a message from channel %s is ignored with a log line', async (channelId) => {
    const mark = stub.calls.length;
    const logMark = lines.length;
    const before = engine.texts.length;
    const a = { ...messageActivity('scans delete 1 --reason x', USER, { ...where(), conversationId: 'a:not-teams' }), channelId };
    const res = await postActivity(url, a);
    expect(res.status).toBeLessThan(300);
    await new Promise((r) => setTimeout(r, 100));
    expect(engine.texts.length).toBe(before);
    expect(stub.since(mark)).toHaveLength(0);
    expect(lines.slice(logMark).join('\n')).toMatch(/ignored an activity from channel/);
    expect(await store.getConversation('teams:conv:a:not-teams')).toBeNull(); // not even remembered
  });

  it('a card action from another channel gets an error body and runs nothing', async () => {
    const before = engine.buttons.length;
    const logMark = lines.length;
    const a = { ...invokeActivity({ verb: 'approve', data: { _mde: { t: 'button', action: { type: 'approval', approvalId: 'A234567', decision: 'approve' } } } }, USER, where()), channelId: 'directline' };
    const res = await postActivity(url, a);
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ statusCode: 403, type: 'application/vnd.microsoft.error', value: { code: 'Forbidden' } });
    expect(engine.buttons.length).toBe(before);
    expect(lines.slice(logMark).join('\n')).toMatch(/ignored an activity from channel/);
  });

  it('msteams itself still works', async () => {
    const mark = stub.calls.length;
    const a = messageActivity('whoami', USER, where());
    expect((await postActivity(url, a)).status).toBe(200);
    await stub.waitFor((c) => c.kind === 'reply' && c.activityId === a.id, { from: mark });
  });
});

describe('invoke claims never carry form inputs', () => {
  const SECRET = 'Hunter2-do-not-store!';
  const OTHER_SECRET = 'Another-secret-42?';
  let dir: string;
  let fileStore: Store;
  let engine: FakeEngine;
  let url: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mde-teams-claims-'));
    fileStore = await openStore(`sqlite:${join(dir, 'bot.db')}`);
    engine = new FakeEngine();
    const adapter = await createTeamsAdapter({ engine, store: fileStore, log, config: { mode: 'local' } });
    const s = await serve(adapter);
    servers.push(s.server);
    url = s.url;
  });
  afterAll(async () => {
    await fileStore?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every value in every table of the store's database file, as one string. */
  function dump(): string {
    const db = new Database(join(dir, 'bot.db'), { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
      return tables.map((t) => JSON.stringify(db.prepare(`SELECT * FROM "${t.name}"`).all())).join('\n');
    } finally {
      db.close();
    }
  }

  it('a form submission without an activity id is claimed by its envelope and _mde, not its inputs', async () => {
    const submit = { verb: 'submitForm', data: { _mde: { t: 'submitForm', kind: 'create' } } };
    const first = invokeActivity(submit, USER, where(), { replyToId: 'form-card-1', inputs: { scanName: 'x', communityString: SECRET } });
    delete (first as { id?: string }).id;
    // The same delivery again (a retry) is one submission, whatever its inputs say.
    const again = { ...first, value: { ...first.value, action: { ...first.value.action, data: { ...first.value.action.data, communityString: OTHER_SECRET } } } };
    const r1 = await postActivity(url, first);
    const r2 = await postActivity(url, again);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(engine.forms).toHaveLength(1);
    expect(engine.forms[0]!.values.communityString).toBe(SECRET); // it reached the engine…
    expect(r2.body).toMatchObject({ type: 'application/vnd.microsoft.activity.message', value: 'Already received.' });

    const stored = dump();
    expect(stored).toMatch(/teams:invoke:[0-9a-f]{64}/); // …a claim was stored…
    for (const secret of [SECRET, OTHER_SECRET]) {
      expect(stored).not.toContain(secret); // …without the secret, raw or hashed
      expect(stored).not.toContain(createHash('sha256').update(secret).digest('hex'));
    }
  });
});
