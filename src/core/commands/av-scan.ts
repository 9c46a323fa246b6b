import { z } from 'zod';
import { AV_SCAN_TYPES, MACHINE_ID, isValidHostname } from '../../mde/requests.js';
import { defineCommand, flag } from '../command.js';
import { echo, reasonOf, refuse, str } from '../args.js';
import { avScanWarning } from '../../mde/avscan.js';
import { resolveDevices, resolveMachine, selectionText, type DeviceSelection } from '../resolve.js';
import { BREAK_GLASS, REASON_REQUIRED } from './flags.js';
import { reasonSchema } from './reason.js';

/** The most names one comma list may give (each costs an MDE lookup before asking); tags and groups go further. */
export const MAX_NAMED_DEVICES = 50;
/** How many devices the card and the summary name before "and N more". */
const FIRST_SHOWN = 5;

const TAG = flag('--tag', 'every device carrying this MDE tag (exact match)', 'TAG');
const TAG_STARTS_WITH = flag('--tag-starts-with', 'every device with a tag starting with this text', 'PREFIX');
const GROUP = flag('--group', 'every device of this MDE device group (exact name)', '"GROUP"');

const selectionSchema = z.discriminatedUnion('by', [
  z.strictObject({ by: z.literal('names'), names: z.array(z.string().min(1)).min(2).max(MAX_NAMED_DEVICES) }),
  z.strictObject({ by: z.literal('tag'), tag: z.string().trim().min(1).max(200), startsWith: z.boolean() }),
  z.strictObject({ by: z.literal('group'), group: z.string().trim().min(1).max(200) }),
]);

const deviceSchema = z.strictObject({ id: z.string().regex(MACHINE_ID), name: z.string() });

const schema = z.union([
  z.strictObject({
    kind: z.literal('av-scan'),
    /** A 40-hex machine id or a computer DNS name, resolved to the id before approval. */
    machine: z.string().min(1),
    scanType: z.enum(AV_SCAN_TYPES),
    reason: reasonSchema,
  }),
  z.strictObject({
    kind: z.literal('av-scan'),
    select: selectionSchema,
    /** Filled before approval: the exact devices, sorted by id (the approval's hash covers them). */
    machines: z.array(deviceSchema).optional(),
    scanType: z.enum(AV_SCAN_TYPES),
    reason: reasonSchema,
  }),
]);

type AvScanOperation = z.infer<typeof schema>;

/** The comment MDE keeps with every scan: it names the request, who asked and who approved. */
export function avScanComment(reason: string, context: { approvalId: string; requester: string; approver: string }): string {
  return `${reason} (mde-chatops approval ${context.approvalId}: requested by ${context.requester}, approved by ${context.approver})`.slice(0, 1000);
}

function firstNames(names: string[]): string {
  const shown = names.slice(0, FIRST_SHOWN).join(', ');
  return names.length > FIRST_SHOWN ? `${shown} and ${names.length - FIRST_SHOWN} more` : shown;
}

function typeOf(text: string | undefined, s: Parameters<typeof refuse>[1]): 'Quick' | 'Full' {
  if (text === undefined) refuse('give the scan type: quick or full', s);
  const lower = text.toLowerCase();
  if (lower === 'quick') return 'Quick';
  if (lower === 'full') return 'Full';
  refuse(`the scan type must be quick or full (got "${echo(text, 20)}")`, s);
}

