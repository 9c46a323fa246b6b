/** `scans create` (the form) and `scans create windows|network` (inline, no secrets). */
import { z } from 'zod';
import { SCAN_TYPES, TARGET_TYPES } from '../../mde/entities.js';
import { authParamsSchema } from '../../mde/requests.js';
import { defineCommand, flag, type CommandContext } from '../command.js';
import { describeCredentials, type AuditChanges, type AuditSpec } from '../audit.js';
import { agentOf, choose, interval, noPositionals, refuse, scanName, snmpAuth, str, targetsFor, windowsAuth, type Args } from '../args.js';
import { resolveAgent } from '../resolve.js';
import { definitionDetail } from '../views.js';
import { DEFINITION_FLAGS, KEY_VAULT_SECRET, KEY_VAULT_URL } from './flags.js';

const WINDOWS_DEPRECATED = 'Note: Microsoft deprecated Windows authenticated scans at the end of 2025; prefer Network scans where you can.';

export const createOperationSchema = z.strictObject({
  kind: z.literal('scans.create'),
  scanType: z.enum(SCAN_TYPES),
  name: z.string().min(1),
  targets: z.string().min(1),
  targetType: z.enum(TARGET_TYPES),
  intervalHours: z.number().int().positive(),
  /** A 40-hex machine id or a scanner agent's name, resolved when it runs. */
  agent: z.string().min(1),
  active: z.boolean(),
  /** Full MDE credentials. Secrets only arrive here from forms, never from chat text. */
  auth: authParamsSchema,
});
export type CreateOperation = z.output<typeof createOperationSchema>;

/** Opens the create form; `scanType` preselects the kind when given. */
const createFormSchema = z.strictObject({ kind: z.literal('scans.createForm'), scanType: z.enum(SCAN_TYPES).optional() });
const schema = z.discriminatedUnion('kind', [createFormSchema, createOperationSchema]);

async function run(op: z.output<typeof schema>, ctx: CommandContext) {
  if (op.kind === 'scans.createForm') return ctx.forms.openCreate(op.scanType);
  const agent = await resolveAgent(ctx.mde, op.agent);
  const created = await ctx.mde.createDefinition({
    scanType: op.scanType,
    scanName: op.name,
    isActive: op.active,
    target: op.targets,
    intervalInHours: op.intervalHours,
    targetType: op.targetType,
    scannerAgent: { machineId: agent.machineId },
    scanAuthenticationParams: op.auth,
  });
  return definitionDetail(created, `Created scan definition ${created.scanName ?? created.id}`, op.scanType === 'Windows' ? WINDOWS_DEPRECATED : undefined);
}

/** Every field of the new definition, credentials only as their kind and account. */
const CREATE_AUDIT: AuditSpec<z.output<typeof schema>> = {
  when: (op) => op.kind === 'scans.create',
  subjects: (op) => ({ definitions: op.kind === 'scans.create' ? [op.name] : [] }),
  changes(op): AuditChanges {
    if (op.kind !== 'scans.create') return {};
    return {
      scanType: { to: op.scanType },
      scanName: { to: op.name },
      target: { to: op.targets },
      targetType: { to: op.targetType },
      intervalInHours: { to: op.intervalHours },
      scannerAgent: { to: op.agent },
      isActive: { to: op.active },
      authentication: { to: describeCredentials(op.auth) ?? null },
    };
  },
};

function buildInline(scanType: 'Windows' | 'Network') {
  return (args: Args) => {
    const s = args.command;
    noPositionals(s, args, false);
    if (args.flags.size === 0) return { kind: 'scans.createForm', scanType };
    const missing = ['--name', '--target', '--interval', '--agent'].filter((f) => !args.flags.has(f));
    if (missing.length > 0) {
      refuse(`missing ${missing.join(', ')} (or give no flags at all to open the form: \`${s.name}\`)`, s);
    }
    const name = scanName(s, str(args, '--name') as string);
    const targetTypeText = str(args, '--target-type');
    const targetType = targetTypeText === undefined ? 'Ip' : choose(s, '--target-type', targetTypeText, ['Ip', 'Hostname'] as const);
    const targets = targetsFor(s, str(args, '--target') as string, targetType);
    const intervalHours = interval(s, str(args, '--interval') as string);
    const agent = agentOf(s, str(args, '--agent') as string);
    const auth = scanType === 'Windows' ? windowsAuth(s, args) : snmpAuth(s, args);
    return { kind: 'scans.create', scanType, name, targets, targetType, intervalHours, agent, active: !args.flags.has('--inactive'), auth };
  };
}

