import { z } from 'zod';
import { defineCommand, flag } from '../command.js';
import { noPositionals } from '../args.js';

export const approvalsList = defineCommand({
  name: 'approvals',
  summary: 'List pending approval requests (--all: recent ones too, with their outcome).',
  usage: 'approvals [--all]',
  flags: [flag('--all', 'also decided, expired and finished requests')],
  examples: ['approvals', 'approvals --all'],
  role: 'viewer',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({ kind: z.literal('approvals.list'), all: z.boolean().default(false) }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'approvals.list', all: args.flags.has('--all') };
  },
  run: (op, ctx) => ctx.approvals.list({ all: op.all }),
});
