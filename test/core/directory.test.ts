/**
 * Directory groups and e-mail links through the core: Slack user groups with Bolt's Web
 * API client against the local Slack stub, Entra groups through Microsoft Graph served by
 * the emulator. Cache behaviour is counted at the stubs (calls), expiry with an injected clock.
 */
import { webApi } from '@slack/bolt';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { slackDirectory } from '../../adapters/slack/directory.js';
import { createDirectory, resolvePolicy, type Directory } from '../../src/core/directory.js';
import { fourEyesProblem, rolePolicyFromEnv, rolesOf } from '../../src/core/roles.js';
import { GRAPH_SEED, SEED, startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createGraphGroups } from '../../src/graph.js';
import { staticTokenProvider } from '../../src/mde/token.js';
import { parsePolicy } from '../../src/policy-file.js';
import { emulatorToken } from '../helpers/mde.js';
import { startSlackStub, type SlackStub } from '../helpers/slack-stub.js';
import { approvalIdIn, engineHarness, ORIGIN, textOf } from '../helpers/engine.js';

const [OLIVIA, ADAM, BEA] = GRAPH_SEED.users;
const SOC = GRAPH_SEED.groups.analysts;
const LEADS = GRAPH_SEED.groups.leads;

const POLICY = `
people:
  - name: Adam Approver
    slack: U0ADAM
    email: adam@contoso.com
  - name: Olivia Operator
    email: olivia@contoso.com
  - name: Sam Shadow
    slack: U0SAM
groups:
  analysts: ["slack-group:S0SOC", "entra-group:${SOC}"]
  leads: ["entra-group:${LEADS}"]
roles:
  viewer: ["*"]
  operator: [analysts]
  approver: [leads]
`;

let stub: SlackStub;
let emulator: Emulator;
let token: string;
let clock = 0;

const slackClient = () => new webApi.WebClient('xoxb-test', { slackApiUrl: stub.apiUrl, retryConfig: { retries: 0 } });
const graph = () => createGraphGroups({ baseUrl: emulator.url, tokens: staticTokenProvider(token) });
function directory(): Directory {
  const groups = graph();
  return createDirectory({ cacheMs: 300_000, now: () => clock, sources: { ...slackDirectory(slackClient()), entraGroupMembers: (id) => groups.transitiveUsers(id) } });
}

beforeAll(async () => {
  stub = await startSlackStub();
  // Two users a page: the seeded SOC group (3 users, one of them through a nested group) takes two.
  emulator = await startEmulator({ pageSize: 2, actionTimings: { pendingMs: 60, inProgressMs: 60 } });
  token = await emulatorToken(emulator);
});
afterAll(async () => {
  await stub.close();
  await emulator.close();
});
beforeEach(() => {
  stub.reset();
  stub.setUserGroup('S0SOC', ['U0OLIVIA', 'U0SAM']);
  stub.setUser('U0OLIVIA', { email: 'Olivia@Contoso.com' });
  stub.setUser('U0ADAM', { email: 'adam@contoso.com' });
  // Claims Olivia's address, but the file links U0SAM to Sam explicitly: the file wins.
  stub.setUser('U0SAM', { email: 'olivia@contoso.com' });
  emulator.graph.requests.clear();
  emulator.graph.outage = null;
  clock = 0;
});