export const avScan = defineCommand({
  name: 'av-scan',
  summary: 'Request an antivirus scan on devices (names, a tag or a device group); an approver must confirm.',
  usage: 'av-scan <machine id or DNS name>[,<…>] | --tag TAG | --tag-starts-with PREFIX | --group "GROUP"  quick|full --reason "text" [--break-glass]',
  flags: [TAG, TAG_STARTS_WITH, GROUP, REASON_REQUIRED, BREAK_GLASS],
  examples: [
    'av-scan pc-042.contoso.com quick --reason "suspicious download reported"',
    'av-scan 1e5bc9d7e413ddd7902c2932e418702b84d0cc07 full --reason "incident 4711"',
    'av-scan pc-042.contoso.com,pc-043.contoso.com quick --reason "same phishing mail"',
    'av-scan --tag finance quick --reason "incident 4711: scan every finance device"',
    'av-scan --group "Finance devices" full --reason "quarterly sweep"',
  ],
  role: 'operator',
  suggested: ['personal', 'shared'],
  schema,
  audit: { subjects: (op) => ({ devices: 'machine' in op ? [op.machine] : (op.machines?.map((m) => m.name) ?? []) }) },
  build(args) {
    const s = args.command;
    const tag = str(args, '--tag');
    const prefix = str(args, '--tag-starts-with');
    const group = str(args, '--group');
    const selectors = [tag, prefix, group].filter((v) => v !== undefined);
    if (selectors.length > 1) refuse('give one of --tag, --tag-starts-with or --group', s);
    if (selectors.length === 1) {
      const [typeText, extra] = args.positionals;
      if (extra !== undefined) refuse(`with --tag or --group give only the scan type; unexpected "${echo(extra)}"`, s);
      const scanType = typeOf(typeText, s);
      const reason = reasonOf(s, args, true);
      const select: DeviceSelection = group !== undefined ? { by: 'group', group: group.trim() } : { by: 'tag', tag: (tag ?? prefix ?? '').trim(), startsWith: prefix !== undefined };
      return { kind: 'av-scan', select, scanType, reason };
    }
    const [machineText, typeText, extra] = args.positionals;
    if (machineText === undefined) refuse('give the machine (its id or DNS name; several comma-separated), or --tag or --group, and the scan type', s);
    if (typeText === undefined) refuse('give the scan type: quick or full', s);
    if (extra !== undefined) refuse(`unexpected argument "${echo(extra)}" (a reason goes in --reason "…"; several devices are comma-separated without spaces)`, s);
    const names = [...new Set(machineText.split(',').map((m) => m.trim().toLowerCase()).filter(Boolean))];
    if (names.length === 0) refuse('give at least one device', s);
    if (names.length > MAX_NAMED_DEVICES) refuse(`at most ${MAX_NAMED_DEVICES} devices by name (got ${names.length}); use --tag or --group for more`, s);
    const bad = names.find((m) => !MACHINE_ID.test(m) && !isValidHostname(m));
    if (bad !== undefined) refuse(`"${echo(bad)}" is neither a machine id (40 hexadecimal characters) nor a DNS name`, s);
    const scanType = typeOf(typeText, s);
    const reason = reasonOf(s, args, true);
    if (names.length === 1) return { kind: 'av-scan', machine: names[0], scanType, reason };
    return { kind: 'av-scan', select: { by: 'names', names }, scanType, reason };
  },
  approval: {
    kind: 'av-scan',
    async describe(op, mde, settings) {
      if ('select' in op) {
        const devices = await resolveDevices(mde, op.select, settings.avScanMaxDevices);
        // One device keeps the single-device request (its card follows the one machine action).
        if (devices.length > 1) {
          const names = devices.map((m) => m.computerDnsName ?? m.id);
          const inactive = devices.filter((m) => avScanWarning(m) !== null).length;
          const warning = inactive ? `. Warning: MDE reports ${inactive} of them Inactive or not onboarded: their scans may end in TimeOut` : '';
          return {
            operation: { kind: 'av-scan' as const, select: op.select, machines: devices.map((m) => ({ id: m.id.toLowerCase(), name: m.computerDnsName ?? m.id })), scanType: op.scanType, reason: op.reason },
            summary: `${op.scanType} antivirus scan on ${devices.length} devices (${selectionText(op.select)}): ${firstNames(names)}${warning}`,
          };
        }
        return describeOne({ kind: 'av-scan', machine: devices[0]!.id, scanType: op.scanType, reason: op.reason }, mde);
      }
      return describeOne(op, mde);
    },
    facts: (op) => {
      if ('select' in op) {
        const machines = op.machines ?? [];
        return [
          { label: 'Devices', value: `${machines.length} (${selectionText(op.select)})` },
          { label: 'First devices', value: firstNames(machines.map((m) => m.name)) },
          { label: 'Scan type', value: op.scanType },
        ];
      }
      return [
        { label: 'Machine id', value: op.machine },
        { label: 'Scan type', value: op.scanType },
      ];
    },
    async execute(op, mde, context) {
      const comment = avScanComment(op.reason, context);
      if ('select' in op) {
        return { done: false, fanOut: { devices: (op.machines ?? []).map((m) => ({ machineId: m.id, name: m.name })), scanType: op.scanType, comment } };
      }
      const outcome = await mde.runAntivirusScan(op.machine, { Comment: comment, ScanType: op.scanType });
      if (outcome.kind === 'started') return { done: false, action: outcome.action, text: `${op.scanType} scan requested: Pending.` };
      // Not a failure of the bot: the device is being scanned. The running scan belongs to
      // whoever started it, so it is not followed here; the message says which scan (its
      // real type, who started it), as MDE reported it.
      return { done: true, ok: true, text: `${outcome.message} No second scan was started.` };
    },
  },
});

async function describeOne(op: { kind: 'av-scan'; machine: string; scanType: 'Quick' | 'Full'; reason: string }, mde: Parameters<typeof resolveMachine>[0]) {
  // No platform is refused here: MDE decides (Windows, macOS, Linux) and its refusal is reported.
  const machine = await resolveMachine(mde, op.machine);
  const warning = avScanWarning(machine);
  return {
    operation: { ...op, machine: machine.id } as AvScanOperation,
    summary: `${op.scanType} antivirus scan on ${machine.computerDnsName ?? machine.id} (${machine.osPlatform ?? 'unknown OS'}, ${machine.healthStatus ?? 'unknown health'})${warning ? `. Warning: ${warning}` : ''}`,
  };
}

export const avScanCancel = defineCommand({
  name: 'av-scan cancel',
  summary: 'Cancel an AV scan request (or one machine action): scans not started or not finished are cancelled.',
  usage: 'av-scan cancel <approval request id | machine action id>',
  flags: [],
  examples: ['av-scan cancel A7K2M9Q', 'av-scan cancel 2e9da30d-27f6-4208-81f2-9cd3d67893ba'],
  role: 'operator',
  schema: z.strictObject({ kind: z.literal('av-scan.cancel'), ref: z.string().min(1).max(100) }),
  audit: {},
  build(args) {
    const s = args.command;
    const [ref, extra] = args.positionals;
    if (ref === undefined) refuse('give the approval request id (A…) or the machine action id to cancel', s);
    if (extra !== undefined) refuse(`\`av-scan cancel\` takes one id; unexpected "${echo(extra)}"`, s);
    return { kind: 'av-scan.cancel', ref: ref.trim() };
  },
  async run(op, ctx) {
    return ctx.approvals.cancel(ctx.actor, op.ref);
  },
});
