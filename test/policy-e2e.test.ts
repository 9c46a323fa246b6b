/**
 * Cross-platform, end to end over HTTP, under a policy file: one running bot with both
 * adapters; signed Slack requests to /slack/events and Bot Framework activities to
 * /api/messages (the local connector stub as serviceUrl). A delete requested in Slack
 * needs two people: the requester's own Teams account is refused, an approval from
 * Teams and one from Slack make the quorum, and every card on both platforms shows the
 * progress and then the outcome.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../adapters/slack/index.js';
import { createTeamsAdapter } from '../adapters/teams/index.js';
import { startApp, type App } from '../src/app.js';
import { SEED } from '../src/emulator/index.js';
import { createLogger } from '../src/log.js';
import { until } from './helpers/engine.js';
import { SlackDriver } from './helpers/slack-driver.js';
import type { UserRef } from './helpers/slack-requests.js';
import { startSlackStub, type SlackStub } from './helpers/slack-stub.js';
import { actionTitles, cardsOf, cardText, findAction, startConnectorStub, type ConnectorStub } from './helpers/teams-connector.js';
import { approvalIdOfCard, TeamsDriver } from './helpers/teams-driver.js';
import type { TeamsUser } from './helpers/teams.js';

const SECRET = 'policy-e2e-signing-secret';
const APPROVALS = 'C0SOCAPPROVALS';

const ADAM_SLACK: UserRef = { id: 'U0ADAM', name: 'adam' };
const ADAM_TEAMS: TeamsUser = { aad: '22222222-2222-4222-8222-222222222222', name: 'Adam Approver' };
const BEA_TEAMS: TeamsUser = { aad: '33333333-3333-4333-8333-333333333333', name: 'Bea Boss' };
const CARL_SLACK: UserRef = { id: 'U0CARL', name: 'carl' };

const POLICY = `people:
  - name: Adam Approver
    slack: ${ADAM_SLACK.id}
    teams: ${ADAM_TEAMS.aad}
  - name: Bea Boss
    teams: ${BEA_TEAMS.aad}
  - name: Carl Chief
    slack: ${CARL_SLACK.id}
groups:
  soc-leads: [Adam Approver, Bea Boss, Carl Chief]
roles:
  viewer: ["*"]
  operator: [soc-leads]
  approver: [soc-leads]
rules:
  scans.delete: { approvers: [soc-leads], quorum: 2, ttl: 2h }
`;

let slack: SlackStub;
let policyFile: string;
let teams: ConnectorStub;
let app: App;
let slackDrive: SlackDriver;
let teamsDrive: TeamsDriver;
const logLines: string[] = [];

beforeAll(async () => {
  slack = await startSlackStub();
  teams = await startConnectorStub();
  const file = join(mkdtempSync(join(tmpdir(), 'mde-policy-e2e-')), 'policy.yaml');
  policyFile = file;
  writeFileSync(file, POLICY);
  app = await startApp({
    port: 0,
    log: createLogger('trace', { write: (line: string) => void logLines.push(line) }),
    env: {
      STORE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'silent',
      POLICY_FILE: file,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-policy-e2e',
      SLACK_API_URL: slack.apiUrl,
      SLACK_APPROVAL_CHANNEL: APPROVALS,
    },
    pollMs: 100,
    adapters: async (deps) => {
      const config = deps.config.slack!;
      return [
        await createTeamsAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { mode: 'local' } }),
        await createSlackAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { ...config, retries: 0, timing: { cardUpdateMinMs: 50 } } }),
      ];
    },
  });
  slackDrive = new SlackDriver(`${app.url}/slack/events`, slack, SECRET, APPROVALS);
  teamsDrive = new TeamsDriver(`${app.url}/api/messages`, teams);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await slack?.close();
  await teams?.close();
});

const slackText = (body: Record<string, any>) => JSON.stringify([body.text, body.blocks]);

describe('cross-platform approval under a policy file', () => {
  it('requested in Slack; the same person in Teams is refused; Teams and Slack approvals make the quorum; both platforms show the outcome', async () => {
    // Bea and Adam write to the bot in Teams first: that is how it learns their personal chats.
    await teamsDrive.say(BEA_TEAMS, 'whoami');
    await teamsDrive.say(ADAM_TEAMS, 'whoami');
    const target = SEED.definitions.networkLab;
    const mark = teams.calls.length;

    const { id, card: slackCard, answer } = await slackDrive.requestApproval(ADAM_SLACK, `scans delete ${target} --reason "policy e2e"`);
    expect(slackText(answer.body)).toContain('2 approvers other than you (of: Bea Boss, Carl Chief) must approve it');
    expect(slackText({ blocks: slackCard.blocks })).toContain('0 of 2');

    // A card in Bea's personal Teams chat, with buttons for her; none for Adam (he asked).
    const beaCall = await teamsDrive.approvalCardIn(teamsDrive.personal(BEA_TEAMS).conversationId, id, mark);
    const beaCard = cardsOf(beaCall)[0];
    expect(approvalIdOfCard(beaCard)).toBe(id);
    expect(actionTitles(beaCard)).toContain('Approve');
    expect(teams.since(mark).some((c) => c.kind === 'send' && c.conversationId === teamsDrive.personal(ADAM_TEAMS).conversationId)).toBe(false);

    // Adam, from his Teams account: the same person, refused.
    const byAdam = await teamsDrive.say(ADAM_TEAMS, `approve ${id}`);
    expect(cardText(byAdam.card)).toMatch(/You requested .* yourself/);
    expect((await app.store.getApproval(id))?.votes).toBeUndefined();

    // Bea approves in Teams: 1 of 2, still pending, nothing deleted; the Slack card shows the progress.
    const slackUpdates = () => slack.callsTo('chat.update').filter((c) => c.body.ts === slackCard.ts);
    const byBea = await teamsDrive.press(findAction(beaCard, 'Approve'), BEA_TEAMS, teamsDrive.personal(BEA_TEAMS), { replyToId: beaCall.id });
    expect(cardText(byBea.value)).toMatch(/1 of 2: Bea Boss approved \d\d:\d\d UTC\. Still to decide: Carl Chief\./);
    expect(actionTitles(byBea.value)).toEqual([]);
    expect((await app.store.getApproval(id))?.state).toBe('pending');
    expect(app.emulator!.state.findDefinition(target)).toBeDefined();
    await slack.waitFor(() => slackUpdates().find((c) => /1 of 2: Bea Boss approved/.test(slackText(c.body))));

    // Bea again (a second click): already approved.
    const again = await teamsDrive.say(BEA_TEAMS, `approve ${id}`);
    expect(cardText(again.card)).toMatch(/You already approved/);

    // Carl approves in Slack with the card's button: the quorum is met, the delete runs once.
    const approve = slackCard.blocks.filter((b: any) => b.type === 'actions').flatMap((b: any) => b.elements).find((e: any) => /Approve/.test(e.text?.text ?? ''));
    const before = teams.calls.length;
    const clicked = await slackDrive.click(CARL_SLACK, slackCard, approve);
    expect(clicked.http.status).toBe(200);
    await until(async () => (await app.store.getApproval(id))?.state === 'succeeded', 'the delete to finish');
    expect(app.emulator!.state.findDefinition(target)).toBeUndefined();
    expect(app.emulator!.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBe(1);

    // Every card, on both platforms, ends showing the outcome and who approved.
    const slackFinal = await slack.waitFor(() => slackUpdates().find((c) => /Succeeded/.test(slackText(c.body))));
    expect(slackText(slackFinal.body)).toMatch(/2 of 2: Bea Boss approved .*, Carl Chief approved/);
    const teamsFinal = await teams.waitFor((c) => c.kind === 'update' && c.activityId === beaCall.id && /Succeeded/.test(cardText(cardsOf(c)[0])), { from: before });
    expect(cardText(cardsOf(teamsFinal)[0])).toMatch(/2 of 2: Bea Boss approved/);
    expect(actionTitles(cardsOf(teamsFinal)[0])).toEqual([]);
    const votes = (await app.store.getApproval(id))!.votes!;
    expect(votes.map((v) => [v.person, v.decision])).toEqual([
      ['person:Bea Boss', 'approve'],
      ['person:Carl Chief', 'approve'],
    ]);
  });

  it('policy show and policy check over Teams', async () => {
    const shown = await teamsDrive.say(BEA_TEAMS, 'policy show');
    expect(cardText(shown.card)).toContain('scans.delete');
    const checked = await teamsDrive.say(BEA_TEAMS, `policy check slack:${ADAM_SLACK.id} scans delete`);
    expect(cardText(checked.card)).toMatch(/May approve others' scans.delete requests: yes/);
    expect(cardText(checked.card)).toMatch(/2 distinct people/);
  });

  it('a bad new version of the file is refused and announced in the approvals places of both platforms; the old policy stays', async () => {
    const soc = { serviceUrl: teams.url, conversationId: '19:soc@thread.tacv2;messageid=1700000000001', kind: 'channel' as const };
    expect(cardText((await teamsDrive.say(BEA_TEAMS, 'approvals here', soc)).card)).toMatch(/posted in this conversation/);
    const mark = teams.calls.length;
    writeFileSync(policyFile, POLICY.replace('quorum: 2', 'quorum: two'));
    expect(app.policy.reload()).toMatchObject({ ok: false });
    const notice = await slack.waitFor(() => slack.callsTo('chat.postMessage').find((c) => c.body.channel === APPROVALS && /policy file was refused/.test(String(c.body.text))));
    expect(String(notice.body.text)).toMatch(/line 16 .*quorum: a whole number/);
    const inTeams = await teams.waitFor((c) => c.kind === 'send' && c.conversationId === soc.conversationId && /policy file was refused/.test(String(c.body?.text)), { from: mark });
    expect(String(inTeams.body.text)).toMatch(/line 16/);
    expect(app.policy.current().rules?.get('scans.delete')?.quorum).toBe(2);
    writeFileSync(policyFile, POLICY);
  });
});
