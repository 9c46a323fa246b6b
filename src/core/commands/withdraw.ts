/** `withdraw <id>`: the requester takes back a pending request (the text twin of the Withdraw button). */
import { z } from 'zod';
import { defineCommand, flag } from '../command.js';
import { approvalId, oneId, reasonOf } from '../args.js';
import { errorReply, textReply } from '../reply.js';

export const withdraw = defineCommand({
  name: 'withdraw',
  summary: 'Withdraw your own pending approval request (nobody else can).',
  usage: 'withdraw <approval id> [--reason "text"]',
  flags: [flag('--reason', 'why (shown on the card and kept in the audit log)', '"text"')],
  examples: ['withdraw A7K3QZP', 'withdraw A7K3QZP --reason "wrong device"'],
  role: 'operator',
  schema: z.strictObject({ kind: z.literal('approvals.withdraw'), id: z.string().min(1), reason: z.string().trim().max(500).optional() }),
  build(args) {
    const id = approvalId(args.command, oneId(args.command, args, 'approval id'));
    const reason = reasonOf(args.command, args, false);
    return reason === undefined ? { kind: 'approvals.withdraw', id } : { kind: 'approvals.withdraw', id, reason };
  },
  async run(op, ctx) {
    const outcome = await ctx.approvals.withdraw(ctx.actor, op.id, op.reason);
    if (!outcome.ok) return errorReply(outcome.reason);
    return textReply(`Withdrawn ${outcome.approvalId}: ${outcome.summary}. Nothing was done; its cards say so.`, { tone: 'success', visibility: 'public' });
  },
});
