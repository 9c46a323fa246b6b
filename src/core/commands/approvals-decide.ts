/** `approve <id>` and `reject <id>`: the text twins of the card's buttons. */
import { z } from 'zod';
import { defineCommand, flag, type CommandContext } from '../command.js';
import { approvalId, oneId, reasonOf, type Args } from '../args.js';
import { errorReply, textReply } from '../reply.js';

const schema = z.strictObject({
  kind: z.literal('approvals.decide'),
  id: z.string().min(1),
  decision: z.enum(['approve', 'reject']),
  reason: z.string().trim().max(500).optional(),
});

async function run(op: z.output<typeof schema>, ctx: CommandContext) {
  const outcome = await ctx.approvals.decide(ctx.actor, op.id, op.decision, op.reason, ctx.origin);
  if (outcome.type !== 'decided') return errorReply(outcome.reason);
  if (outcome.progress) return textReply(`Your approval of ${outcome.approvalId} is counted: ${outcome.progress}`, { tone: 'success', visibility: 'public' });
  const verb = op.decision === 'approve' ? 'Approved' : 'Rejected';
  const next = op.decision === 'approve' ? ' Running it now; the card shows the outcome.' : '';
  return textReply(`${verb} ${outcome.approvalId}: ${outcome.summary}.${next}`, { tone: 'success', visibility: 'public' });
}

const idOf = (args: Args) => approvalId(args.command, oneId(args.command, args, 'approval id'));

export const approve = defineCommand({
  name: 'approve',
  summary: 'Approve a pending request (the text twin of the Approve button). Not your own.',
  usage: 'approve <approval id>',
  flags: [],
  examples: ['approve A7K3QZP', 'approve a7k3qzp'],
  role: 'approver',
  suggested: ['personal', 'shared'],
  schema,
  build: (args) => ({ kind: 'approvals.decide', id: idOf(args), decision: 'approve' }),
  run,
});

export const reject = defineCommand({
  name: 'reject',
  summary: 'Reject a pending request, optionally saying why.',
  usage: 'reject <approval id> [--reason "text"]',
  flags: [flag('--reason', 'why (shown on the card and kept in the audit log)', '"text"')],
  examples: ['reject A7K3QZP', 'reject A7K3QZP --reason "wrong device"'],
  role: 'approver',
  suggested: ['personal', 'shared'],
  schema,
  build(args) {
    const id = idOf(args);
    const reason = reasonOf(args.command, args, false);
    return reason === undefined ? { kind: 'approvals.decide', id, decision: 'reject' } : { kind: 'approvals.decide', id, decision: 'reject', reason };
  },
  run,
});
