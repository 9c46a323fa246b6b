/**
 * The adapter over HTTP with a fake engine: app-id mode (botbuilder's JWT check), the
 * invoke time budget, unknown card actions, duplicate deliveries, legacy submits.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTeamsAdapter, type TeamsHttpAdapter } from '../../adapters/teams/index.js';
import type { Actor, ApprovalPublisher, Origin } from '../../src/core/context.js';
import type { Engine, FormOutcome, FormSubmission } from '../../src/core/engine-api.js';
import { textReply, type ButtonAction, type Reply } from '../../src/core/reply.js';
import { createLogger } from '../../src/log.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';
import { expectValidCard } from '../helpers/teams-cards.js';
import { cardsOf, cardText, startConnectorStub, type ConnectorStub } from '../helpers/teams-connector.js';
import { invokeActivity, messageActivity, otherLocalAddress, postActivity, type TeamsUser, type Where } from '../helpers/teams.js';

class FakeEngine implements Engine {
  texts: Array<{ actor: Actor; origin: Origin; text: string }> = [];
  buttonDelayMs = 0;
  async handleText(actor: Actor, origin: Origin, text: string): Promise<Reply> {
    this.texts.push({ actor, origin, text });
    return textReply(`echo: ${text}`);
  }
  async handleButton(_actor: Actor, _origin: Origin, action: ButtonAction): Promise<Reply> {
    await new Promise((r) => setTimeout(r, this.buttonDelayMs));
    return textReply(`pressed ${JSON.stringify(action)}`);
  }
  async handleForm(_actor: Actor, _origin: Origin, submission: FormSubmission): Promise<FormOutcome> {
    return { ok: true, reply: textReply(`form ${submission.kind}`) };
  }
  async approvalCard(): Promise<Reply | null> {
    return null;
  }
  addPublisher(_publisher: ApprovalPublisher): void {}
}

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
    const adapter = await createTeamsAdapter({ engine, store, log, config: { appId: '5b2c1f7e-9d3a-4e8b-a6c1-0f2e3d4c5b6a', appPassword: 'not-used', appType: 'SingleTenant', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' } });
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

describe('configuration', () => {
  it('botbuilder’s named imports work under this module setup (CommonJS package from ESM)', async () => {
    const bb = await import('botbuilder');
    for (const name of ['CloudAdapter', 'ConfigurationBotFrameworkAuthentication', 'TeamsActivityHandler', 'TurnContext'] as const) expect(typeof bb[name]).toBe('function');
  });

  it('a half-configured bot is refused with the variable named', async () => {
    const engine = new FakeEngine();
    const make = (config: Record<string, string>) => createTeamsAdapter({ engine, store, log, config: { appId: '5b2c1f7e-9d3a-4e8b-a6c1-0f2e3d4c5b6a', ...config } });
    await expect(make({ appType: 'SingleTenant', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' })).rejects.toThrow(/MicrosoftAppPassword/);
    await expect(make({ appType: 'SingleTenant', appPassword: 'x' })).rejects.toThrow(/MicrosoftAppTenantId/);
    await expect(make({ appType: 'Everywhere', appPassword: 'x' })).rejects.toThrow(/MicrosoftAppType/);
    await expect(make({ appPassword: 'x', tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47' })).resolves.toMatchObject({ localMode: false });
  });
});

describe('local mode with a fake engine', () => {
  let engine: FakeEngine;
  let url: string;
  beforeAll(async () => {
    engine = new FakeEngine();
    const adapter = await createTeamsAdapter({ engine, store, log, config: {}, invokeBudgetMs: 200 });
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

  it('the same message delivered twice is answered once', async () => {
    const a = messageActivity('whoami', USER, where());
    const before = engine.texts.length;
    const [r1, r2] = await Promise.all([postActivity(url, a), postActivity(url, a)]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    expect(engine.texts.length - before).toBe(1);
  });

  it('a user without aadObjectId is named by their channel id', async () => {
    const a = messageActivity('whoami', USER, where());
    delete (a.from as { aadObjectId?: string }).aadObjectId;
    await postActivity(url, a);
    expect(engine.texts.at(-1)?.actor.id).toBe(`teams:29:${USER.aad}`);
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
});
