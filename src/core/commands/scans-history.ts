import { z } from 'zod';
import { defineCommand } from '../command.js';
import { definitionIds } from '../args.js';
import { resolveDefinitions } from '../resolve.js';
import { historyView } from '../views.js';

export const scansHistory = defineCommand({
  name: 'scans history',
  summary: 'Show the scan history of one or more scan definitions.',
  usage: 'scans history <id>...',
  flags: [],
  examples: ['scans history 289224fb-1686-472c-9751-5555960854ca', 'scans history 289224fb-1686-472c-9751-5555960854ca 60c4aa57-1290-4a92-9e2d-09f014792a92'],
  role: 'viewer',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({ kind: z.literal('scans.history'), ids: z.array(z.string().min(1)).min(1) }),
  build(args) {
    return { kind: 'scans.history', ids: definitionIds(args.command, args.positionals) };
  },
  async run(op, { mde }) {
    const definitions = await resolveDefinitions(mde, op.ids);
    const ids = definitions.map((d) => d.id);
    const [rows, agents] = await Promise.all([mde.getScanHistory(ids, { top: 50 }), mde.listScanAgents().catch(() => [])]);
    // The scanner's name: from the agents list, else from the definitions that use it.
    const scanners = new Map<string, string>();
    for (const d of definitions) if (d.scannerAgent?.machineId && d.scannerAgent.machineName) scanners.set(d.scannerAgent.machineId, d.scannerAgent.machineName);
    for (const a of agents) if (a.computerDnsName) scanners.set(a.machineId, a.computerDnsName);
    return historyView(rows, new Map(definitions.map((d) => [d.id, d.scanName ?? d.id])), ids, { scanners, definitions });
  },
});
