/**
 * The requester's side of a request: withdrawing it (button and text; nobody else may),
 * a new message for each thing that happens to it (once, also with two bots on one store),
 * and who else can decide it, or that nobody can.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRolePolicy } from '../../src/core/roles.js';
import { parsePolicy } from '../../src/policy-file.js';
import { tellRequester } from '../../src/core/requester-notices.js';
import type { ApprovalPost, Notice } from '../../src/core/context.js';
import type { Reply } from '../../src/core/reply.js';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import { approvalIdIn, engineHarness, ORIGIN, replyOf, tempStoreUrl, textOf, until, USERS } from '../helpers/engine.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ actionTimings: { pendingMs: 30, inProgressMs: 30 } });
});
afterAll(async () => {
  await emulator.close();
});

const noticeTexts = (notices: readonly Notice[], id: string) => notices.filter((n) => n.reply.approvalId === id).map((n) => n.reply.summary);

function withdrawButton(reply: Reply) {
  for (const block of reply.blocks) {
    if (block.type !== 'buttons') continue;
    const button = block.buttons.find((b) => b.label === 'Withdraw');
    if (button) return button.action;
  }
  throw new Error(`no Withdraw button in ${textOf(reply)}`);
}

describe('withdraw', () => {
  it('the requester withdraws with the button; the card is re-rendered, nothing runs, the audit log says who', async () => {
    const h = await engineHarness({ emulator });
    try {
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old lab"`);
      const id = approvalIdIn(reply);
      expect(withdrawButton(reply)).toEqual({ type: 'command', command: `withdraw ${id}` });
      const pressed = replyOf(await h.engine.handleButton(USERS.operator, ORIGIN, withdrawButton(reply)));
      expect(textOf(pressed)).toContain(`Withdrawn ${id}`);
      await h.engine.idle();
      expect(h.publisher.statesOf(id)).toEqual(['withdrawn']);
      expect(h.publisher.updatesOf(id)[0]?.view.buttons).toEqual([]);
      expect(textOf(h.publisher.updatesOf(id)[0]!.card)).toContain('Withdrawn by Olivia');
      expect((await h.store.listAudit({ approvalId: id })).map((e) => [e.event, e.actor])).toEqual([
        ['requested', USERS.operator.id],
        ['withdrawn', USERS.operator.id],
      ]);
      // An approval after it is refused, and nothing reaches MDE.
      const late = await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      expect(textOf(late)).toContain('was withdrawn by Olivia');
      expect((await h.approvals.get(id))?.state).toBe('withdrawn');
    } finally {
      await h.close();
    }
  });

  it('`withdraw <id>` as text; nobody else may (not an approver, not another operator); only a pending request', async () => {
    const h = await engineHarness({ emulator });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `av-scan ${SEED.machines.wsFin01} quick --reason "check"`));
      for (const other of [USERS.approver, USERS.operator2]) {
        const refused = await h.engine.handleText(other, ORIGIN, `withdraw ${id}`);
        expect(textOf(refused)).toContain(`Only the requester (Olivia (${USERS.operator.id})) can withdraw ${id}`);
      }
      // The Withdraw button pressed by someone else is the same refusal.
      const pressed = replyOf(await h.engine.handleButton(USERS.approver, ORIGIN, { type: 'command', command: `withdraw ${id}` }));
      expect(textOf(pressed)).toContain('Only the requester');
      expect((await h.approvals.get(id))?.state).toBe('pending');
      expect(textOf(await h.engine.handleText(USERS.viewer, ORIGIN, `withdraw ${id}`))).toContain('needs the operator role');

      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, `withdraw ${id.toLowerCase()} --reason "wrong device"`))).toContain(`Withdrawn ${id}`);
      await h.engine.idle();
      expect((await h.approvals.get(id))?.decisionReason).toBe('wrong device');
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, `withdraw ${id}`))).toContain(`${id} can no longer be withdrawn: it was withdrawn`);
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, 'withdraw A2222222'))).toContain('There is no approval request A2222222');
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, 'withdraw'))).toContain('Usage: withdraw <approval id>');
      expect(h.publisher.statesOf(id)).toEqual(['withdrawn']);
    } finally {
      await h.close();
    }
  });
});

describe('the requester is told, in a new message, once per event', () => {
  it('approved, then succeeded (with the result), in the origin conversation, mentioning the requester', async () => {
    const h = await engineHarness({ emulator });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `av-scan ${SEED.machines.wsFin01} quick --reason "check"`));
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      await until(async () => (await h.approvals.get(id))?.state === 'succeeded', 'the scan to finish');
      await h.engine.idle();
      const notices = h.publisher.notices.filter((n) => n.reply.approvalId === id);
      expect(notices.map((n) => n.at)).toEqual([ORIGIN.platform, ORIGIN.platform].map(() => ({ platform: ORIGIN.platform, location: ORIGIN.location })));
      expect(notices.every((n) => n.mention?.join() === USERS.operator.id)).toBe(true);
      const [approved, succeeded] = noticeTexts(notices, id);
      expect(approved).toContain(`Your request ${id}`);
      expect(approved).toContain('was approved by Adam');
      expect(succeeded).toMatch(/ran and succeeded\. .*Succeeded/);
    } finally {
      await h.close();
    }
  });

  it('rejected (by whom, why), and a failed run (with the error)', async () => {
    const h = await engineHarness({ emulator });
    try {
      const rejected = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`));
      await h.engine.handleText(USERS.approver, ORIGIN, `reject ${rejected} --reason "still used"`);
      await h.engine.idle();
      expect(noticeTexts(h.publisher.notices, rejected)).toEqual([expect.stringMatching(/was rejected by Adam\. Nothing was done\. Reason: still used/)]);

      const failing = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `av-scan ${SEED.machines.failing} quick --reason "check"`));
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${failing}`);
      await until(async () => (await h.approvals.get(failing))?.state === 'failed', 'the scan to fail');
      await h.engine.idle();
      const texts = noticeTexts(h.publisher.notices, failing);
      expect(texts).toHaveLength(2);
      expect(texts[0]).toContain('was approved by Adam');
      expect(texts[1]).toMatch(new RegExp(`Your request ${failing} .* failed\\. \\S`));
    } finally {
      await h.close();
    }
  });

  it('expired: told once although two bots share the store and both sweep', async () => {
    const clock = { now: new Date() };
    const storeUrl = tempStoreUrl();
    const a = await engineHarness({ emulator, storeUrl, now: () => clock.now, expirySweepMs: 20 });
    const b = await engineHarness({ emulator, storeUrl, now: () => clock.now, expirySweepMs: 20 });
    try {
      const id = approvalIdIn(await a.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`));
      clock.now = new Date(clock.now.getTime() + 61 * 60_000);
      await Promise.all([a.engine.handleText(USERS.viewer, ORIGIN, 'approvals'), b.engine.handleText(USERS.viewer, ORIGIN, 'approvals')]);
      await until(async () => (await a.approvals.get(id))?.state === 'expired', 'the expiry');
      await Promise.all([a.engine.idle(), b.engine.idle()]);
      const told = [...a.publisher.notices, ...b.publisher.notices].filter((n) => n.reply.approvalId === id);
      expect(told).toHaveLength(1);
      expect(told[0]!.reply.summary).toContain('expired without a decision');
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the same state seen by two replicas is told once (a claim in the shared store)', async () => {
    const storeUrl = tempStoreUrl();
    const a = await engineHarness({ emulator, storeUrl });
    const b = await engineHarness({ emulator, storeUrl });
    try {
      const id = approvalIdIn(await a.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`));
      await a.engine.handleText(USERS.approver, ORIGIN, `reject ${id}`);
      await a.engine.idle();
      const record = (await b.approvals.get(id))!;
      const sent: Notice[] = [];
      const notify = async (n: Notice) => (sent.push(n), true);
      await Promise.all([tellRequester(record, { store: a.store, notify }), tellRequester(record, { store: b.store, notify })]);
      expect(sent).toHaveLength(0);
      expect(noticeTexts(a.publisher.notices, id)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('who else can decide', () => {
  it('an approver who requests is told who else can decide', async () => {
    const policy = {
      ...createRolePolicy({ operator: [USERS.operator.id], approver: [USERS.approver.id, 'slack:UBEA', 'person:Carl'] }),
      people: new Map([
        [USERS.approver.id, 'Adam'],
        ['slack:UBEA', 'Bea'],
        ['slack:UCARL', 'Carl'],
      ]),
    };
    const h = await engineHarness({ emulator, policy });
    try {
      const reply = await h.engine.handleText(USERS.approver, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      approvalIdIn(reply);
      expect(textOf(reply)).toContain('Another approver (Bea, Carl) must approve it');
    } finally {
      await h.close();
    }
  });

  it("the operation's rule decides who: its approver group, and a quorum that cannot be met is refused", async () => {
    const policy = parsePolicy(
      `
people:
  - { name: Olivia, slack: UOPER }
  - { name: Adam, slack: UAPPR }
  - { name: Bea, slack: UBEA }
  - { name: Carl, slack: UCARL }
groups:
  soc-leads: [Adam, Bea]
roles:
  operator: [Olivia]
  approver: [Adam, Bea, Carl]
rules:
  scans.delete: { approvers: [soc-leads], quorum: 2 }
  av-scan: { approvers: [soc-leads] }
`,
      'policy.yaml',
    );
    const h = await engineHarness({ emulator, policy });
    try {
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`))).toContain('2 approvers other than you (of: Adam, Bea) must approve it');
      const adam = await h.engine.handleText(USERS.approver, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      expect(adam.approvalId).toBeUndefined();
      expect(textOf(adam)).toContain('it needs 2 approvals from people other than you, and only 1 other person can (Bea)');
      expect(textOf(await h.engine.handleText(USERS.approver, ORIGIN, `av-scan ${SEED.machines.wsFin01} quick --reason "check"`))).toContain('Another approver (Bea) must approve it');
    } finally {
      await h.close();
    }
  });

  it('approvers an adapter could not reach are named to the requester plainly', async () => {
    const h = await engineHarness({ emulator });
    try {
      const seen: ApprovalPost[] = [];
      h.engine.addPublisher({
        platform: 'teams',
        async publish(post) {
          seen.push(post);
          post.unreachable?.('teams:66666666-6666-4666-8666-666666666666', 'the app is not installed for them');
          return [];
        },
        async update() {},
        async notify() {
          return true;
        },
      });
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      expect(textOf(reply)).toContain('No card could reach teams:66666666-6666-4666-8666-666666666666 (the app is not installed for them)');
      // Adapters are told whom to reach: the approvers of the request, never the requester.
      expect(seen[0]?.deciders).toEqual([USERS.approver.id]);
    } finally {
      await h.close();
    }
  });

  it('when nobody else can under the current policy, the request is refused and says so', async () => {
    const policy = createRolePolicy({ operator: [USERS.operator.id], approver: [USERS.approver.id] });
    const h = await engineHarness({ emulator, policy });
    try {
      const reply = await h.engine.handleText(USERS.approver, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`);
      expect(reply.approvalId).toBeUndefined();
      expect(textOf(reply)).toContain('Nobody else can approve `scans delete` under the current policy');
      expect(await h.store.listApprovals()).toEqual([]);
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`))).toContain('Another approver (slack:UAPPR) must approve it');
    } finally {
      await h.close();
    }
  });
});
