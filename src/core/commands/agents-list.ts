import { z } from 'zod';
import { defineCommand } from '../command.js';
import { noPositionals } from '../args.js';
import { agentList } from '../views.js';

export const agentsList = defineCommand({
  name: 'agents list',
  summary: 'List the scanner agents: name, machine id, last seen, software version; "stale" when silent over 24 h.',
  usage: 'agents list',
  flags: [],
  examples: ['agents list', 'agent list'],
  role: 'viewer',
  schema: z.strictObject({ kind: z.literal('agents.list') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'agents.list' };
  },
  run: async (_op, { mde }) => agentList(await mde.listScanAgents(), new Date()),
});
