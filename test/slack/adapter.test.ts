/** The adapter's own parts without the whole bot: start-up checks, the publisher, the HTTP hook, with a fake engine. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { webApi } from '@slack/bolt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSlackPublisher } from '../../adapters/slack/approvals.js';
import { createSlackAdapter, type SlackAdapter } from '../../adapters/slack/index.js';
import { loadConfig } from '../../src/config.js';
import { textReply, type Reply } from '../../src/core/reply.js';
import { createLogger } from '../../src/log.js';
import { openStore, type Store } from '../../src/store/index.js';
import { approvalPost, FakeEngine } from '../helpers/fake-engine.js';
import { startSlackStub, type SlackStub } from '../helpers/slack-stub.js';
import { postSigned, slashCommandBody } from '../helpers/slack-requests.js';

const log = createLogger('silent');
const SECRET = 'unit-signing-secret';

function fakeEngine(handle?: (text: string) => Promise<Reply>) {
  const engine = new FakeEngine(handle);
  return { engine, publishers: engine.publishers, get seen() { return engine.seen; } };
}

const record = approvalPost;
const card: Reply = { visibility: 'public', blocks: [{ type: 'text', text: 'card' }], summary: 'card' };
const withCard = (post: ReturnType<typeof approvalPost>, reply: Reply = card) => ({ ...post, card: reply });

let stub: SlackStub;
let store: Store;
beforeAll(async () => {
  stub = await startSlackStub();
  store = await openStore('sqlite::memory:');
});
afterAll(async () => {
  await store.close();
  await stub.close();
});
afterEach(() => stub.reset());

describe('approval publisher', () => {
  const client = () => new webApi.WebClient('xoxb-test', { slackApiUrl: stub.apiUrl, retryConfig: { retries: 0 } });

  it('posts to the requesting channel when no approval channel is set, and updates by channel + ts', async () => {
    const publisher = createSlackPublisher({ client: client(), log });
    const posted = await publisher.publish(withCard(record()));
    expect(posted).toEqual([{ card: { platform: 'slack', location: { channel: 'C0REQ', ts: expect.any(String) } }, where: 'this channel (#secops)' }]);
    expect(stub.callsTo('chat.postMessage')[0]!.body).toMatchObject({ channel: 'C0REQ', text: 'card' });
    await publisher.update(posted[0]!.card, withCard(record(), { ...card, summary: 'changed' }));
    expect(stub.callsTo('chat.update')[0]!.body).toMatchObject({ channel: 'C0REQ', ts: posted[0]!.card.location.ts, text: 'changed' });
  });

  it('posts to SLACK_APPROVAL_CHANNEL, also for requests made in Teams', async () => {
    const publisher = createSlackPublisher({ client: client(), approvalChannel: 'C0APPROVE', log });
    const posted = await publisher.publish(withCard(record({ origin: { platform: 'teams', location: { conversationId: 'x' } } })));
    expect(posted[0]?.card.location.channel).toBe('C0APPROVE');
    expect(posted[0]?.where).toContain('approval channel');
  });

  it('posts nothing for a Teams request without an approval channel, and nothing (no throw) when Slack refuses', async () => {
    const publisher = createSlackPublisher({ client: client(), log });
    expect(await publisher.publish(withCard(record({ origin: { platform: 'teams', location: {} } })))).toEqual([]);
    stub.fail('chat.postMessage', 'not_in_channel');
    expect(await publisher.publish(withCard(record()))).toEqual([]);
  });
});

describe('notices', () => {
  const client = () => new webApi.WebClient('xoxb-test', { slackApiUrl: stub.apiUrl, retryConfig: { retries: 0 } });

  it('posts a new message in a channel, or in the thread of a card, mentioning Slack accounts only', async () => {
    const publisher = createSlackPublisher({ client: client(), log });
    const reply = textReply('Reminder: A000001 waits for a decision.');
    expect(await publisher.notify({ at: { platform: 'slack', location: { channel: 'C0REQ' } }, reply })).toBe(true);
    expect(stub.callsTo('chat.postMessage')[0]!.body).toMatchObject({ channel: 'C0REQ', text: expect.stringContaining('Reminder') });
    expect(stub.callsTo('chat.postMessage')[0]!.body.thread_ts).toBeUndefined();
    await publisher.notify({ at: { platform: 'slack', location: { channel: 'C0APPROVE', ts: '1700000000.000100' } }, inThread: true, reply, mention: ['slack:U0APP', 'teams:22222222-2222-4222-8222-222222222222'] });
    const threaded = stub.callsTo('chat.postMessage')[1]!.body;
    expect(threaded).toMatchObject({ channel: 'C0APPROVE', thread_ts: '1700000000.000100' });
    expect(threaded.text).toMatch(/^<@U0APP> Reminder/);
    expect(JSON.stringify(threaded)).not.toContain('22222222');
  });

  it('says false for another platform or when Slack refuses', async () => {
    const publisher = createSlackPublisher({ client: client(), log });
    expect(await publisher.notify({ at: { platform: 'teams', location: { conversationId: 'x' } }, reply: textReply('x') })).toBe(false);
    stub.fail('chat.postMessage', 'not_in_channel');
    expect(await publisher.notify({ at: { platform: 'slack', location: { channel: 'C0PRIVATE' } }, reply: textReply('x') })).toBe(false);
  });
});

describe('createSlackAdapter', () => {
  const adapters: SlackAdapter[] = [];
  afterEach(async () => {
    for (const a of adapters.splice(0)) await a.stop?.();
  });

  it('needs a signing secret over HTTP (checked once, by the configuration)', () => {
    expect(() => loadConfig({ SLACK_BOT_TOKEN: 'xoxb-x' })).toThrow(/SLACK_SIGNING_SECRET/);
    expect(() => loadConfig({ SLACK_SIGNING_SECRET: 's' })).toThrow(/SLACK_BOT_TOKEN/);
  });

  it('stops start-up when Slack rejects the token (auth.test)', async () => {
    stub.fail('auth.test', 'invalid_auth');
    await expect(createSlackAdapter({ engine: fakeEngine().engine, store, log, config: { botToken: 'xoxb-bad', signingSecret: SECRET, apiUrl: stub.apiUrl, retries: 0 } })).rejects.toThrow(
      /invalid_auth.*SLACK_BOT_TOKEN/,
    );
  });

  it('skips auth.test when botId and botUserId are given, and leaves registering its publisher to the app', async () => {
    const fake = fakeEngine();
    const adapter = await createSlackAdapter({ engine: fake.engine, store, log, config: { botToken: 'xoxb-x', signingSecret: SECRET, apiUrl: stub.apiUrl, botId: 'B1', botUserId: 'U1' } });
    adapters.push(adapter);
    expect(stub.callsTo('auth.test')).toHaveLength(0);
    expect(adapter.path).toBe('/slack/events');
    expect(fake.publishers).toEqual([]); // app.ts registers each adapter's publisher once
    expect(adapter.publisher.platform).toBe('slack');
  });

  it('in Socket Mode has no HTTP path', async () => {
    const adapter = await createSlackAdapter({ engine: fakeEngine().engine, store, log, config: { botToken: 'xoxb-x', appToken: 'xapp-1-test', apiUrl: stub.apiUrl } });
    expect(adapter.socketMode).toBe(true);
    expect(adapter.path).toBeUndefined();
    expect(adapter.handle).toBeUndefined();
  });

  it('gets its section from the configuration', () => {
    expect(loadConfig({}).slack).toBeUndefined();
    expect(loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's', SLACK_API_URL: 'http://127.0.0.1:1/api', SLACK_APPROVAL_CHANNEL: 'C1' }).slack).toEqual({
      botToken: 'xoxb-1',
      signingSecret: 's',
      apiUrl: 'http://127.0.0.1:1/api',
      approvalChannel: 'C1',
    });
  });

  describe('on a node:http server', () => {
    let server: Server;
    let url: string;
    let adapter: SlackAdapter;
    let release: () => void = () => {};
    const fake = fakeEngine((text) => (text === 'slow' ? new Promise((r) => (release = () => r(textReply('late'))))  : Promise.resolve(textReply(`ran ${text}`))));

    beforeAll(async () => {
      adapter = await createSlackAdapter({ engine: fake.engine, store, log, config: { botToken: 'xoxb-x', signingSecret: SECRET, apiUrl: stub.apiUrl, retries: 0 } });
      server = createServer((req, res) => void adapter.handle!(req, res));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
    });
    afterAll(async () => {
      release();
      await adapter.stop?.();
      await new Promise<void>((r) => server.close(() => r()));
    });

    it('answers 405 to anything but POST', async () => {
      expect((await fetch(url)).status).toBe(405);
    });

    it('acks before the engine answers, and answers through the response_url later', async () => {
      const responseUrl = stub.responseUrl();
      const { body } = slashCommandBody({ user: { id: 'U9', name: 'u' }, text: 'slow', responseUrl });
      const res = await postSigned(url, body, { secret: SECRET });
      expect(res.status).toBe(200);
      expect(fake.seen).toContain('slow');
      expect(stub.responses).toHaveLength(0);
      release();
      const answer = await stub.waitFor(() => stub.responses[0]);
      expect(answer.body).toMatchObject({ response_type: 'ephemeral', text: 'late' });
    });

    it('runs a repeated delivery of one command (same trigger id) once', async () => {
      const responseUrl = stub.responseUrl();
      const { body } = slashCommandBody({ user: { id: 'U9', name: 'u' }, text: 'whoami', responseUrl, triggerId: '123.456.repeat' });
      const before = fake.seen.filter((t) => t === 'whoami').length;
      const results = await Promise.all([postSigned(url, body, { secret: SECRET }), postSigned(url, body, { secret: SECRET, retryNum: 1 })]);
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      await stub.waitFor(() => stub.responses[0]);
      await new Promise((r) => setTimeout(r, 100));
      expect(fake.seen.filter((t) => t === 'whoami').length - before).toBe(1);
      expect(stub.responses).toHaveLength(1);
    });
  });
});

describe('manifest/slack-app.yaml', () => {
  it('matches the adapter: /mde, the events path for commands and interactivity, the scopes it uses, HTTP mode', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../manifest/slack-app.yaml', import.meta.url), 'utf8');
    expect(text).toMatch(/^\s+- command: \/mde$/m);
    expect(text.match(/^\s+(?:url|request_url): https:\/\/YOUR-HOST\/slack\/events$/gm)).toHaveLength(2);
    expect(text).toMatch(/^\s+should_escape: false$/m);
    for (const scope of ['commands', 'chat:write', 'chat:write.public', 'usergroups:read', 'users:read', 'users:read.email']) expect(text).toMatch(new RegExp(`^\\s+- ${scope.replace('.', '\\.')}$`, 'm'));
    expect(text).toMatch(/^\s+socket_mode_enabled: false$/m);
    expect(text).toMatch(/^\s+is_enabled: true$/m);
  });
});
