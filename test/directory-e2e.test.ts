/**
 * Directory groups and e-mail links end to end over real HTTP: one bot (startApp, demo
 * mode: the emulator is MDE and Microsoft Graph) with Slack (signed requests, the Slack
 * Web API stub answering usergroups.users.list and users.info) and Teams (Bot Framework
 * activities, the connector stub answering the member lookup), and a policy file that
 * names a Slack user group, Entra groups and people by e-mail.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSlackAdapter } from '../adapters/slack/index.js';
import { createTeamsAdapter } from '../adapters/teams/index.js';
import { startApp, type App } from '../src/app.js';
import { GRAPH_SEED, SEED } from '../src/emulator/index.js';
import { SlackDriver } from './helpers/slack-driver.js';
import { startSlackStub, type SlackStub } from './helpers/slack-stub.js';
import { cardText, startConnectorStub, type ConnectorStub } from './helpers/teams-connector.js';
import { TeamsDriver } from './helpers/teams-driver.js';
import type { TeamsUser } from './helpers/teams.js';

const SECRET = 'directory-e2e-signing-secret-0123';
const APPROVALS = 'C0APPROVE';
const [OLIVIA_ENTRA, ADAM_ENTRA, BEA_ENTRA] = GRAPH_SEED.users;
const OLIVIA_SLACK = { id: 'U0OLIVIA', name: 'olivia' };
const SAM_SLACK = { id: 'U0SAM', name: 'sam' };
const OLIVIA_TEAMS: TeamsUser = { aad: OLIVIA_ENTRA!.id, name: 'Olivia Operator' };
const ADAM_TEAMS: TeamsUser = { aad: ADAM_ENTRA!.id, name: 'Adam Approver' };
const BEA_TEAMS: TeamsUser = { aad: BEA_ENTRA!.id, name: 'Bea Boss' };
const D = SEED.definitions;

// Olivia is linked by e-mail only; Adam explicitly (his Teams account) and in the Entra SOC leads.
const POLICY = `
people:
  - name: Olivia Operator
    email: olivia@contoso.com
  - name: Adam Approver
    teams: ${ADAM_ENTRA!.id}
    email: adam@contoso.com
groups:
  analysts: ["slack-group:S0SOC", "entra-group:${GRAPH_SEED.groups.analysts}"]
  leads: ["entra-group:${GRAPH_SEED.groups.leads}", Olivia Operator]
roles:
  viewer: ["*"]
  operator: [analysts]
  approver: [leads]
`;

let slackStub: SlackStub;
let connector: ConnectorStub;
let app: App;
let slack: SlackDriver;
let teams: TeamsDriver;

beforeAll(async () => {
  slackStub = await startSlackStub();
  connector = await startConnectorStub();
  slackStub.setUserGroup('S0SOC', [OLIVIA_SLACK.id, SAM_SLACK.id]);
  slackStub.setUser(OLIVIA_SLACK.id, { email: 'olivia@contoso.com' });
  connector.setMember({ aadObjectId: OLIVIA_TEAMS.aad, name: OLIVIA_TEAMS.name, email: 'Olivia@contoso.com' });
  const file = join(mkdtempSync(join(tmpdir(), 'mde-directory-')), 'policy.yaml');
  writeFileSync(file, POLICY);
  app = await startApp({
    port: 0,
    env: {
      STORE_URL: 'sqlite::memory:',
      LOG_LEVEL: 'silent',
      POLICY_FILE: file,
      SLACK_SIGNING_SECRET: SECRET,
      SLACK_BOT_TOKEN: 'xoxb-test-token',
      SLACK_API_URL: slackStub.apiUrl,
      SLACK_APPROVAL_CHANNEL: APPROVALS,
    },
    emulator: { actionTimings: { pendingMs: 100, inProgressMs: 100 } },
    pollMs: 100,
    adapters: async (deps) => {
      const config = deps.config.slack!;
      return [
        await createTeamsAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { mode: 'local' }, directory: deps.directory }),
        await createSlackAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: { ...config, retries: 0, timing: { cardUpdateMinMs: 50 } }, directory: deps.directory }),
      ];
    },
  });
  slack = new SlackDriver(`${app.url}/slack/events`, slackStub, SECRET, APPROVALS);
  teams = new TeamsDriver(`${app.url}/api/messages`, connector);
}, 30_000);

afterAll(async () => {
  await app?.close();
  await slackStub?.close();
  await connector?.close();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function slackAnswer(user: { id: string; name: string }, text: string): Promise<string> {
  const sent = await slack.slash(user, text);
  expect(sent.http.status).toBe(200);
  return JSON.stringify((await slack.answerTo(sent.responseUrl)).body);
}

describe('directory groups and e-mail links, over HTTP', () => {
  it('an e-mail link makes a Slack and a Teams account one person: she cannot approve her own request from Teams; Adam can', async () => {
    // Olivia is an operator through the Slack user group; her request goes out.
    const { id } = await slack.requestApproval(OLIVIA_SLACK, `scans delete ${D.networkLab} --reason "lab closed"`);
    // Her Teams account has her address (member lookup): the same person, refused as such.
    const own = await teams.say(OLIVIA_TEAMS, `approve ${id}`);
    expect(cardText(own.card)).toContain(`You requested ${id} yourself`);
    expect(connector.calls.filter((c) => c.kind === 'member')).toHaveLength(1);
    // Adam (an Entra SOC lead) approves from Teams: two people, told apart across platforms by the links.
    const adam = await teams.say(ADAM_TEAMS, `approve ${id}`);
    expect(cardText(adam.card)).not.toMatch(/cannot tell whether you are the same person|yourself/);
    await until(() => !app.emulator!.state.definitions.has(D.networkLab), 'the delete to reach MDE');
    // The user group was read once for all of it, each Graph group once (cached).
    expect(slackStub.callsTo('usergroups.users.list')).toHaveLength(1);
    expect(slackStub.callsTo('users.info').map((c) => c.body.user)).toEqual([OLIVIA_SLACK.id]);
  });

  it('an Entra outage fails closed with a message that names Microsoft Entra', async () => {
    app.directory.clear();
    app.emulator!.graph.outage = 503;
    try {
      const { card } = await teams.say(BEA_TEAMS, `scans delete ${D.networkBranch} --reason "merged"`);
      expect(cardText(card)).toMatch(/Microsoft Entra \(Microsoft Graph\) could not be reached/);
      expect(cardText(card)).not.toMatch(/not allowed/);
    } finally {
      app.emulator!.graph.outage = null;
    }
    // Graph is back: Bea (an Entra member only) is an operator again.
    const { card } = await teams.say(BEA_TEAMS, 'whoami');
    expect(cardText(card)).toMatch(/approver/);
  });

  it('a Slack user-group outage fails closed with a message that names Slack user groups', async () => {
    app.directory.clear();
    slackStub.fail('usergroups.users.list', 'service_unavailable');
    const text = await slackAnswer(SAM_SLACK, `scans delete ${D.networkBranch} --reason "merged"`);
    expect(text).toContain('Slack user groups could not be reached');
    expect(text).not.toMatch(/not allowed/);
    expect(app.emulator!.state.definitions.has(D.networkBranch)).toBe(true);
  });
});
