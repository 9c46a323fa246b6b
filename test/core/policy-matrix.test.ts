/**
 * The approval policy through the core: requester × approver × operation × quorum. Each
 * case requests an operation as one person, lets a sequence of people decide, and counts
 * what reached MDE (the emulator): nothing before the quorum, exactly once after it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/core/context.js';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import { parsePolicy } from '../../src/policy-file.js';
import { approvalIdIn, engineHarness, ORIGIN, tempStoreUrl, textOf, until } from '../helpers/engine.js';

const POLICY = parsePolicy(
  `people:
  - name: Olga Operator
    slack: U0OLG
  - name: Otto Operator
    teams: 44444444-4444-4444-8444-444444444444
  - name: Adam Approver
    slack: U0APP
    teams: 22222222-2222-4222-8222-222222222222
  - name: Bea Boss
    slack: U0BEA
  - name: Carl Chief
    teams: 33333333-3333-4333-8333-333333333333
groups:
  soc-leads: [Adam Approver, Bea Boss, Carl Chief]
  operators: [Olga Operator, Otto Operator]
roles:
  viewer: ["*"]
  operator: [operators]
  approver: [soc-leads]
rules:
  scans.delete: { approvers: [soc-leads], quorum: 2, ttl: 2h }
  av-scan: { approvers: [Adam Approver, Bea Boss], ttl: 30m }
  av-scan.full: { quorum: 2 }
  scans.create: { requesters: [Olga Operator] }
`,
  'matrix.yaml',
);

const U = {
  olga: { id: 'slack:U0OLG', name: 'Olga Operator' },
  otto: { id: 'teams:44444444-4444-4444-8444-444444444444', name: 'Otto Operator' },
  adamSlack: { id: 'slack:U0APP', name: 'Adam Approver' },
  adamTeams: { id: 'teams:22222222-2222-4222-8222-222222222222', name: 'Adam Approver' },
  bea: { id: 'slack:U0BEA', name: 'Bea Boss' },
  carl: { id: 'teams:33333333-3333-4333-8333-333333333333', name: 'Carl Chief' },
  viewer: { id: 'slack:U0VIEW' },
} satisfies Record<string, Actor>;

const DELETE = 'POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete';
const SCAN = 'POST /api/machines/{id}/runAntiVirusScan';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ actionTimings: { pendingMs: 30, inProgressMs: 30 } });
});
afterAll(async () => {
  await emulator.close();
});

type Step = [actor: Actor, decision: 'approve' | 'reject', expect: RegExp];

interface Case {
  name: string;
  requester: Actor;
  command: string;
  steps: Step[];
  /** The request's state after the steps (`running`: approved and executed, whatever the scan's progress). */
  state: 'pending' | 'rejected' | 'running';
  endpoint: string;
}

const CASES: Case[] = [
  {
    name: 'delete, quorum 2: two approvers, the first only counts',
    requester: U.olga,
    command: `scans delete ${SEED.definitions.networkLab} --reason matrix`,
    steps: [
      [U.adamSlack, 'approve', /counted: 1 of 2: Adam Approver approved \d\d:\d\d UTC\. Still to decide: Bea Boss, Carl Chief/],
      [U.bea, 'approve', /Approved A/],
    ],
    state: 'running',
    endpoint: DELETE,
  },
  {
    name: "delete, quorum 2: one person's Slack and Teams accounts count once",
    requester: U.olga,
    command: `scans delete ${SEED.definitions.networkPrinters} --reason matrix`,
    steps: [
      [U.adamSlack, 'approve', /counted: 1 of 2/],
      [U.adamTeams, 'approve', /You already approved A\w+ .*1 more approval/],
      [U.adamSlack, 'approve', /You already approved/],
    ],
    state: 'pending',
    endpoint: DELETE,
  },
  {
    name: 'delete, quorum 2: one rejection ends it',
    requester: U.olga,
    command: `scans delete ${SEED.definitions.networkBranch} --reason matrix`,
    steps: [
      [U.adamSlack, 'approve', /counted: 1 of 2/],
      [U.carl, 'reject', /Rejected A/],
      [U.bea, 'approve', /already rejected by Carl Chief/],
    ],
    state: 'rejected',
    endpoint: DELETE,
  },
  {
    name: 'delete requested by an approver: never by the requester, on any of their accounts; two others make the quorum',
    requester: U.adamSlack,
    command: `scans delete ${SEED.definitions.networkCore} --reason matrix`,
    steps: [
      [U.adamTeams, 'approve', /You requested A\w+ yourself/],
      [U.carl, 'approve', /counted: 1 of 2: Carl Chief approved .*Still to decide: Bea Boss\./],
      [U.bea, 'approve', /Approved A/],
    ],
    state: 'running',
    endpoint: DELETE,
  },
  {
    name: 'quick AV scan: only the rule\'s approvers decide (Carl is an approver, not on the av-scan rule); quorum 1',
    requester: U.otto,
    command: `av-scan ${SEED.names.wsFin01} quick --reason matrix`,
    steps: [
      [U.carl, 'approve', /lets only Adam Approver, Bea Boss decide; you are not among them/],
      [U.olga, 'approve', /needs the approver role/],
      [U.bea, 'approve', /Approved A/],
    ],
    state: 'running',
    endpoint: SCAN,
  },
  {
    name: 'full AV scan: quorum 2 from av-scan.full, approvers inherited from av-scan',
    requester: U.olga,
    command: `av-scan ws-hr-01.contoso.local full --reason matrix`,
    steps: [
      [U.carl, 'approve', /not among them/],
      [U.bea, 'approve', /counted: 1 of 2: Bea Boss approved .*Still to decide: Adam Approver\./],
      [U.adamTeams, 'approve', /Approved A/],
    ],
    state: 'running',
    endpoint: SCAN,
  },
];