describe('Slack user groups', () => {
  it('give their members the role, with one usergroups.users.list call for concurrent and repeated lookups', async () => {
    const dir = directory();
    const policy = parsePolicy(POLICY, 'policy.yaml');
    const resolved = await Promise.all([resolvePolicy(policy, dir, ['slack:U0SAM']), resolvePolicy(policy, dir, ['slack:U0SAM']), resolvePolicy(policy, dir, ['slack:U0NOBODY'])]);
    expect(rolesOf(resolved[0]!, 'slack:U0SAM')).toEqual(['viewer', 'operator']);
    expect(rolesOf(resolved[2]!, 'slack:U0NOBODY')).toEqual(['viewer']);
    await resolvePolicy(policy, dir, ['slack:U0SAM']);
    expect(stub.callsTo('usergroups.users.list')).toHaveLength(1);
    expect(stub.callsTo('usergroups.users.list')[0]!.body.usergroup).toBe('S0SOC');
    // Past the cache time the group is read again.
    clock += 300_001;
    await resolvePolicy(policy, dir, ['slack:U0SAM']);
    expect(stub.callsTo('usergroups.users.list')).toHaveLength(2);
  });

  it('work in the BOT_* shorthand too, and without a directory give nobody the role', async () => {
    const policy = rolePolicyFromEnv({ BOT_OPERATORS: 'slack-group:s0soc,slack:U0ONE' });
    expect(rolesOf(await resolvePolicy(policy, directory(), ['slack:U0SAM']), 'slack:U0SAM')).toEqual(['viewer', 'operator']);
    const blind = await resolvePolicy(policy, undefined, ['slack:U0SAM']);
    expect(rolesOf(blind, 'slack:U0SAM')).toEqual([]);
    expect(rolesOf(blind, 'slack:U0ONE')).toEqual(['viewer', 'operator']);
    expect(blind.unreachable).toEqual(['Slack user groups']);
  });

  it('fail closed when Slack cannot be reached, saying so; a failure is not cached', async () => {
    const h = await engineHarness({ emulator, policy: parsePolicy(POLICY, 'policy.yaml'), directory: directory() });
    try {
      stub.fail('usergroups.users.list', 'fatal_error');
      const reply = await h.engine.handleText({ id: 'slack:U0SAM' }, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      expect(textOf(reply)).toContain('Slack user groups could not be reached');
      expect(textOf(reply)).not.toMatch(/not allowed/);
      expect(reply.approvalId).toBeUndefined();
      // Slack is back: the next command asks again and gets through.
      const again = await h.engine.handleText({ id: 'slack:U0SAM' }, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      expect(approvalIdIn(again)).toBeTruthy();
      expect(stub.callsTo('usergroups.users.list')).toHaveLength(2);
    } finally {
      await h.close();
    }
  });
});

describe('Entra ID groups (Microsoft Graph, served by the emulator)', () => {
  it('give their transitive members the role, paging through nextLinks, one lookup per group while cached', async () => {
    const dir = directory();
    const policy = parsePolicy(POLICY, 'policy.yaml');
    const teams = (u: { id: string }) => `teams:${u.id}`;
    const resolved = await resolvePolicy(policy, dir, [teams(BEA!)]);
    // Bea is in SOC leads (approver) and, through it, in SOC analysts (operator).
    expect(rolesOf(resolved, teams(BEA!))).toEqual(['viewer', 'operator', 'approver']);
    expect(rolesOf(resolved, teams(OLIVIA!))).toEqual(['viewer', 'operator']);
    // SOC analysts: 3 users at 2 a page = 2 requests; SOC leads: 1.
    expect(emulator.graph.count()).toBe(3);
    await resolvePolicy(policy, dir, [teams(OLIVIA!)]);
    expect(emulator.graph.count()).toBe(3);
  });

  it('follow a nextLink that names another host on the configured base URL only (the token never leaves it)', async () => {
    emulator.graph.linkOrigin = 'https://graph.example.invalid';
    try {
      const users = await graph().transitiveUsers(SOC);
      expect(users.map((u) => u.id).sort()).toEqual([OLIVIA!.id, ADAM!.id, BEA!.id].sort());
      expect(emulator.graph.count()).toBe(2);
    } finally {
      emulator.graph.linkOrigin = undefined;
    }
  });

  it('may approve under a rule whose approvers are an Entra group, with a quorum the group can reach', async () => {
    const policy = parsePolicy(
      `roles:\n  viewer: ["*"]\n  operator: ["*"]\n  approver: ["entra-group:${LEADS}"]\nrules:\n  scans.delete: { approvers: ["entra-group:${LEADS}"], quorum: 2 }\n`,
      'p.yaml',
    );
    const resolved = await resolvePolicy(policy, directory(), [`teams:${BEA!.id}`]);
    expect([...resolved.rules!.get('scans.delete')!.approvers!.ids]).toEqual(expect.arrayContaining([`teams:${ADAM!.id}`, `teams:${BEA!.id}`]));
    expect(rolesOf(resolved, `teams:${OLIVIA!.id}`)).toEqual(['viewer', 'operator']);
  });

  it('are resolved by `policy check` for the user checked, and an outage refuses plainly', async () => {
    const policy = parsePolicy(`roles:\n  viewer: ["*"]\n  operator: ["*"]\n  approver: ["entra-group:${LEADS}"]\nrules:\n  scans.delete: { approvers: ["entra-group:${LEADS}"], quorum: 2 }\n`, 'p.yaml');
    const dir = directory();
    const h = await engineHarness({ emulator, policy, directory: dir });
    try {
      const bea = { id: `teams:${BEA!.id}` };
      const check = textOf(await h.engine.handleText(bea, ORIGIN, `policy check teams:${ADAM!.id} scans delete`));
      expect(check).toContain('May approve others');
      expect(check).toContain(`entra-group:${LEADS} → teams:${ADAM!.id}`);
      emulator.graph.outage = 503;
      dir.clear();
      expect(textOf(await h.engine.handleText(bea, ORIGIN, `policy check teams:${ADAM!.id} scans delete`))).toContain('Microsoft Entra (Microsoft Graph) could not be reached');
    } finally {
      emulator.graph.outage = null;
      await h.close();
    }
  });

  it('match Slack accounts by e-mail: a person whose address Graph lists holds the role on every account', async () => {
    const resolved = await resolvePolicy(parsePolicy(POLICY, 'policy.yaml'), directory(), ['slack:U0ADAM']);
    // Adam's address is an Entra SOC lead's: his Slack account is an approver.
    expect(rolesOf(resolved, 'slack:U0ADAM')).toContain('approver');
    expect(ADAM!.mail).toBe('adam@contoso.com');
  });

  it('fail closed on an outage and on an unknown group, naming Microsoft Entra', async () => {
    const h = await engineHarness({ emulator, policy: parsePolicy(POLICY, 'policy.yaml'), directory: directory() });
    try {
      emulator.graph.outage = 503;
      const reply = await h.engine.handleText({ id: `teams:${BEA!.id}` }, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      expect(textOf(reply)).toMatch(/Microsoft Entra \(Microsoft Graph\) could not be reached/);
      expect(reply.approvalId).toBeUndefined();
    } finally {
      await h.close();
    }
    emulator.graph.outage = null;
    const unknown = parsePolicy(`roles:\n  operator: ["entra-group:00000000-0000-4000-8000-0000000000ff"]\n`, 'p.yaml');
    const resolved = await resolvePolicy(unknown, directory(), [`teams:${BEA!.id}`]);
    expect(rolesOf(resolved, `teams:${BEA!.id}`)).toEqual([]);
    expect(resolved.unreachable).toEqual(['Microsoft Entra (Microsoft Graph)']);
    await expect(graph().transitiveUsers('00000000-0000-4000-8000-0000000000ff')).rejects.toThrow(/404 \(no such group/);
  });
});

describe('what the log is told', () => {
  it('names the missing Slack scope and the missing Graph permission', async () => {
    const told: string[] = [];
    const groups = graph();
    const dir = createDirectory({ sources: { ...slackDirectory(slackClient()), entraGroupMembers: (id) => groups.transitiveUsers(id) }, onError: (_name, detail) => void told.push(detail) });
    stub.fail('usergroups.users.list', 'missing_scope');
    emulator.graph.outage = 403;
    try {
      const resolved = await resolvePolicy(parsePolicy(POLICY, 'policy.yaml'), dir, ['slack:U0SAM']);
      expect([...(resolved.unreachable ?? [])].sort()).toEqual(['Microsoft Entra (Microsoft Graph)', 'Slack user groups']);
      expect(told.join('\n')).toMatch(/missing_scope, the Slack app lacks a scope \(usergroups:read/);
      expect(told.join('\n')).toMatch(/403 \(the app registration needs the application permission GroupMember.Read.All/);
    } finally {
      emulator.graph.outage = null;
    }
  });
});

describe('e-mail links', () => {
  it('make accounts on two platforms one person; the file’s explicit links come first', async () => {
    const dir = createDirectory({
      sources: {
        ...slackDirectory(slackClient()),
        teamsEmail: async (id) => (id === OLIVIA!.id ? 'olivia@contoso.com' : undefined),
      },
    });
    const policy = parsePolicy(POLICY, 'policy.yaml');
    const pair = await resolvePolicy(policy, dir, ['slack:U0OLIVIA', `teams:${OLIVIA!.id}`]);
    expect(fourEyesProblem(pair, 'slack:U0OLIVIA', `teams:${OLIVIA!.id}`)).toBe('self');
    // U0SAM's Slack address is Olivia's too, but the file says U0SAM is Sam.
    const sam = await resolvePolicy(policy, dir, ['slack:U0SAM', `teams:${OLIVIA!.id}`]);
    expect(fourEyesProblem(sam, 'slack:U0SAM', `teams:${OLIVIA!.id}`)).toBeNull();
    // An explicitly linked account is not looked up when only e-mail links are at stake.
    stub.reset();
    await resolvePolicy(parsePolicy(`people:\n  - name: A\n    slack: U0A\n    email: a@contoso.com\nroles:\n  viewer: ["*"]\n`, 'p.yaml'), dir, ['slack:U0A']);
    expect(stub.callsTo('users.info')).toHaveLength(0);
  });

  it('an unconfirmed Slack address links nobody', async () => {
    stub.setUser('U0OLIVIA', { email: 'olivia@contoso.com', confirmed: false });
    const resolved = await resolvePolicy(parsePolicy(POLICY, 'policy.yaml'), directory(), ['slack:U0OLIVIA']);
    expect(resolved.people?.get('slack:U0OLIVIA')).toBeUndefined();
  });
});