export const scansCreate = defineCommand({
  name: 'scans create',
  summary: 'Open the form to create a scan definition (the only way to enter passwords or community strings).',
  usage: 'scans create [windows|network]',
  flags: [],
  examples: ['scans create', 'scan create'],
  role: 'operator',
  suggested: ['personal'],
  schema,
  // Anything after `scans create` must be `windows` or `network` (the parser says so).
  build: () => ({ kind: 'scans.createForm' }),
  run,
  audit: CREATE_AUDIT,
});

export const scansCreateWindows = defineCommand({
  name: 'scans create windows',
  summary: 'Create a Windows scan with a gMSA account or a Key Vault reference (no flags: open the form).',
  usage:
    'scans create windows --name N --target T[,T…] --interval H --agent MACHINE [--target-type ip|hostname] [--inactive] ' +
    '[--auth-type kerberos|negotiate] (--username U --domain D | --key-vault-url URL --key-vault-secret NAME)',
  flags: [
    ...DEFINITION_FLAGS,
    flag('--auth-type', 'Windows authentication (default kerberos)', 'kerberos|negotiate'),
    flag('--username', 'the gMSA account name (no password: gMSA accounts have none)', 'U'),
    flag('--domain', 'the gMSA account domain', 'D'),
    KEY_VAULT_URL,
    KEY_VAULT_SECRET,
  ],
  examples: [
    'scans create windows --name "Servers" --target 10.0.0.5,10.0.0.6 --interval 24 --agent scanner-01 --username svc-scan$ --domain contoso.com',
    'scans create windows --name Desktops --target pc1.contoso.com --target-type hostname --interval 12 --agent scanner-01 --key-vault-url https://kv.vault.azure.net --key-vault-secret scan-cred',
  ],
  role: 'operator',
  schema,
  build: buildInline('Windows'),
  run,
  audit: CREATE_AUDIT,
});

export const scansCreateNetwork = defineCommand({
  name: 'scans create network',
  summary: 'Create a Network (SNMP) scan: NoAuthNoPriv or a Key Vault reference (no flags: open the form).',
  usage:
    'scans create network --name N --target T[,T…] --interval H --agent MACHINE [--target-type ip|hostname] [--inactive] ' +
    '[--snmp-type noauthnopriv|communitystring|authnopriv|authpriv] [--auth-protocol md5|sha1] [--priv-protocol des|3des|aes] ' +
    '(--username U | --key-vault-url URL --key-vault-secret NAME)',
  flags: [
    ...DEFINITION_FLAGS,
    flag('--snmp-type', 'SNMP authentication (default noauthnopriv); the others need a secret: use the form or Key Vault', 'noauthnopriv|communitystring|authnopriv|authpriv'),
    flag('--username', 'the SNMP user name', 'U'),
    flag('--auth-protocol', 'SNMP auth protocol (authnopriv, authpriv)', 'md5|sha1'),
    flag('--priv-protocol', 'SNMP privacy protocol (authpriv)', 'des|3des|aes'),
    KEY_VAULT_URL,
    KEY_VAULT_SECRET,
  ],
  examples: [
    'scans create network --name Switches --target 10.1.0.1,10.1.0.2 --interval 24 --agent scanner-01 --username snmp-reader',
    'scans create network --name Routers --target 10.2.0.1 --interval 6 --agent scanner-01 --snmp-type authpriv --key-vault-url https://kv.vault.azure.net --key-vault-secret snmp-cred',
  ],
  role: 'operator',
  schema,
  build: buildInline('Network'),
  run,
  audit: CREATE_AUDIT,
});
