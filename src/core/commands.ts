/**
 * The chat commands as one declarative table. It drives the parser's flag checks, the
 * help text, the Teams manifest `commandLists`, the Slack `usage_hint` and the README.
 * Data only: the parser (`parser.ts`) holds the logic.
 */
import { REQUIRED_ROLE, type OperationKind, type Role } from './operations.js';

export interface FlagSpec {
  /** With its dashes, lower case: `--name`. */
  readonly name: string;
  /** Whether the flag takes a value (`--name N`, `--name=N`) or stands alone (`--all`). */
  readonly takesValue: boolean;
  /** Placeholder or allowed values shown in usage, for flags that take a value. */
  readonly value?: string;
  readonly description: string;
}

export interface CommandSpec {
  /** The command words, lower case, space-separated: `scans list`. */
  readonly name: string;
  /** One line, at most 128 characters (Teams `commandLists` description). */
  readonly summary: string;
  /** The usage line shown with every error about this command. */
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  /** At least two. */
  readonly examples: readonly string[];
  /** The operation kinds this command can produce (the first is the main one). */
  readonly kinds: readonly OperationKind[];
  /** The least role needed (from `REQUIRED_ROLE`); `null`: anyone. */
  readonly role: Role | null;
  /** Whether a second person (an approver) must confirm it. */
  readonly approval: boolean;
}

/** Words accepted in place of a first command word. */
export const COMMAND_ALIASES: Readonly<Record<string, string>> = {
  scan: 'scans',
};

const flag = (name: string, description: string, value?: string): FlagSpec =>
  value === undefined ? { name, takesValue: false, description } : { name, takesValue: true, value, description };

