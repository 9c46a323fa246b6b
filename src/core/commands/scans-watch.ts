import { z } from 'zod';
import { defineCommand } from '../command.js';
import { noPositionals } from '../args.js';
import { errorReply } from '../reply.js';
import { watchStatusView } from '../watch-views.js';

export const scansWatch = defineCommand({
  name: 'scans watch',
  summary: 'Show where scan alerts go (failed, overdue scans; silent scanners) and the open problems.',
  usage: 'scans watch [here|off]',
  flags: [],
  examples: ['scans watch', 'scan watch'],
  role: 'viewer',
  schema: z.strictObject({ kind: z.literal('scans.watch') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'scans.watch' };
  },
  async run(_op, ctx) {
    const status = await ctx.watch.status(ctx.origin);
    return watchStatusView(status, status.watchingHere ? 'Scan alerts come to this conversation.' : 'This conversation does not receive scan alerts (an approver can turn them on with `scans watch here`).');
  },
});

export const scansWatchHere = defineCommand({
  name: 'scans watch here',
  summary: 'Send scan alerts to this conversation: a scan turns to failure, a definition overdue, a scanner silent for 24 h.',
  usage: 'scans watch here',
  flags: [],
  examples: ['scans watch here', 'scan watch here'],
  role: 'approver',
  audit: {},
  schema: z.strictObject({ kind: z.literal('scans.watch.here') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'scans.watch.here' };
  },
  async run(_op, ctx) {
    const result = await ctx.watch.here(ctx.origin, ctx.actor.id);
    if (!result) return errorReply('This conversation cannot receive alerts: run `scans watch here` in a channel, a group chat or your chat with the bot.');
    const headline = result.added
      ? `Scan alerts will be posted in this conversation: when an active definition's latest scan fails, when one has not run for twice its interval, when a scanner agent is not seen for 24 h, and when each recovers.`
      : 'This conversation already receives scan alerts.';
    return watchStatusView(result.status, headline, 'success');
  },
});

export const scansWatchOff = defineCommand({
  name: 'scans watch off',
  summary: 'Stop scan alerts to this conversation.',
  usage: 'scans watch off',
  flags: [],
  examples: ['scans watch off', 'Scans Watch Off'],
  role: 'approver',
  audit: {},
  schema: z.strictObject({ kind: z.literal('scans.watch.off') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'scans.watch.off' };
  },
  async run(_op, ctx) {
    const stopped = await ctx.watch.off(ctx.origin);
    const status = await ctx.watch.status(ctx.origin);
    return watchStatusView(status, stopped ? 'Scan alerts to this conversation are stopped.' : 'This conversation was not receiving scan alerts.', stopped ? 'success' : 'info');
  },
});
