import { z } from 'zod';
import { defineCommand, flag } from '../command.js';
import { echo, noPositionals, refuse, str } from '../args.js';

export const approvalsList = defineCommand({
  name: 'approvals',
  summary: 'List pending approval requests (--all: recent ones too; --unreviewed: break-glass runs to review).',
  usage: 'approvals [--all | --unreviewed] [--page N]',
  flags: [
    flag('--all', 'also decided, expired and finished requests'),
    flag('--unreviewed', 'break-glass runs no approver has acknowledged yet'),
    flag('--page', 'page of results, from 1', 'N'),
  ],
  examples: ['approvals', 'approvals --all --page 2', 'approvals --unreviewed'],
  role: 'viewer',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({
    kind: z.literal('approvals.list'),
    all: z.boolean().default(false),
    unreviewed: z.boolean().optional(),
    page: z.number().int().min(1).default(1),
  }),
  build(args) {
    noPositionals(args.command, args);
    const page = str(args, '--page');
    if (page !== undefined && (!/^\d{1,5}$/.test(page.trim()) || Number(page) < 1)) refuse(`--page must be a page number from 1 (got "${echo(page, 20)}")`, args.command);
    if (args.flags.has('--unreviewed')) {
      if (args.flags.has('--all')) refuse('give --all or --unreviewed, not both', args.command);
      return { kind: 'approvals.list', all: false, unreviewed: true };
    }
    return { kind: 'approvals.list', all: args.flags.has('--all'), ...(page !== undefined ? { page: Number(page) } : {}) };
  },
  run: (op, ctx) => (op.unreviewed ? ctx.approvals.unreviewed() : ctx.approvals.list({ all: op.all, page: op.page })),
});
