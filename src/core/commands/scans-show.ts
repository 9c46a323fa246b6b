import { z } from 'zod';
import { defineCommand } from '../command.js';
import { refuse } from '../args.js';
import { resolveDefinitions } from '../resolve.js';
import { definitionDetail } from '../views.js';

export const scansShow = defineCommand({
  name: 'scans show',
  summary: 'Show one scan definition and its latest scan, by id or exact name.',
  usage: 'scans show <id or "exact name">',
  flags: [],
  examples: ['scans show 289224fb-1686-472c-9751-5555960854ca', 'scans show "Weekly servers"'],
  role: 'viewer',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({ kind: z.literal('scans.show'), ref: z.string().min(1) }),
  build(args) {
    const s = args.command;
    if (args.positionals.length === 0) refuse('give the id or the exact name of a scan definition', s);
    if (args.positionals.length > 1) {
      const joined = args.positionals.join(' ');
      refuse(
        `\`scans show\` takes one id or name; put a name with spaces in quotes`,
        s,
        joined.length <= 80 && !/["“”]/.test(joined) ? { suggestion: `scans show "${joined}"` } : {},
      );
    }
    const ref = (args.positionals[0] as string).trim();
    if (ref === '') refuse('give the id or the exact name of a scan definition', s);
    if (ref.length > 256) refuse('a scan name is at most 256 characters', s);
    return { kind: 'scans.show', ref };
  },
  async run(op, { mde }) {
    const [definition] = await resolveDefinitions(mde, [op.ref]);
    return definitionDetail(definition!);
  },
});
