/**
 * Break-glass: a person the policy names runs a listed operation at once; the run is loud
 * (a notice where cards go, the audit log) and opens a review another approver closes.
 * Anyone else is refused, and the refusal is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalPolicy } from '../../src/core/approval-policy.js';
import { parsePolicy } from '../../src/policy-file.js';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import { approvalIdIn, engineHarness, ORIGIN, replyOf, tempStoreUrl, textOf, until, USERS } from '../helpers/engine.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator({ actionTimings: { pendingMs: 30, inProgressMs: 30 } });
});
afterAll(async () => {
  await emulator.close();
});

const BEA = { id: 'slack:UBEA', name: 'Bea' };

const POLICY = `
people:
  - { name: Olivia, slack: UOPER }
  - { name: Adam, slack: UAPPR }
  - { name: Bea, slack: UBEA }
roles:
  viewer: ["slack:UVIEW"]
  operator: [Olivia]
  approver: [Adam, Bea]
break_glass:
  people: [Bea, Olivia]
  operations: [av-scan]
`;

const policy = (): ApprovalPolicy => parsePolicy(POLICY, 'policy.yaml');

describe('break-glass', () => {
  it('runs at once, posts a loud notice with Acknowledge where cards go, audits it, and opens a review another approver closes', async () => {
    const h = await engineHarness({ emulator, policy: policy() });
    try {
      emulator.resetStats();
      const reply = await h.engine.handleText(BEA, ORIGIN, `av-scan ${SEED.machines.wsFin01} quick --reason "ransomware spreading" --break-glass`);
      const id = approvalIdIn(reply);
      expect(textOf(reply)).toContain(`Break-glass: ${id} runs now, without an approval`);
      await until(async () => (await h.approvals.get(id))?.state === 'succeeded', 'the scan to run');
      await h.engine.idle();
      expect(emulator.stats().byEndpoint['POST /api/machines/{id}/runAntiVirusScan']).toBe(1);

      // The loud notice: where the card went, mentioning the other approvers, with the button.
      const notice = h.publisher.notices.find((n) => n.reply.summary.startsWith(`Break-glass run ${id}`))!;
      expect(notice.at).toEqual({ platform: 'test', location: { channel: 'C-approvals', ts: '1' } });
      expect(notice.mention).toEqual([USERS.approver.id]);
      expect(textOf(notice.reply)).toContain('under BREAK-GLASS, without an approval');
      expect(textOf(notice.reply)).toContain(`"command":"approvals ack ${id}"`);
      const events = (await h.store.listAudit({ approvalId: id })).map((e) => [e.event, e.actor]);
      expect(events.slice(0, 2)).toEqual([
        ['requested', BEA.id],
        ['break_glass', BEA.id],
      ]);
      expect(events.map((e) => e[0])).toContain('succeeded');
      // No "approved" message for the requester (nobody approved); the outcome is told.
      const told = h.publisher.notices.filter((n) => n.reply.approvalId === id && n.mention?.join() === BEA.id).map((n) => n.reply.summary);
      expect(told).toEqual([expect.stringContaining('ran and succeeded')]);

      // The review: open, not by the person who ran it, then by another approver (the button's command).
      const open = await h.engine.handleText(USERS.viewer, ORIGIN, 'approvals --unreviewed');
      expect(textOf(open)).toContain('Break-glass runs waiting for review: 1');
      expect(textOf(open)).toContain(id);
      expect(textOf(await h.engine.handleText(BEA, ORIGIN, `approvals ack ${id}`))).toContain('another approver has to acknowledge it');
      expect(textOf(await h.engine.handleText(USERS.operator, ORIGIN, `approvals ack ${id}`))).toContain('needs the approver role');
      const acked = replyOf(await h.engine.handleButton(USERS.approver, ORIGIN, { type: 'command', command: `approvals ack ${id}` }));
      expect(textOf(acked)).toContain(`Acknowledged the break-glass run ${id}`);
      expect(textOf(await h.engine.handleText(USERS.approver, ORIGIN, `approvals ack ${id}`))).toContain('was already acknowledged by Adam');
      expect(textOf(await h.engine.handleText(USERS.viewer, ORIGIN, 'approvals --unreviewed'))).toContain('Break-glass runs waiting for review: 0');
      expect((await h.store.listAudit({ approvalId: id })).at(-1)).toMatchObject({ event: 'acknowledged', actor: USERS.approver.id });
      await h.engine.idle();
      const last = h.publisher.updatesOf(id).at(-1)!;
      expect(textOf(last.card)).toContain('Reviewed by Adam');
      expect(textOf(last.card)).toContain('Run under break-glass by Bea');
    } finally {
      await h.close();
    }
  });

  it('anyone not named is refused, the refusal is audited, nothing runs; an operation not listed is refused too', async () => {
    const h = await engineHarness({ emulator, policy: policy() });
    try {
      emulator.resetStats();
      const refused = await h.engine.handleText(USERS.approver, ORIGIN, `av-scan ${SEED.machines.wsFin01} quick --reason "hurry" --break-glass`);
      expect(refused.approvalId).toBeUndefined();
      expect(textOf(refused)).toContain("You are not named in the policy's break_glass people");
      const notListed = await h.engine.handleText(BEA, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "hurry" --break-glass`);
      expect(textOf(notListed)).toContain('Break-glass is not allowed for `scans.delete`');
      const audit = (await h.store.listAudit()).filter((e) => e.event === 'refused');
      expect(audit.map((e) => e.actor)).toEqual([USERS.approver.id, BEA.id]);
      expect(audit[0]!.detail).toMatchObject({ command: 'av-scan', breakGlass: true });
      expect(await h.store.listApprovals()).toEqual([]);
      expect(emulator.stats().byEndpoint['POST /api/machines/{id}/runAntiVirusScan'] ?? 0).toBe(0);
      // Without a break_glass section nobody may.
      const plain = await engineHarness({ emulator });
      try {
        expect(textOf(await plain.engine.handleText(USERS.operator, ORIGIN, `av-scan ${SEED.machines.wsFin01} quick --reason "x" --break-glass`))).toContain('Break-glass is not allowed under the current policy');
      } finally {
        await plain.close();
      }
    } finally {
      await h.close();
    }
  });

  it('a break-glass run by someone the policy does not name is never executed (the check before running, also after a restart)', async () => {
    const storeUrl = tempStoreUrl();
    const h = await engineHarness({ emulator, policy: policy(), storeUrl });
    try {
      // As if written by a bot whose policy named Adam: the process starting now checks again.
      const record = await h.approvals.breakGlass({
        operation: { kind: 'av-scan', machine: SEED.machines.wsFin02, scanType: 'Quick', reason: 'x' },
        requester: { actor: USERS.approver.id, name: 'Adam' },
        origin: { platform: 'test', location: { channel: 'C1' } },
      });
      emulator.resetStats();
      const restarted = await engineHarness({ emulator, policy: policy(), storeUrl });
      try {
        await until(async () => (await h.approvals.get(record.id))?.state === 'failed', 'the refusal');
        await restarted.engine.idle();
        expect(JSON.stringify((await h.approvals.get(record.id))?.result)).toContain("not named in the policy's break_glass people");
        expect(emulator.stats().byEndpoint['POST /api/machines/{id}/runAntiVirusScan']).toBeUndefined();
      } finally {
        await restarted.close();
      }
    } finally {
      await h.close();
    }
  });
});