const NAME = flag('--name', 'the scan name (quote it when it has spaces)', 'N');
const TARGET = flag('--target', 'targets, comma-separated: IP addresses or host names', 'T[,T…]');
const INTERVAL = flag('--interval', 'hours between scans (1–8760)', 'H');
const AGENT = flag('--agent', 'the scanner agent: its machine id (40 hex characters) or its name', 'MACHINE');
const TARGET_TYPE = flag('--target-type', 'what the targets are (default ip)', 'ip|hostname');
const INACTIVE = flag('--inactive', 'create the definition switched off');
const KEY_VAULT_URL = flag('--key-vault-url', 'Azure Key Vault URL holding the credentials (https)', 'URL');
const KEY_VAULT_SECRET = flag('--key-vault-secret', 'the name of the Key Vault secret (the name, never the secret itself)', 'NAME');
/** The flags every inline create takes, whatever the scan type. */
const DEFINITION_FLAGS = [NAME, TARGET, INTERVAL, AGENT, TARGET_TYPE, INACTIVE];
const REASON_REQUIRED = flag('--reason', 'why (required; shown to the approver and kept in the audit log)', '"text"');

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'help',
    summary: 'List the commands, or show one command with its flags and examples.',
    usage: 'help [command]',
    flags: [],
    examples: ['help', 'help scans create', 'help av-scan'],
    kinds: ['help'],
    role: REQUIRED_ROLE.help,
    approval: false,
  },
  {
    name: 'whoami',
    summary: 'Show your platform id and your roles (give the id to an admin to get access).',
    usage: 'whoami',
    flags: [],
    examples: ['whoami', 'WhoAmI'],
    kinds: ['whoami'],
    role: REQUIRED_ROLE.whoami,
    approval: false,
  },
  {
    name: 'scans list',
    summary: 'List authenticated-scan definitions, optionally filtered.',
    usage: 'scans list [--type windows|network] [--active|--inactive] [--search text] [--page N]',
    flags: [
      flag('--type', 'only Windows or only Network scans', 'windows|network'),
      flag('--active', 'only active definitions'),
      flag('--inactive', 'only inactive definitions'),
      flag('--search', 'text the name or targets contain', 'text'),
      flag('--page', 'page of results, from 1', 'N'),
    ],
    examples: ['scans list', 'scans list --type network --active', 'scans list --search "branch office" --page 2'],
    kinds: ['scans.list'],
    role: REQUIRED_ROLE['scans.list'],
    approval: false,
  },
  {
    name: 'scans show',
    summary: 'Show one scan definition and its latest scan, by id or exact name.',
    usage: 'scans show <id or "exact name">',
    flags: [],
    examples: ['scans show 289224fb-1686-472c-9751-5555960854ca', 'scans show "Weekly servers"'],
    kinds: ['scans.show'],
    role: REQUIRED_ROLE['scans.show'],
    approval: false,
  },
  {
    name: 'scans history',
    summary: 'Show the scan history of one or more scan definitions.',
    usage: 'scans history <id>...',
    flags: [],
    examples: ['scans history 289224fb-1686-472c-9751-5555960854ca', 'scans history 289224fb-1686-472c-9751-5555960854ca 60c4aa57-1290-4a92-9e2d-09f014792a92'],
    kinds: ['scans.history'],
    role: REQUIRED_ROLE['scans.history'],
    approval: false,
  },
  {
    name: 'scans create',
    summary: 'Open the form to create a scan definition (the only way to enter passwords or community strings).',
    usage: 'scans create [windows|network]',
    flags: [],
    examples: ['scans create', 'scans create network'],
    kinds: ['scans.createForm'],
    role: REQUIRED_ROLE['scans.createForm'],
    approval: false,
  },
  {
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
    kinds: ['scans.create', 'scans.createForm'],
    role: REQUIRED_ROLE['scans.create'],
    approval: false,
  },
  {
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
    kinds: ['scans.create', 'scans.createForm'],
    role: REQUIRED_ROLE['scans.create'],
    approval: false,
  },
  {
    name: 'scans update',
    summary: 'Change a scan definition (no flags: open the form).',
    usage: 'scans update <id> [--name N] [--target T[,T…]] [--interval H] [--target-type ip|hostname]',
    flags: [NAME, TARGET, INTERVAL, flag('--target-type', 'what the targets are', 'ip|hostname')],
    examples: ['scans update 289224fb-1686-472c-9751-5555960854ca --interval 12', 'scans update 289224fb-1686-472c-9751-5555960854ca --name "Servers (east)" --target 10.0.0.7'],
    kinds: ['scans.update', 'scans.updateForm'],
    role: REQUIRED_ROLE['scans.update'],
    approval: false,
  },
  {
    name: 'scans enable',
    summary: 'Switch a scan definition on.',
    usage: 'scans enable <id>',
    flags: [],
    examples: ['scans enable 289224fb-1686-472c-9751-5555960854ca', 'scan enable 60c4aa57-1290-4a92-9e2d-09f014792a92'],
    kinds: ['scans.update'],
    role: REQUIRED_ROLE['scans.update'],
    approval: false,
  },
  {
    name: 'scans disable',
    summary: 'Switch a scan definition off.',
    usage: 'scans disable <id>',
    flags: [],
    examples: ['scans disable 289224fb-1686-472c-9751-5555960854ca', 'scan disable 60c4aa57-1290-4a92-9e2d-09f014792a92'],
    kinds: ['scans.update'],
    role: REQUIRED_ROLE['scans.update'],
    approval: false,
  },
  {
    name: 'scans delete',
    summary: 'Request the deletion of scan definitions; an approver must confirm.',
    usage: 'scans delete <id>... --reason "text"',
    flags: [REASON_REQUIRED],
    examples: ['scans delete 289224fb-1686-472c-9751-5555960854ca --reason "replaced by the new subnet scan"', 'scans delete 289224fb-1686-472c-9751-5555960854ca 60c4aa57-1290-4a92-9e2d-09f014792a92 --reason "lab closed"'],
    kinds: ['scans.delete'],
    role: REQUIRED_ROLE['scans.delete'],
    approval: true,
  },
  {
    name: 'av-scan',
    summary: 'Request an antivirus scan on a device; an approver must confirm.',
    usage: 'av-scan <machine id or DNS name> quick|full --reason "text"',
    flags: [REASON_REQUIRED],
    examples: ['av-scan pc-042.contoso.com quick --reason "suspicious download reported"', 'av-scan 1e5bc9d7e413ddd7902c2932e418702b84d0cc07 full --reason "incident 4711"'],
    kinds: ['av-scan'],
    role: REQUIRED_ROLE['av-scan'],
    approval: true,
  },
  {
    name: 'approvals',
    summary: 'List pending approval requests (--all: recent ones too, with their outcome).',
    usage: 'approvals [--all]',
    flags: [flag('--all', 'also decided, expired and finished requests')],
    examples: ['approvals', 'approvals --all'],
    kinds: ['approvals.list'],
    role: REQUIRED_ROLE['approvals.list'],
    approval: false,
  },
  {
    name: 'approvals here',
    summary: 'Send approval cards to this conversation (Teams; Slack uses SLACK_APPROVAL_CHANNEL).',
    usage: 'approvals here',
    flags: [],
    examples: ['approvals here', 'Approvals Here'],
    kinds: ['approvals.here'],
    role: REQUIRED_ROLE['approvals.here'],
    approval: false,
  },
  {
    name: 'approve',
    summary: 'Approve a pending request (the text twin of the Approve button). Not your own.',
    usage: 'approve <approval id>',
    flags: [],
    examples: ['approve A7K3QZP', 'approve a7k3qzp'],
    kinds: ['approvals.decide'],
    role: REQUIRED_ROLE['approvals.decide'],
    approval: false,
  },
  {
    name: 'reject',
    summary: 'Reject a pending request, optionally saying why.',
    usage: 'reject <approval id> [--reason "text"]',
    flags: [flag('--reason', 'why (shown on the card and kept in the audit log)', '"text"')],
    examples: ['reject A7K3QZP', 'reject A7K3QZP --reason "wrong device"'],
    kinds: ['approvals.decide'],
    role: REQUIRED_ROLE['approvals.decide'],
    approval: false,
  },
];

/** The command entry by its exact name. */
export function commandByName(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