describe('policy matrix', () => {
  it.each(CASES)('$name', async (c) => {
    const h = await engineHarness({ emulator, policy: POLICY });
    try {
      emulator.resetStats();
      const id = approvalIdIn(await h.engine.handleText(c.requester, ORIGIN, c.command));
      for (const [actor, decision, expected] of c.steps) {
        const answer = textOf(await h.engine.handleText(actor, ORIGIN, `${decision} ${id}`));
        expect(answer).toMatch(expected);
        // Before the last approval nothing reaches MDE.
        if (c.steps.at(-1)?.[0] !== actor) expect(emulator.stats().byEndpoint[c.endpoint]).toBeUndefined();
      }
      await h.engine.idle();
      const record = (await h.approvals.get(id))!;
      if (c.state === 'running') {
        expect(['executing', 'succeeded']).toContain(record.state);
        expect(emulator.stats().byEndpoint[c.endpoint]).toBe(1);
      } else {
        expect(record.state).toBe(c.state);
        expect(emulator.stats().byEndpoint[c.endpoint]).toBeUndefined();
      }
    } finally {
      await h.close();
    }
  });

  it('the request says who else may approve, the card shows the quorum, and the rule sets the TTL', async () => {
    const h = await engineHarness({ emulator, policy: POLICY });
    try {
      const reply = await h.engine.handleText(U.olga, ORIGIN, `av-scan lnx-web-01.contoso.local full --reason ttl`);
      expect(textOf(reply)).toContain('2 approvers other than you (of: Adam Approver, Bea Boss) must approve it');
      const id = approvalIdIn(reply);
      const record = (await h.approvals.get(id))!;
      expect(Date.parse(record.expiresAt) - Date.parse(record.createdAt)).toBe(30 * 60_000);
      expect(record.quorum).toBe(2);
      await h.engine.handleText(U.bea, ORIGIN, `approve ${id}`);
      const post = (await h.engine.approval(id))!;
      expect(post.view.facts.find((f) => f.label === 'Approvals')?.value).toMatch(/^1 of 2: Bea Boss approved \d\d:\d\d UTC\. Still to decide: Adam Approver\.$/);
      // Buttons: only for those who may still decide.
      expect(post.mayDecide(U.bea.id)).toBe(false);
      expect(post.mayDecide(U.carl.id)).toBe(false);
      expect(post.mayDecide(U.olga.id)).toBe(false);
      expect(post.mayDecide(U.adamTeams.id)).toBe(true);
      expect(textOf(await h.engine.handleText(U.bea, ORIGIN, 'approvals'))).toContain('Waiting for an approver (1 of 2: Bea Boss approved');
      const button = await h.engine.handleButton(U.bea, ORIGIN, { type: 'approval', approvalId: id, decision: 'approve' });
      expect(button).toMatchObject({ type: 'refused', reason: expect.stringContaining('You already approved') });
    } finally {
      await h.close();
    }
  });

  it('who may request: a viewer is refused; requesters replace the role for scans.create', async () => {
    const h = await engineHarness({ emulator, policy: POLICY });
    try {
      expect(textOf(await h.engine.handleText(U.viewer, ORIGIN, `scans delete ${SEED.definitions.windowsHr} --reason no`))).toContain('needs the operator role');
      const create = `scans create network --name "Matrix" --target 10.0.0.9 --interval 24 --agent ${SEED.agents.lab} --username snmp-reader`;
      expect(textOf(await h.engine.handleText(U.otto, ORIGIN, create))).toContain('lets only Olga Operator request it');
      expect(textOf(await h.engine.handleText(U.olga, ORIGIN, create))).not.toContain('lets only');
      expect(await h.store.listApprovals()).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it('two approvers at once on two replicas (one store): both votes count, and it executes once', async () => {
    const storeUrl = tempStoreUrl();
    const a = await engineHarness({ emulator, policy: POLICY, storeUrl });
    const b = await engineHarness({ emulator, policy: POLICY, storeUrl });
    try {
      emulator.resetStats();
      const id = approvalIdIn(await a.engine.handleText(U.olga, ORIGIN, `scans delete ${SEED.definitions.windowsFinance} --reason replicas`));
      const answers = await Promise.all([
        a.engine.handleButton(U.adamSlack, ORIGIN, { type: 'approval', approvalId: id, decision: 'approve' }),
        b.engine.handleButton(U.carl, ORIGIN, { type: 'approval', approvalId: id, decision: 'approve' }),
      ]);
      expect(answers.map((x) => x.type)).toEqual(['decided', 'decided']);
      await a.engine.idle();
      await b.engine.idle();
      await until(async () => (await a.approvals.get(id))?.state === 'succeeded', 'the delete to finish');
      const record = (await a.approvals.get(id))!;
      expect(record.votes?.map((v) => v.person).sort()).toEqual(['person:Adam Approver', 'person:Carl Chief']);
      expect(emulator.stats().byEndpoint[DELETE]).toBe(1);
      expect((await a.approvals.history(id)).filter((e) => e.event === 'executing')).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
