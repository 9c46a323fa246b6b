/** `approvals ack <id>`: an approver reviews a break-glass run afterwards (the text twin of the Acknowledge button). */
import { z } from 'zod';
import { defineCommand } from '../command.js';
import { approvalId, oneId } from '../args.js';
import { errorReply, textReply } from '../reply.js';

export const approvalsAck = defineCommand({
  name: 'approvals ack',
  summary: 'Acknowledge a break-glass run after the fact (an approver other than the person who ran it).',
  usage: 'approvals ack <approval id>',
  flags: [],
  examples: ['approvals ack A7K3QZP', 'approvals ack a7k3qzp'],
  role: 'approver',
  schema: z.strictObject({ kind: z.literal('approvals.ack'), id: z.string().min(1) }),
  build: (args) => ({ kind: 'approvals.ack', id: approvalId(args.command, oneId(args.command, args, 'approval id')) }),
  async run(op, ctx) {
    const outcome = await ctx.approvals.acknowledge(ctx.actor, op.id);
    if (!outcome.ok) return errorReply(outcome.reason);
    return textReply(`Acknowledged the break-glass run ${outcome.approvalId}: ${outcome.summary}. Its review is closed.`, { tone: 'success', visibility: 'public' });
  },
});
