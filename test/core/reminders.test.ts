/**
 * Reminders and escalation with the approval service's clock, through the expiry sweep:
 * reminded in the card's thread at `remind`, at most `remind_times`; escalated once after
 * `escalate.after`; nothing twice although two bots share the store and both sweep.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Notice } from '../../src/core/context.js';
import type { Store } from '../../src/store/index.js';
import { parsePolicy } from '../../src/policy-file.js';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import { approvalIdIn, engineHarness, ORIGIN, tempStoreUrl, until, USERS } from '../helpers/engine.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});

const POLICY = `
people:
  - { name: Olivia, slack: UOPER }
  - { name: Adam, slack: UAPPR }
  - { name: Carl, slack: UCARL }
groups:
  soc-leads: [Adam]
  managers: [Carl]
roles:
  viewer: ["slack:UVIEW"]
  operator: [Olivia]
  approver: [Adam, Carl]
rules:
  scans.delete: { approvers: [soc-leads], remind: 10m, remind_times: 2, escalate: { after: 25m, to: [managers] } }
`;

/** Counts the sweeps' reads of pending requests (each sweep reads them once to remind). */
function counting(counter: { sweeps: number }) {
  return (store: Store): Store =>
    new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'listApprovals') {
          return (query?: { states?: readonly string[] }) => {
            if (query?.states?.length === 1 && query.states[0] === 'pending') counter.sweeps++;
            return target.listApprovals(query as never);
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
}

describe('reminders and escalation', () => {
  it('remind at 10m and 20m (at most 2), escalate once at 25m; none twice with two bots sweeping one store', async () => {
    const clock = { now: new Date() };
    const storeUrl = tempStoreUrl();
    const policy = parsePolicy(POLICY, 'policy.yaml');
    const ca = { sweeps: 0 };
    const cb = { sweeps: 0 };
    const a = await engineHarness({ emulator, storeUrl, policy, now: () => clock.now, expirySweepMs: 10, wrapStore: counting(ca) });
    const b = await engineHarness({ emulator, storeUrl, policy, now: () => clock.now, expirySweepMs: 10, wrapStore: counting(cb) });
    const notices = () => [...a.publisher.notices, ...b.publisher.notices];
    const of = (kind: string) => notices().filter((n: Notice) => n.reply.summary.startsWith(kind));
    /** Lets both bots sweep twice more at the current time. */
    const sweepBoth = async () => {
      const [sa, sb] = [ca.sweeps, cb.sweeps];
      await until(() => ca.sweeps >= sa + 2 && cb.sweeps >= sb + 2, 'two sweeps of each bot');
      await Promise.all([a.engine.idle(), b.engine.idle()]);
    };
    const start = clock.now.getTime();
    const at = (minutes: number) => (clock.now = new Date(start + minutes * 60_000));
    try {
      const id = approvalIdIn(await a.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkLab} --reason "old"`));
      await sweepBoth();
      expect(of('Reminder')).toEqual([]);

      at(10.5);
      await sweepBoth();
      expect(of('Reminder')).toHaveLength(1);
      const [first] = of('Reminder');
      expect(first!.at).toEqual({ platform: 'test', location: { channel: 'C-approvals', ts: '1' } });
      expect(first!.inThread).toBe(true);
      expect(first!.mention).toEqual([USERS.approver.id]);
      expect(JSON.stringify(first!.reply.blocks)).toContain(`Reminder 1 of 2: ${id}`);

      at(20.5);
      await sweepBoth();
      expect(of('Reminder').map((n) => JSON.stringify(n.reply.blocks).match(/Reminder \d of 2/)?.[0])).toEqual(['Reminder 1 of 2', 'Reminder 2 of 2']);
      expect(of('Escalated')).toEqual([]);

      at(25.5);
      await sweepBoth();
      expect(of('Escalated')).toHaveLength(1);
      const [escalated] = of('Escalated');
      expect(escalated!.mention).toEqual(['slack:UCARL']);
      expect(escalated!.inThread).toBeFalsy();
      expect(JSON.stringify(escalated!.reply.blocks)).toContain('goes to managers');
      expect(JSON.stringify(escalated!.reply.blocks)).toContain('"decision":"approve"');

      at(45);
      await sweepBoth();
      expect(of('Reminder')).toHaveLength(2);
      expect(of('Escalated')).toHaveLength(1);
      expect((await a.store.listAudit({ approvalId: id })).map((e) => e.event)).toEqual(['requested', 'reminded', 'reminded', 'escalated']);

      // On expiry the requester is told (once), and nothing more is sent to approvers.
      at(61);
      await until(async () => (await a.approvals.get(id))?.state === 'expired', 'the expiry');
      await sweepBoth();
      expect(of('Your request').map((n) => n.reply.summary)).toEqual([expect.stringContaining('expired without a decision')]);
      expect(of('Reminder')).toHaveLength(2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a request decided before its reminder is never reminded', async () => {
    const clock = { now: new Date() };
    const counter = { sweeps: 0 };
    const h = await engineHarness({ emulator, policy: parsePolicy(POLICY, 'policy.yaml'), now: () => clock.now, expirySweepMs: 10, wrapStore: counting(counter) });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.windowsHr} --reason "old"`));
      await h.engine.handleText(USERS.approver, ORIGIN, `reject ${id}`);
      clock.now = new Date(clock.now.getTime() + 30 * 60_000);
      const seen = counter.sweeps;
      await until(() => counter.sweeps >= seen + 2, 'two sweeps');
      await h.engine.idle();
      expect(h.publisher.notices.filter((n) => /Reminder|Escalated/.test(n.reply.summary))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
