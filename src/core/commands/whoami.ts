import { z } from 'zod';
import { defineCommand } from '../command.js';
import { noPositionals } from '../args.js';
import { whoamiView } from '../views.js';

export const whoami = defineCommand({
  name: 'whoami',
  summary: 'Show your platform id and your roles (give the id to an admin to get access).',
  usage: 'whoami',
  flags: [],
  examples: ['whoami', 'WhoAmI'],
  role: null,
  suggested: ['personal', 'shared'],
  schema: z.strictObject({ kind: z.literal('whoami') }),
  build(args) {
    noPositionals(args.command, args);
    return { kind: 'whoami' };
  },
  async run(_op, ctx) {
    return whoamiView(ctx.actor.id, ctx.actor.name, [...ctx.roles]);
  },
});
