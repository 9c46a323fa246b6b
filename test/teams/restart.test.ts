/**
 * Conversation references survive a restart: with a file-backed SQLite store, the
 * approver says hello to one run of the bot (`startApp`, demo mode, Teams local mode),
 * that run is closed and a new one started on the same file, the operator asks to delete
 * a definition, and the approval card reaches the approver's personal chat, which only
 * the stored reference can name.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type App } from '../../src/app.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { actionTitles, cardsOf, cardText, startConnectorStub, type ConnectorStub } from '../helpers/teams-connector.js';
import { messageActivity, postActivity, type TeamsUser, type Where } from '../helpers/teams.js';

const OPERATOR: TeamsUser = { aad: DEMO_USERS.operator.teams.slice('teams:'.length), name: 'Olivia Operator' };
const APPROVER: TeamsUser = { aad: DEMO_USERS.approver.teams.slice('teams:'.length), name: 'Adam Approver' };

let dir: string;
let stub: ConnectorStub;
let app: App | undefined;

const personal = (user: TeamsUser): Where => ({ serviceUrl: stub.url, conversationId: `a:restart-${user.aad}` });
const start = () => startApp({ port: 0, env: { STORE_URL: `sqlite:${join(dir, 'bot.db')}`, LOG_LEVEL: 'silent' } });

async function say(user: TeamsUser, text: string): Promise<string> {
  const mark = stub.calls.length;
  const activity = messageActivity(text, user, personal(user));
  const res = await postActivity(`${app!.url}/api/messages`, activity);
  expect(res.status, res.text).toBe(200);
  const call = await stub.waitFor((c) => c.kind === 'reply' && c.activityId === activity.id, { from: mark });
  return cardText(cardsOf(call)[0]);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mde-teams-restart-'));
  stub = await startConnectorStub();
});

afterAll(async () => {
  await app?.close();
  await stub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Teams after a restart', () => {
  it('an approver who said hello before the restart gets the approval card after it', async () => {
    app = await start();
    expect(await say(APPROVER, 'hello')).toMatch(/approver/i);
    await app.close();
    app = undefined;

    app = await start();
    const mark = stub.calls.length;
    const target = SEED.definitions.networkPrinters;
    const ack = await say(OPERATOR, `scans delete ${target} --reason "restart test"`);
    expect(ack).toContain('the personal chat of Adam Approver');
    const id = /Approval request (A[0-9A-Z]{6})/.exec(ack)?.[1];
    expect(id, ack).toBeDefined();
    const posted = await stub.waitFor(
      (c) => c.kind === 'send' && c.conversationId === personal(APPROVER).conversationId && cardsOf(c).some((card) => cardText(card).includes(id!)),
      { from: mark },
    );
    const card = cardsOf(posted)[0];
    expect(cardText(card)).toContain('restart test');
    expect(actionTitles(card)).toEqual(['Approve', 'Reject']);
  });
});
