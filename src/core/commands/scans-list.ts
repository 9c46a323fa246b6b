import { z } from 'zod';
import { SCAN_TYPES } from '../../mde/entities.js';
import { defineCommand, flag } from '../command.js';
import { choose, echo, noPositionals, refuse, str } from '../args.js';
import { definitionList } from '../views.js';
import { definitionHealth, historyOf, scannerNames } from '../scan-health.js';
import { failingList } from '../watch-views.js';

export const scansList = defineCommand({
  name: 'scans list',
  summary: 'List authenticated-scan definitions, optionally filtered; --failing: failed latest scan or overdue.',
  usage: 'scans list [--type windows|network] [--active|--inactive] [--search text] [--failing] [--page N]',
  flags: [
    flag('--type', 'only Windows or only Network scans', 'windows|network'),
    flag('--active', 'only active definitions'),
    flag('--inactive', 'only inactive definitions'),
    flag('--search', 'text the name or targets contain', 'text'),
    flag('--failing', 'only definitions whose latest scan failed, or active ones that have not run for twice their interval'),
    flag('--page', 'page of results, from 1', 'N'),
  ],
  examples: ['scans list', 'scans list --type network --active', 'scans list --failing', 'scans list --search "branch office" --page 2'],
  role: 'viewer',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({
    kind: z.literal('scans.list'),
    scanType: z.enum(SCAN_TYPES).optional(),
    active: z.boolean().optional(),
    search: z.string().optional(),
    failing: z.boolean().optional(),
    page: z.number().int().min(1).default(1),
  }),
  build(args) {
    const s = args.command;
    noPositionals(s, args);
    if (args.flags.has('--active') && args.flags.has('--inactive')) refuse('give --active or --inactive, not both', s);
    const op: Record<string, unknown> = { kind: 'scans.list' };
    const type = str(args, '--type');
    if (type !== undefined) op.scanType = choose(s, '--type', type, ['Windows', 'Network'] as const);
    if (args.flags.has('--active')) op.active = true;
    if (args.flags.has('--inactive')) op.active = false;
    if (args.flags.has('--failing')) op.failing = true;
    const search = str(args, '--search');
    if (search !== undefined) {
      if (search.length > 200) refuse('--search text must be at most 200 characters', s);
      op.search = search.trim();
    }
    const page = str(args, '--page');
    if (page !== undefined) {
      if (!/^\d{1,5}$/.test(page.trim()) || Number(page) < 1) refuse(`--page must be a page number from 1 (got "${echo(page, 20)}")`, s);
      op.page = Number(page);
    }
    return op;
  },
  async run(op, { mde, watch }) {
    const search = op.search?.toLowerCase();
    const all = (await mde.listDefinitions())
      .filter((d) => !op.scanType || d.scanType === op.scanType)
      .filter((d) => op.active === undefined || d.isActive === op.active)
      .filter((d) => !search || [d.scanName, d.target, d.id].some((v) => v?.toLowerCase().includes(search)))
      .sort((a, b) => (a.scanName ?? '').localeCompare(b.scanName ?? ''));
    const flags = [
      op.scanType ? `--type ${op.scanType.toLowerCase()}` : '',
      op.active === undefined ? '' : op.active ? '--active' : '--inactive',
      op.search ? `--search ${JSON.stringify(op.search)}` : '',
    ].filter(Boolean);
    if (op.failing) {
      // One batched history read for all of them (per 100); scanner names come with the definitions.
      const now = new Date();
      const [rows, firstSeen] = await Promise.all([all.length > 0 ? historyOf(mde, all.map((d) => d.id)) : Promise.resolve([]), watch.firstSeen()]);
      const names = scannerNames(all, []);
      return failingList(all.map((d) => definitionHealth(d, rows, names, now, firstSeen(d.id))), op.page, now, ['scans list', ...flags, '--failing --page {page}'].join(' '));
    }
    const filtersText = [op.scanType, op.active === undefined ? '' : op.active ? 'active' : 'inactive', op.search ? `matching "${op.search}"` : ''].filter(Boolean).join(', ');
    return definitionList(all, op.page, ['scans list', ...flags, '--page {page}'].join(' '), filtersText, { typeFiltered: op.scanType !== undefined });
  },
});
