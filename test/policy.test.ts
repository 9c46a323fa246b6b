/**
 * People, not accounts: the policy file links each person's Slack and Teams accounts, and
 * four eyes counts people. Without a link, a decision from another platform than the
 * request's is refused.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createRolePolicy, rolesOf } from '../src/core/roles.js';
import { startEmulator, SEED, type Emulator } from '../src/emulator/index.js';
import { ConfigError } from '../src/errors.js';
import { parsePolicy } from '../src/policy-file.js';
import { approvalIdIn, engineHarness, ORIGIN, textOf } from './helpers/engine.js';

const ALICE_SLACK = 'slack:UALICE';
const ALICE_TEAMS = 'teams:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const BOB_TEAMS = 'teams:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';

const POLICY = `# the shape of DESIGN.md
people:
  - name: Alice Analyst
    slack: UALICE
    teams: aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa
    email: alice@contoso.com
  - name: Bob Boss
    teams: bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb
groups:
  leads: [Bob Boss]
  analysts: [Alice Analyst, "slack:U0OPS"]
roles:
  viewer: ["*"]
  operator: [analysts]
  approver: [leads, Alice Analyst]
`;

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});

describe('the policy file', () => {
  it('links accounts to people and gives roles to people and groups', () => {
    const policy = parsePolicy(POLICY, 'policy.yaml');
    expect(rolesOf(policy, ALICE_SLACK)).toEqual(['viewer', 'operator', 'approver']);
    expect(rolesOf(policy, ALICE_TEAMS)).toEqual(['viewer', 'operator', 'approver']);
    expect(rolesOf(policy, BOB_TEAMS)).toEqual(['viewer', 'operator', 'approver']);
    expect(rolesOf(policy, 'slack:U0OPS')).toEqual(['viewer', 'operator']);
    expect(rolesOf(policy, 'slack:USTRANGER')).toEqual(['viewer']);
  });

  it.each([
    ['people:\n  - name: A\n    slack: "not an id!"\nroles: {}\n', /line 3 .*people\.0\.slack.*not a Slack user id/],
    ['people: []\nroles:\n  approver: [Nobody Known]\n', /line 3: "Nobody Known" is neither a person, a group/],
    ['roles:\n  viewer: ["*"]\nrulez:\n  av-scan: { quorum: 2 }\n', /line 3 \(top level\): unknown section rulez/],
    ['roles:\n  operator: ["slack-group:S0SOC"]\n', /line 2: directory groups \(slack-group:\) are not supported yet/],
    ['people:\n  - name: A\n    slack: U1\n  - name: B\n    slack: U1\nroles: {}\n', /slack:U1 belongs to both A and B/],
    ['roles: [\n', /line \d+:/],
  ])('refuses a bad file, naming the line: %#', (text, message) => {
    expect(() => parsePolicy(text, 'policy.yaml')).toThrow(ConfigError);
    expect(() => parsePolicy(text, 'policy.yaml')).toThrow(message);
  });

  it('is read from POLICY_FILE, and refuses to start beside a BOT_* list, naming it', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mde-policy-')), 'policy.yaml');
    writeFileSync(file, POLICY);
    expect(rolesOf(loadConfig({ POLICY_FILE: file }).roles, ALICE_TEAMS)).toContain('approver');
    expect(() => loadConfig({ POLICY_FILE: file, BOT_APPROVERS: 'slack:U1' })).toThrow(/remove BOT_APPROVERS/);
    expect(() => loadConfig({ POLICY_FILE: join(file, 'missing') })).toThrow(/POLICY_FILE .* cannot be read/);
  });
});

describe('four eyes counts people', () => {
  async function deleteRequestedBy(requester: string, policy: ReturnType<typeof createRolePolicy>, definition: string) {
    const h = await engineHarness({ emulator, policy });
    const id = approvalIdIn(await h.engine.handleText({ id: requester }, ORIGIN, `scans delete ${definition} --reason "four eyes"`));
    emulator.resetStats();
    return { h, id };
  }

  it('without a link, a decision from the other platform is refused, saying how to link the accounts (the reported hole)', async () => {
    const policy = createRolePolicy({ operator: [ALICE_SLACK], approver: [ALICE_TEAMS] });
    const { h, id } = await deleteRequestedBy(ALICE_SLACK, policy, SEED.definitions.networkLab);
    try {
      const answer = await h.engine.handleText({ id: ALICE_TEAMS }, ORIGIN, `approve ${id}`);
      expect(textOf(answer)).toContain('cannot tell whether you are the same person');
      expect(textOf(answer)).toContain('POLICY_FILE');
      const button = await h.engine.handleButton({ id: ALICE_TEAMS }, ORIGIN, { type: 'approval', approvalId: id, decision: 'approve' });
      expect(button.type).toBe('refused');
      await h.engine.idle();
      expect((await h.approvals.get(id))?.state).toBe('pending');
      expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBeUndefined();
    } finally {
      await h.close();
    }
  });

  it('one person with a Slack and a Teams account cannot approve their own request from the other platform', async () => {
    const { h, id } = await deleteRequestedBy(ALICE_SLACK, parsePolicy(POLICY, 'policy.yaml'), SEED.definitions.networkLab);
    try {
      expect(textOf(await h.engine.handleText({ id: ALICE_TEAMS }, ORIGIN, `approve ${id}`))).toContain('yourself');
      expect((await h.approvals.get(id))?.state).toBe('pending');
    } finally {
      await h.close();
    }
  });

  it('linked people approve across platforms: Alice asks in Slack, Bob approves in Teams', async () => {
    const { h, id } = await deleteRequestedBy(ALICE_SLACK, parsePolicy(POLICY, 'policy.yaml'), SEED.definitions.networkLab);
    try {
      expect(textOf(await h.engine.handleText({ id: BOB_TEAMS }, ORIGIN, `approve ${id}`))).toContain(`Approved ${id}`);
      await h.engine.idle();
      expect((await h.approvals.get(id))?.state).toBe('succeeded');
      expect(emulator.stats().byEndpoint['POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete']).toBe(1);
    } finally {
      await h.close();
    }
  });
});
