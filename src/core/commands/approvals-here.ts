import { z } from 'zod';
import { defineCommand } from '../command.js';
import { noPositionals } from '../args.js';
import { textReply } from '../reply.js';

export const approvalsHere = defineCommand({
  name: 'approvals here',
  summary: 'Send approval cards to this conversation (Teams; Slack uses SLACK_APPROVAL_CHANNEL).',
  usage: 'approvals here',
  flags: [],
  examples: ['approvals here', 'Approvals Here'],
  role: 'approver',
  audit: {},
  suggested: ['shared'],
  schema: z.strictObject({ kind: z.literal('approvals.here') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'approvals.here' };
  },
  async run(_op, ctx) {
    await ctx.approvals.setHere(ctx.origin);
    return textReply(`Approval cards for new requests will be posted in this conversation (${ctx.origin.platform}).`, { tone: 'success', visibility: 'public' });
  },
});
