import { z } from 'zod';
import { defineCommand } from '../command.js';
import { echo, refuse } from '../args.js';
import { helpText, normalizeCommandWords, suggestCommand } from '../help.js';
import { helpView } from '../views.js';

export const help = defineCommand({
  name: 'help',
  summary: 'List the commands, or show one command with its flags and examples.',
  usage: 'help [command]',
  flags: [],
  examples: ['help', 'help scans create', 'help av-scan'],
  role: null,
  suggested: ['personal', 'shared'],
  schema: z.strictObject({ kind: z.literal('help'), command: z.string().optional() }),
  build(args, registry) {
    if (args.positionals.length === 0) return { kind: 'help' };
    const words = normalizeCommandWords(args.positionals, registry.aliases);
    const asked = words.join(' ');
    if (registry.commands.some((c) => c.name === asked || c.name.startsWith(asked + ' '))) return { kind: 'help', command: asked };
    const suggestion = suggestCommand(registry, words);
    refuse(`there is no command "${echo(args.positionals.join(' '))}"${suggestion ? `; did you mean \`${suggestion}\`?` : ''} Try \`help\` for the list.`, args.command, suggestion ? { suggestion: `help ${suggestion}` } : {});
  },
  async run(op, ctx) {
    return helpView(helpText(ctx.registry, op.command));
  },
});
