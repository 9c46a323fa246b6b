import { z } from 'zod';
import { defineCommand } from '../command.js';
import { refuse } from '../args.js';
import { resolveDefinitions } from '../resolve.js';
import { definitionDetail } from '../views.js';
import { scannerNames } from '../scan-health.js';
import { lastRunsBlock } from '../watch-views.js';

/** How many runs `scans show` lists. */
const LAST_RUNS = 5;

export const scansShow = defineCommand({
  name: 'scans show',
  summary: 'Show one scan definition and its last runs (status, time, scanner), by id or exact name.',
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
    const d = definition!;
    const rows = await mde.getScanHistory([d.id], { top: LAST_RUNS });
    // Scanners by name: the definition names its own; another one (the definition moved) is looked up in the agents list.
    let names = scannerNames([d], []);
    if (rows.some((r) => r.scannerId && !names.has(r.scannerId.toLowerCase()))) names = scannerNames([d], await mde.listScanAgents().catch(() => []));
    const reply = definitionDetail(d);
    const at = reply.blocks.findIndex((b) => b.type === 'buttons');
    reply.blocks.splice(at < 0 ? reply.blocks.length : at, 0, lastRunsBlock(d, rows.slice(0, LAST_RUNS), names, new Date()));
    return reply;
  },
});
