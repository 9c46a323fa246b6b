import { z } from 'zod';
import { AV_SCAN_TYPES, MACHINE_ID, isValidHostname } from '../../mde/requests.js';
import { defineCommand } from '../command.js';
import { echo, reasonOf, refuse } from '../args.js';
import { avScanWarning } from '../../mde/avscan.js';
import { resolveMachine } from '../resolve.js';
import { REASON_REQUIRED } from './flags.js';
import { reasonSchema } from './reason.js';

export const avScan = defineCommand({
  name: 'av-scan',
  summary: 'Request an antivirus scan on a Windows, macOS or Linux device; an approver must confirm.',
  usage: 'av-scan <machine id or DNS name> quick|full --reason "text"',
  flags: [REASON_REQUIRED],
  examples: ['av-scan pc-042.contoso.com quick --reason "suspicious download reported"', 'av-scan 1e5bc9d7e413ddd7902c2932e418702b84d0cc07 full --reason "incident 4711"'],
  role: 'operator',
  suggested: ['personal', 'shared'],
  schema: z.strictObject({
    kind: z.literal('av-scan'),
    /** A 40-hex machine id or a computer DNS name, resolved to the id before approval. */
    machine: z.string().min(1),
    scanType: z.enum(AV_SCAN_TYPES),
    reason: reasonSchema,
  }),
  audit: { subjects: (op) => ({ devices: [op.machine] }) },
  build(args) {
    const s = args.command;
    const [machineText, typeText, extra] = args.positionals;
    if (machineText === undefined) refuse('give the machine (its id or DNS name) and the scan type', s);
    if (typeText === undefined) refuse('give the scan type: quick or full', s);
    if (extra !== undefined) refuse(`unexpected argument "${echo(extra)}" (a reason goes in --reason "…")`, s);
    const m = machineText.trim();
    if (!MACHINE_ID.test(m) && !isValidHostname(m)) refuse(`"${echo(m)}" is neither a machine id (40 hexadecimal characters) nor a DNS name`, s);
    const scanType = typeText.toLowerCase() === 'quick' ? 'Quick' : typeText.toLowerCase() === 'full' ? 'Full' : undefined;
    if (scanType === undefined) refuse(`the scan type must be quick or full (got "${echo(typeText, 20)}")`, s);
    return { kind: 'av-scan', machine: m.toLowerCase(), scanType, reason: reasonOf(s, args, true) };
  },
  approval: {
    kind: 'av-scan',
    async describe(op, mde) {
      // No platform is refused here: MDE decides (Windows, macOS, Linux) and its refusal is reported.
      const machine = await resolveMachine(mde, op.machine);
      const warning = avScanWarning(machine);
      return {
        operation: { ...op, machine: machine.id },
        summary: `${op.scanType} antivirus scan on ${machine.computerDnsName ?? machine.id} (${machine.osPlatform ?? 'unknown OS'}, ${machine.healthStatus ?? 'unknown health'})${warning ? `. Warning: ${warning}` : ''}`,
      };
    },
    facts: (op) => [
      { label: 'Machine id', value: op.machine },
      { label: 'Scan type', value: op.scanType },
    ],
    async execute(op, mde, context) {
      const comment = `${op.reason} (mde-chatops approval ${context.approvalId}: requested by ${context.requester}, approved by ${context.approver})`;
      const outcome = await mde.runAntivirusScan(op.machine, { Comment: comment.slice(0, 1000), ScanType: op.scanType });
      if (outcome.kind === 'started') return { done: false, action: outcome.action, text: `${op.scanType} scan requested: Pending.` };
      // Not a failure of the bot: the device is being scanned. The running scan belongs to
      // whoever started it, so it is not followed here; the message says which scan (its
      // real type, who started it), as MDE reported it.
      return { done: true, ok: true, text: `${outcome.message} No second scan was started.` };
    },
  },
});
