/**
 * Scan health end to end over real HTTP: the bot (startApp, demo mode with the in-process
 * emulator) with the Slack adapter, signed slash commands, and the Slack Web API stub
 * receiving the watcher's alerts as new messages in the watching channel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../../adapters/slack/index.js';
import { startApp, type App } from '../../src/app.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { blockKitProblems } from '../helpers/block-kit-schema.js';
import { SlackDriver } from '../helpers/slack-driver.js';
import { startSlackStub, type SlackStub } from '../helpers/slack-stub.js';
import type { UserRef } from '../helpers/slack-requests.js';

const SECRET = 'watch-e2e-signing-secret-0123456789';
const APPROVER: UserRef = { id: DEMO_USERS.approver.slack.slice('slack:'.length), name: 'adam' };
const VIEWER: UserRef = { id: 'U0VIEWER', name: 'victor' };
/** The slash commands' channel (slack-requests.ts). */
const CHANNEL = 'C0OPS';

let stub: SlackStub;
let app: App;
let drive: SlackDriver;

beforeAll(async () => {
  stub = await startSlackStub();
  app = await startApp({
    port: 0,
    env: {
      STORE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'silent',
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: stub.apiUrl,
      // The test runs each round itself.
      WATCH_INTERVAL_MINUTES: '1440',
    },
    adapters: async (deps) => [await createSlackAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { ...deps.config.slack!, retries: 0 } })],
  });
  drive = new SlackDriver(`${app.url}/slack/events`, stub, SECRET, 'C0APPROVE');
}, 30_000);

afterAll(async () => {
  await app?.close();
  await stub?.close();
});

const textOf = (body: Record<string, any>) => JSON.stringify([body.text, body.blocks]);

async function slash(user: UserRef, text: string) {
  const sent = await drive.slash(user, text);
  expect(sent.http.status).toBe(200);
  return (await drive.answerTo(sent.responseUrl)).body;
}

const alerts = () => stub.callsTo('chat.postMessage').filter((c) => c.body.channel === CHANNEL);

describe('scan health over Slack', () => {
  it('scans list --failing: the failing definitions with their scanners, in the channel', async () => {
    const body = await slash(VIEWER, 'scans list --failing');
    expect(body.response_type).toBe('in_channel');
    expect(textOf(body)).toContain('Failing scan definitions');
    expect(textOf(body)).toContain('Lab IPv6 segment');
    expect(textOf(body)).toContain('srv-scan-03.contoso.local');
    expect(blockKitProblems({ text: body.text ?? '', blocks: body.blocks })).toEqual([]);
  });

  it('scans show: the last runs with the scanner by name', async () => {
    const body = await slash(VIEWER, `scans show ${SEED.definitions.networkCore}`);
    expect(textOf(body)).toContain('Last 4 runs');
    expect(textOf(body)).toContain('by srv-scan-01.contoso.local');
    expect(blockKitProblems({ text: body.text ?? '', blocks: body.blocks })).toEqual([]);
  });

  it('scans watch here: the alerts come to the channel as new messages, once; scans watch off stops them', async () => {
    expect(textOf(await slash(VIEWER, 'scans watch here'))).toContain('approver');
    expect(textOf(await slash(APPROVER, 'scans watch here'))).toContain('Scan alerts will be posted in this conversation');

    app.emulator!.resetStats();
    const round = await app.engine.watcher.poll();
    expect(round.changes).toHaveLength(2);
    expect(app.emulator!.stats().served).toBeLessThanOrEqual(3); // list, history, agents (the list may come from the cache)
    const posted = alerts();
    expect(posted).toHaveLength(2);
    const text = posted.map((c) => textOf(c.body)).join();
    expect(text).toContain('Lab IPv6 segment: latest scan failed');
    expect(text).toContain('Scanner srv-scan-03.contoso.local: not seen for 24 h');
    for (const c of posted) expect(blockKitProblems({ text: c.body.text ?? '', blocks: c.body.blocks })).toEqual([]);

    await app.engine.watcher.poll();
    expect(alerts()).toHaveLength(2);

    const status = await slash(VIEWER, 'scans watch');
    expect(textOf(status)).toContain('Open problems: 2');

    expect(textOf(await slash(APPROVER, 'scans watch off'))).toContain('stopped');
    app.emulator!.resetStats();
    expect((await app.engine.watcher.poll()).skipped).toBe('nobody_watches');
    expect(app.emulator!.stats().served).toBe(0);
    expect(alerts()).toHaveLength(2);
  });
});
