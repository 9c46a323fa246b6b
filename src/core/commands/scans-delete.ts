import { z } from 'zod';
import { defineCommand } from '../command.js';
import { definitionIds, reasonOf } from '../args.js';
import { resolveDefinitions } from '../resolve.js';
import { BREAK_GLASS, REASON_REQUIRED } from './flags.js';
import { reasonSchema } from './reason.js';

const plural = (n: number) => `${n} scan definition${n === 1 ? '' : 's'}`;

export const scansDelete = defineCommand({
  name: 'scans delete',
  summary: 'Request the deletion of scan definitions; an approver must confirm.',
  usage: 'scans delete <id>... --reason "text" [--break-glass]',
  flags: [REASON_REQUIRED, BREAK_GLASS],
  examples: ['scans delete 289224fb-1686-472c-9751-5555960854ca --reason "replaced by the new subnet scan"', 'scans delete 289224fb-1686-472c-9751-5555960854ca 60c4aa57-1290-4a92-9e2d-09f014792a92 --reason "lab closed"'],
  role: 'operator',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({ kind: z.literal('scans.delete'), ids: z.array(z.string().min(1)).min(1), reason: reasonSchema }),
  audit: { subjects: (op) => ({ definitions: op.ids }) },
  build(args) {
    return { kind: 'scans.delete', ids: definitionIds(args.command, args.positionals), reason: reasonOf(args.command, args, true) };
  },
  approval: {
    kind: 'scans.delete',
    async describe(op, mde) {
      const definitions = await resolveDefinitions(mde, op.ids);
      const names = definitions.map((d) => `${d.scanName ?? '?'} (${d.scanType ?? '?'}, ${d.target ?? ''})`);
      return { operation: { ...op, ids: definitions.map((d) => d.id) }, summary: `Delete ${plural(definitions.length)}: ${names.join('; ')}` };
    },
    facts: (op) => [{ label: 'Definition ids', value: op.ids.join(', ') }],
    async execute(op, mde) {
      await mde.deleteDefinitions(op.ids);
      return { done: true, ok: true, text: `Deleted ${plural(op.ids.length)}.` };
    },
    async verify(op, mde) {
      const present = new Set((await mde.listDefinitions()).map((d) => d.id.toLowerCase()));
      const left = op.ids.filter((id) => present.has(id.toLowerCase())).length;
      return left === 0 ? 'done' : left === op.ids.length ? 'not_done' : 'unknown';
    },
  },
});
