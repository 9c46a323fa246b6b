/**
 * Teams answers fast even when MDE's quota is spent: a message activity gets its HTTP 200
 * before its answer exists (a typing indicator, then the reply to the message, posted by
 * the connector's replyToActivity); an approval click is answered with the updated card
 * while the approved work still waits for a slot. Effects are counted and ordered at the
 * connector stub and the emulator, never timed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTeamsAdapter } from '../../adapters/teams/index.js';
import { startApp, type App } from '../../src/app.js';
import { DEMO_USERS } from '../../src/demo.js';
import { SEED } from '../../src/emulator/index.js';
import { cardsOf, cardText, findAction, startConnectorStub, type ConnectorStub } from '../helpers/teams-connector.js';
import { approvalIdOfCard, TeamsDriver } from '../helpers/teams-driver.js';
import { messageActivity, type TeamsUser, type Where } from '../helpers/teams.js';

const OPERATOR: TeamsUser = { aad: DEMO_USERS.operator.teams.slice('teams:'.length), name: 'Olivia Operator' };
const APPROVER: TeamsUser = { aad: DEMO_USERS.approver.teams.slice('teams:'.length), name: 'Adam Approver' };
const origin = { platform: 'test', location: {}, scope: 'channel' as const };

let stub: ConnectorStub;
let app: App;
let drive: TeamsDriver;
const personal = (user: TeamsUser): Where => ({ serviceUrl: stub.url, conversationId: `a:quota-${user.aad}` });
const served = (key: string) => app.emulator!.stats().byEndpoint[key] ?? 0;

/** Spends the rolling window (2 calls in 3 s) with calls of the bot's own: lookups of devices that do not exist (nothing caches them, nothing is requested). */
let spent = 0;
async function spendQuota() {
  for (let i = 0; i < 2; i += 1) await app.engine.handleText({ id: DEMO_USERS.operator.slack }, origin, `av-scan no-such-device-${(spent += 1)}.contoso.local quick --reason "spend the quota"`);
}

beforeAll(async () => {
  stub = await startConnectorStub();
  app = await startApp({
    port: 0,
    env: { STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent', MDE_RATE_PER_MINUTE: '2', MDE_RATE_MINUTE_WINDOW_MS: '3000' },
    emulator: { actionTimings: { pendingMs: 200, inProgressMs: 200 } },
    pollMs: 100,
    adapters: async (deps) => [await createTeamsAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { mode: 'local' }, typingAfterMs: 100 })],
  });
  drive = new TeamsDriver(`${app.url}/api/messages`, stub);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await stub?.close();
});

describe('Teams with the MDE quota spent', () => {
  it('answers the message activity at once, shows typing, and replies to the message when MDE lets the call through', async () => {
    await spendQuota();
    const mark = stub.calls.length;
    const activity = messageActivity('scans list', OPERATOR, personal(OPERATOR));
    const before = served('GET /api/DeviceAuthenticatedScanDefinitions');
    const res = await drive.post(activity);
    expect(res.status).toBe(200);
    // Answered before MDE was even asked: no reply yet, the list call still waiting for a slot.
    expect(stub.since(mark).filter((c) => c.activityId === activity.id && c.kind === 'reply')).toHaveLength(0);
    expect(served('GET /api/DeviceAuthenticatedScanDefinitions')).toBe(before);

    const typing = await stub.waitFor((c) => c.kind === 'typing' && c.activityId === activity.id, { from: mark });
    const reply = await stub.waitFor((c) => c.kind === 'reply' && c.activityId === activity.id, { from: mark, timeoutMs: 10_000 });
    expect(stub.calls.indexOf(typing)).toBeLessThan(stub.calls.indexOf(reply));
    expect(cardText(cardsOf(reply)[0])).toContain('Finance workstations');
    expect(app.emulator!.stats().throttled).toBe(0);
  });

  it('answers an approval click with the updated card while the approved scan waits for a slot', async () => {
    await drive.say(APPROVER, 'hello', personal(APPROVER)); // the bot learns the approver's personal chat
    const mark = stub.calls.length;
    const { card: ack } = await drive.say(OPERATOR, `av-scan ${SEED.names.wsFin01} quick --reason "quota test"`, personal(OPERATOR));
    const id = approvalIdOfCard(ack)!;
    const mine = await drive.approvalCardIn(personal(APPROVER).conversationId, id, mark);
    await spendQuota();
    const scans = served('POST /api/machines/{id}/runAntiVirusScan');
    const answer = await drive.press(findAction(cardsOf(mine)[0], 'Approve'), APPROVER, personal(APPROVER), { replyToId: mine.id });
    expect(answer.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(cardText(answer.value)).toMatch(/Approved/);
    expect(served('POST /api/machines/{id}/runAntiVirusScan')).toBe(scans);
    // The scan is started once a slot frees, and the cards follow it.
    await app.engine.idle();
    expect(served('POST /api/machines/{id}/runAntiVirusScan')).toBe(scans + 1);
    expect(app.emulator!.stats().throttled).toBe(0);
  }, 30_000);
});
