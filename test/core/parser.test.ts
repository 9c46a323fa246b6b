import { describe, expect, it } from 'vitest';
import { COMMANDS, REGISTRY } from '../../src/core/commands/index.js';
import { editDistance, helpText as registryHelp } from '../../src/core/help.js';
import { containsSecretFlag, formatParseError, parseCommand, type ParseError } from '../../src/core/parser.js';
import { normalizeChatText, tokenize } from '../../src/core/tokenize.js';
import { SNMP_AUTH_ODATA, WINDOWS_AUTH_ODATA } from '../../src/mde/requests.js';

const ID1 = '289224fb-1686-472c-9751-5555960854ca';
const ID2 = '60c4aa57-1290-4a92-9e2d-09f014792a92';
const MACHINE = '1E5BC9D7E413DDD7902C2932E418702B84D0CC07';
const COMMON = '--name "Weekly servers" --target 10.0.0.5,10.0.0.6 --interval 24 --agent scanner-01';
const KV = '--key-vault-url https://kv.vault.azure.net --key-vault-secret scan-cred';

const windowsOp = (auth: Record<string, unknown>, extra: Partial<Record<string, unknown>> = {}) => ({
  kind: 'scans.create',
  scanType: 'Windows',
  name: 'Weekly servers',
  targets: '10.0.0.5,10.0.0.6',
  targetType: 'Ip',
  intervalHours: 24,
  agent: 'scanner-01',
  active: true,
  auth: { '@odata.type': WINDOWS_AUTH_ODATA, ...auth },
  ...extra,
});
const networkOp = (auth: Record<string, unknown>, extra: Partial<Record<string, unknown>> = {}) => ({
  ...windowsOp({}, extra),
  scanType: 'Network',
  auth: { '@odata.type': SNMP_AUTH_ODATA, ...auth },
});

const GOOD: Array<[string, unknown]> = [
  // help, whoami
  ['', { kind: 'help' }],
  ['   ', { kind: 'help' }],
  ['help', { kind: 'help' }],
  ['HELP', { kind: 'help' }],
  ['help scans', { kind: 'help', command: 'scans' }],
  ['help scan list', { kind: 'help', command: 'scans list' }],
  ['help scans create windows', { kind: 'help', command: 'scans create windows' }],
  ['help av-scan', { kind: 'help', command: 'av-scan' }],
  ['whoami', { kind: 'whoami' }],
  ['WhoAmI', { kind: 'whoami' }],
  // scans list
  ['scans list', { kind: 'scans.list', page: 1 }],
  ['Scans LIST', { kind: 'scans.list', page: 1 }],
  ['scan list', { kind: 'scans.list', page: 1 }],
  ['scans list --type windows', { kind: 'scans.list', scanType: 'Windows', page: 1 }],
  ['scans list --type=Network --active', { kind: 'scans.list', scanType: 'Network', active: true, page: 1 }],
  ['scans list --inactive --page 3', { kind: 'scans.list', active: false, page: 3 }],
  ['scans list --search "branch office" --page=2', { kind: 'scans.list', search: 'branch office', page: 2 }],
  ['scans list --SEARCH “smart quotes”', { kind: 'scans.list', search: 'smart quotes', page: 1 }],
  ['scans list —type network', { kind: 'scans.list', scanType: 'Network', page: 1 }],
  ['scans list --search "--active"', { kind: 'scans.list', search: '--active', page: 1 }],
  // scans show / history
  [`scans show ${ID1}`, { kind: 'scans.show', ref: ID1 }],
  ['scans show "Weekly servers"', { kind: 'scans.show', ref: 'Weekly servers' }],
  ["scans show 'Weekly servers'", { kind: 'scans.show', ref: 'Weekly servers' }],
  ['scans show ‘Weekly servers’', { kind: 'scans.show', ref: 'Weekly servers' }],
  ['scans show Weekly\\ servers', { kind: 'scans.show', ref: 'Weekly servers' }],
  ['scans show "Bob\'s scan"', { kind: 'scans.show', ref: "Bob's scan" }],
  ['scans show "say \\"hi\\""', { kind: 'scans.show', ref: 'say "hi"' }],
  ['scans show Tom&amp;Jerry', { kind: 'scans.show', ref: 'Tom&Jerry' }],
  ['scans&nbsp;show&nbsp;x', { kind: 'scans.show', ref: 'x' }],
  [`scans history ${ID1}`, { kind: 'scans.history', ids: [ID1] }],
  [`scan history ${ID1} ${ID2}`, { kind: 'scans.history', ids: [ID1, ID2] }],
  // scans create: forms
  ['scans create', { kind: 'scans.createForm' }],
  ['scans create windows', { kind: 'scans.createForm', scanType: 'Windows' }],
  ['scans create Network', { kind: 'scans.createForm', scanType: 'Network' }],
  // scans create windows
  [`scans create windows ${COMMON} --username svc-scan$ --domain contoso.com`, windowsOp({ type: 'Kerberos', username: 'svc-scan$', domain: 'contoso.com', isGmsaUser: true })],
  [`scans create windows ${COMMON} --auth-type negotiate --username=svc --domain=contoso.com`, windowsOp({ type: 'Negotiate', username: 'svc', domain: 'contoso.com', isGmsaUser: true })],
  [`scans create windows ${COMMON} ${KV}`, windowsOp({ type: 'Kerberos', keyVaultUrl: 'https://kv.vault.azure.net', keyVaultSecretName: 'scan-cred' })],
  [
    `scans create windows --name Desktops --target "pc1.contoso.com, pc2.contoso.com" --target-type hostname --interval 12h --agent ${MACHINE} --inactive --username svc --domain contoso.com`,
    windowsOp(
      { type: 'Kerberos', username: 'svc', domain: 'contoso.com', isGmsaUser: true },
      { name: 'Desktops', targets: 'pc1.contoso.com,pc2.contoso.com', targetType: 'Hostname', intervalHours: 12, agent: MACHINE.toLowerCase(), active: false },
    ),
  ],
  // A typed https URL arrives from Slack as <https://…> (no label) and stays the URL.
  [`scans create windows ${COMMON} --key-vault-url <https://kv.vault.azure.net> --key-vault-secret scan-cred`, windowsOp({ type: 'Kerberos', keyVaultUrl: 'https://kv.vault.azure.net', keyVaultSecretName: 'scan-cred' })],
  [`scans create windows ${COMMON} --key-vault-url <https://kv.vault.azure.net|https://kv.vault.azure.net> --key-vault-secret scan-cred`, windowsOp({ type: 'Kerberos', keyVaultUrl: 'https://kv.vault.azure.net', keyVaultSecretName: 'scan-cred' })],
  // scans create network
  [`scans create network ${COMMON} --username snmp-reader`, networkOp({ type: 'NoAuthNoPriv', username: 'snmp-reader' })],
  [`scans create network ${COMMON} --snmp-type NoAuthNoPriv --username u`, networkOp({ type: 'NoAuthNoPriv', username: 'u' })],
  [`scans create network ${COMMON} --snmp-type authpriv ${KV}`, networkOp({ type: 'AuthPriv', keyVaultUrl: 'https://kv.vault.azure.net', keyVaultSecretName: 'scan-cred' })],
  [`scans create network ${COMMON} --snmp-type communitystring ${KV}`, networkOp({ type: 'CommunityString', keyVaultUrl: 'https://kv.vault.azure.net', keyVaultSecretName: 'scan-cred' })],
  // scans update / enable / disable
  [`scans update ${ID1}`, { kind: 'scans.updateForm', id: ID1 }],
  [`scans update ${ID1} --interval 12`, { kind: 'scans.update', id: ID1, intervalHours: 12 }],
  [`scans update ${ID1} --name "Servers (east)" --target 10.0.0.7`, { kind: 'scans.update', id: ID1, name: 'Servers (east)', targets: '10.0.0.7' }],
  [`scans update ${ID1} --target host-a,host-b --target-type hostname`, { kind: 'scans.update', id: ID1, targets: 'host-a,host-b', targetType: 'Hostname' }],
  [`scans update --interval=6 ${ID1}`, { kind: 'scans.update', id: ID1, intervalHours: 6 }],
  [`scans enable ${ID1}`, { kind: 'scans.update', id: ID1, active: true }],
  [`scan disable ${ID1}`, { kind: 'scans.update', id: ID1, active: false }],
  // scans delete
  [`scans delete ${ID1} --reason "replaced"`, { kind: 'scans.delete', ids: [ID1], reason: 'replaced' }],
  [`scans delete --reason=lab ${ID1} ${ID2}`, { kind: 'scans.delete', ids: [ID1, ID2], reason: 'lab' }],
  [`SCANS DELETE ${ID1} --reason “it’s old”`, { kind: 'scans.delete', ids: [ID1], reason: 'it’s old' }],
  // av-scan
  ['av-scan pc-042.contoso.com quick --reason "suspicious download"', { kind: 'av-scan', machine: 'pc-042.contoso.com', scanType: 'Quick', reason: 'suspicious download' }],
  [`AV-SCAN ${MACHINE} FULL --reason incident`, { kind: 'av-scan', machine: MACHINE.toLowerCase(), scanType: 'Full', reason: 'incident' }],
  ['av-scan PC-1 full --reason "  padded  "', { kind: 'av-scan', machine: 'pc-1', scanType: 'Full', reason: 'padded' }],
  // Slack with link escaping on: a typed host name arrives as link markup; the label is what was typed.
  ['av-scan <http://ws-01.contoso.com|ws-01.contoso.com> quick --reason x', { kind: 'av-scan', machine: 'ws-01.contoso.com', scanType: 'Quick', reason: 'x' }],
  ['av-scan <http://ws-01.contoso.com> full --reason x', { kind: 'av-scan', machine: 'ws-01.contoso.com', scanType: 'Full', reason: 'x' }],
  ['av-scan pc-1,PC-2,pc-1 quick --reason x', { kind: 'av-scan', select: { by: 'names', names: ['pc-1', 'pc-2'] }, scanType: 'Quick', reason: 'x' }],
  ['av-scan pc-1, quick --reason x', { kind: 'av-scan', machine: 'pc-1', scanType: 'Quick', reason: 'x' }],
  ['av-scan --tag finance quick --reason x', { kind: 'av-scan', select: { by: 'tag', tag: 'finance', startsWith: false }, scanType: 'Quick', reason: 'x' }],
  ['av-scan --tag-starts-with fin FULL --reason x', { kind: 'av-scan', select: { by: 'tag', tag: 'fin', startsWith: true }, scanType: 'Full', reason: 'x' }],
  ['av-scan --group "Finance devices" quick --reason x', { kind: 'av-scan', select: { by: 'group', group: 'Finance devices' }, scanType: 'Quick', reason: 'x' }],
  ['av-scan cancel A7K2M9Q', { kind: 'av-scan.cancel', ref: 'A7K2M9Q' }],
  ['av-scan cancel 2e9da30d-27f6-4208-81f2-9cd3d67893ba', { kind: 'av-scan.cancel', ref: '2e9da30d-27f6-4208-81f2-9cd3d67893ba' }],
  [`scans create windows --name N --target <http://pc1.contoso.com|pc1.contoso.com>,<http://pc2.contoso.com|pc2.contoso.com> --target-type hostname --interval 12 --agent <http://scanner-01.contoso.com|scanner-01.contoso.com> --username svc --domain <http://contoso.com|contoso.com>`,
    windowsOp({ type: 'Kerberos', username: 'svc', domain: 'contoso.com', isGmsaUser: true }, { name: 'N', targets: 'pc1.contoso.com,pc2.contoso.com', targetType: 'Hostname', intervalHours: 12, agent: 'scanner-01.contoso.com' })],
  [`scans show <http://core.example|core.example>`, { kind: 'scans.show', ref: 'core.example' }],
  ['scans list --failing', { kind: 'scans.list', failing: true, page: 1 }],
  ['scans list --failing --type network --page 2', { kind: 'scans.list', failing: true, scanType: 'Network', page: 2 }],
  ['scans watch', { kind: 'scans.watch' }],
  ['scans watch here', { kind: 'scans.watch.here' }],
  ['Scan Watch Off', { kind: 'scans.watch.off' }],
  // approvals
  ['agents list', { kind: 'agents.list' }],
  ['Agent List', { kind: 'agents.list' }],
  ['approvals', { kind: 'approvals.list', all: false, page: 1 }],
  ['approvals --all --page 2', { kind: 'approvals.list', all: true, page: 2 }],
  ['approvals --all', { kind: 'approvals.list', all: true, page: 1 }],
  ['approvals here', { kind: 'approvals.here' }],
  // audit
  ['audit', { kind: 'audit.list', since: '7d', page: 1 }],
  ['audit --since 24h --actor slack:U0APP --definition "Core switches" --device pc-1 --page 2', { kind: 'audit.list', since: '24h', actor: 'slack:U0APP', definition: 'Core switches', device: 'pc-1', page: 2 }],
  ['audit export --since 30d --format CSV', { kind: 'audit.export', since: '30d', format: 'csv' }],
  ['audit export', { kind: 'audit.export', since: '7d', format: 'jsonl' }],
  ['Approvals Here', { kind: 'approvals.here' }],
  ['approve a1b2c3d4', { kind: 'approvals.decide', id: 'a1b2c3d4', decision: 'approve' }],
  ['reject a1b2c3d4', { kind: 'approvals.decide', id: 'a1b2c3d4', decision: 'reject' }],
  ['reject a1b2c3d4 --reason "wrong device"', { kind: 'approvals.decide', id: 'a1b2c3d4', decision: 'reject', reason: 'wrong device' }],
  ['withdraw a1b2c3d4', { kind: 'approvals.withdraw', id: 'a1b2c3d4' }],
  ['approvals ack a1b2c3d4', { kind: 'approvals.ack', id: 'a1b2c3d4' }],
  ['approvals --unreviewed', { kind: 'approvals.list', all: false, unreviewed: true, page: 1 }],
  ['withdraw A1B2C3D --reason "wrong device"', { kind: 'approvals.withdraw', id: 'A1B2C3D', reason: 'wrong device' }],
  ['policy show', { kind: 'policy.show' }],
  ['policy check "Adam Approver" av-scan pc-042 full', { kind: 'policy.check', user: 'Adam Approver', words: ['av-scan', 'pc-042', 'full'] }],
];

describe('parseCommand: good input', () => {
  it.each(GOOD)('%s', (input, expected) => {
    const result = parseCommand(input);
    if (!result.ok) expect.fail(formatParseError(result.error));
    expect(result.operation).toEqual(expected);
    expect(result.command.schema.safeParse(result.operation).success).toBe(true);
  });

  it('covers every command in the registry', () => {
    for (const c of COMMANDS) {
      expect(GOOD.some(([input]) => input.toLowerCase().replace(/^scan /, 'scans ').startsWith(c.name))).toBe(true);
    }
  });
});

/** [input, command whose usage must be shown, substrings of the message] */
const BAD: Array<[string, string, string[]]> = [
  // unknown commands and suggestions
  ['scnas list', 'scans list', ['unknown command "scnas"', 'did you mean `scans list`']],
  ['hlep', 'help', ['did you mean `help`']],
  ['whoiam', 'whoami', ['did you mean `whoami`']],
  ['avscan x quick --reason r', 'av-scan', ['did you mean `av-scan`']],
  ['scans lsit', 'scans list', ['unknown scans command "lsit"', 'did you mean `scans list`']],
  ['scans delte x --reason r', 'scans delete', ['did you mean `scans delete`']],
  ['frobnicate', 'help', ['unknown command "frobnicate"', 'Try `help`']],
  ['delete x --reason r', 'scans delete', ['did you mean `scans delete`']],
  ['scans', 'scans', ['say what to do with scans', 'list, show']],
  ['help frobnicate', 'help', ['there is no command "frobnicate"']],
  ['"scans" list', 'scans list', ['without quotes']],
  ['scans "delete" x --reason r', 'scans delete', ['without quotes']],
  // flags
  ['scans list --foo', 'scans list', ['unknown flag --foo', 'valid flags: --type windows|network, --active, --inactive, --search text, --failing, --page N']],
  ['scans list -a', 'scans list', ['unknown flag -a', 'two dashes']],
  ['scans list --type', 'scans list', ['--type needs a value']],
  ['scans list --type --active', 'scans list', ['--type needs a value']],
  ['scans list --search=', 'scans list', ['--search needs a value']],
  ['scans list --active --active', 'scans list', ['--active is given twice']],
  ['scans list --type windows --type=network', 'scans list', ['--type is given twice']],
  ['scans list --active=yes', 'scans list', ['--active takes no value']],
  ['scans list --active --inactive', 'scans list', ['--active or --inactive, not both']],
  ['scans list --type linux', 'scans list', ['--type must be one of windows, network', '"linux"']],
  ['scans list --page 0', 'scans list', ['--page must be a page number']],
  ['scans list --page two', 'scans list', ['--page must be a page number']],
  ['scans list extra', 'scans list', ['unexpected argument "extra"']],
  ['whoami now', 'whoami', ['unexpected argument "now"']],
  ['whoami --all', 'whoami', ['`whoami` takes no flags']],
  ['approvals here --all', 'approvals here', ['takes no flags']],
  ['approvals pending', 'approvals', ['unexpected argument "pending"']],
  // quoting
  ['scans show "Weekly servers', 'scans show', ['unterminated quote', 'position 12']],
  ['scans show “Weekly servers', 'scans show', ['unterminated quote']],
  ['whoami\u0007', 'help', ['invisible control character (U+0007)']],
  // scans show / history
  ['scans show', 'scans show', ['give the id or the exact name']],
  ['scans show Weekly servers', 'scans show', ['takes one id or name', 'quotes']],
  ['scans history', 'scans history', ['give at least one scan definition id']],
  [`scans history ${ID1} ${ID1}`, 'scans history', ['is given twice']],
  ['scans history a/b', 'scans history', ['"a/b" is not a scan definition id']],
  // scans create
  ['scans create --name x', 'scans create', ['say which kind first', '`scans create windows …`']],
  ['scans create linux', 'scans create', ['give windows or network', '"linux"']],
  ['scans create windows --name x', 'scans create windows', ['missing --target, --interval, --agent', 'no flags at all to open the form']],
  [`scans create windows ${COMMON}`, 'scans create windows', ['Windows scans need credentials', '--username and --domain', '--key-vault-url']],
  [`scans create windows ${COMMON} --username svc`, 'scans create windows', ['a gMSA account needs --domain']],
  [`scans create windows ${COMMON} --username svc --domain c.com ${KV}`, 'scans create windows', ['not both']],
  [`scans create windows ${COMMON} --key-vault-url https://kv.vault.azure.net`, 'scans create windows', ['needs --key-vault-secret']],
  [`scans create windows ${COMMON} --key-vault-url http://kv.example --key-vault-secret s`, 'scans create windows', ['--key-vault-url: the Key Vault URL must be an https URL']],
  [`scans create windows ${COMMON} --auth-type ntlm --username s --domain d`, 'scans create windows', ['--auth-type must be one of kerberos, negotiate']],
  [`scans create windows ${COMMON} --username s --domain d --snmp-type authpriv`, 'scans create windows', ['unknown flag --snmp-type', '--auth-type']],
  [`scans create windows ${COMMON} --username s --domain d extra`, 'scans create windows', ['unexpected argument', 'every value needs its flag']],
  [`scans create network ${COMMON}`, 'scans create network', ['noauthnopriv needs --username']],
  [`scans create network ${COMMON} --snmp-type communitystring`, 'scans create network', ['needs a secret', 'secrets are never accepted in chat', '`scans create network`']],
  [`scans create network ${COMMON} --snmp-type authnopriv --username u --auth-protocol sha1`, 'scans create network', ['needs a secret']],
  [`scans create network ${COMMON} --snmp-type authpriv --username u`, 'scans create network', ['needs a secret', '--key-vault-url']],
  [`scans create network ${COMMON} --username u --auth-protocol md5`, 'scans create network', ['--auth-protocol applies only to --snmp-type authnopriv or authpriv']],
  [`scans create network ${COMMON} --snmp-type authnopriv --priv-protocol aes ${KV}`, 'scans create network', ['--priv-protocol applies only to --snmp-type authpriv']],
  [`scans create network ${COMMON} --snmp-type authpriv --auth-protocol md4 ${KV}`, 'scans create network', ['--auth-protocol must be one of md5, sha1']],
  [`scans create network ${COMMON} --username u ${KV}`, 'scans create network', ['leave out --username']],
  [`scans create network ${COMMON} --snmp-type v3 --username u`, 'scans create network', ['--snmp-type must be one of communitystring, noauthnopriv, authnopriv, authpriv']],
  ['scans create network --name x --target 10.0.0.1,,10.0.0.2 --interval 24 --agent a --username u', 'scans create network', ['--target: the target list has an empty entry']],
  ['scans create network --name x --target 10.0.0.1,web01 --interval 24 --agent a --username u', 'scans create network', ['--target: "web01" is not a valid IPv4 or IPv6 address']],
  ['scans create network --name x --target a,b,c --interval 24 --agent a --username u', 'scans create network', ['(and 2 more problems)']],
  ['scans create network --name x --target 10.0.0.1 --target-type hostname --interval 24 --agent a --username u', 'scans create network', ['is not a valid host name']],
  ['scans create network --name x --target 10.0.0.1 --target-type fqdn --interval 24 --agent a --username u', 'scans create network', ['--target-type must be one of ip, hostname']],
  ['scans create network --name x --target 10.0.0.1 --interval 0 --agent a --username u', 'scans create network', ['--interval: the interval must be at least 1 hour']],
  ['scans create network --name x --target 10.0.0.1 --interval 9000 --agent a --username u', 'scans create network', ['at most 8760 hours']],
  ['scans create network --name x --target 10.0.0.1 --interval daily --agent a --username u', 'scans create network', ['--interval must be a whole number of hours']],
  ['scans create network --name "  " --target 10.0.0.1 --interval 1 --agent a --username u', 'scans create network', ['--name needs a value']],
  [`scans create network --name ${'n'.repeat(300)} --target 10.0.0.1 --interval 1 --agent a --username u`, 'scans create network', ['--name: the scan name must be at most 256 characters']],
  // scans update / enable / disable
  ['scans update', 'scans update', ['give the scan definition id']],
  [`scans update ${ID1} ${ID2}`, 'scans update', ['takes one scan definition id']],
  [`scans update ${ID1} --target 10.0.0.1 --target-type hostname`, 'scans update', ['is not a valid host name']],
  [`scans update ${ID1} --target "bad target!"`, 'scans update', ['neither an IP address nor a host name']],
  [`scans update ${ID1} --agent x`, 'scans update', ['unknown flag --agent']],
  ['scans enable', 'scans enable', ['give the scan definition id']],
  [`scans disable ${ID1} --reason x`, 'scans disable', ['takes no flags']],
  // scans delete
  [`scans delete ${ID1}`, 'scans delete', ['needs a reason', '--reason']],
  [`scans delete ${ID1} --reason`, 'scans delete', ['--reason needs a value']],
  [`scans delete ${ID1} --reason ""`, 'scans delete', ['--reason needs a value']],
  [`scans delete ${ID1} --reason "${'r'.repeat(501)}"`, 'scans delete', ['at most 500 characters']],
  ['scans delete --reason "why"', 'scans delete', ['give at least one scan definition id']],
  [`scans delete ${Array.from({ length: 101 }, (_, i) => `id${i}`).join(' ')} --reason r`, 'scans delete', ['at most 100 scan definitions']],
  // av-scan
  ['av-scan', 'av-scan', ['give the machine']],
  ['av-scan pc-1 --reason r', 'av-scan', ['give the scan type: quick or full']],
  ['av-scan pc-1 deep --reason r', 'av-scan', ['must be quick or full', '"deep"']],
  ['av-scan pc-1 quick', 'av-scan', ['needs a reason']],
  ['av-scan pc-1 quick now --reason r', 'av-scan', ['unexpected argument "now"']],
  ['av-scan "not a host!" quick --reason r', 'av-scan', ['neither a machine id', 'nor a DNS name']],
  ['av-scan --tag a --group b quick --reason r', 'av-scan', ['give one of --tag, --tag-starts-with or --group']],
  ['av-scan --tag a quick now --reason r', 'av-scan', ['with --tag or --group give only the scan type', '"now"']],
  ['av-scan --group g --reason r', 'av-scan', ['give the scan type']],
  ['av-scan pc-1,"bad host!" quick --reason r', 'av-scan', ['neither a machine id']],
  ['av-scan cancel', 'av-scan cancel', ['give the approval request id']],
  ['av-scan cancel A1 A2', 'av-scan cancel', ['takes one id', '"A2"']],
  // approvals
  ['approve', 'approve', ['give the approval id']],
  ['approve a b', 'approve', ['takes one approval id']],
  ['approve "a b"', 'approve', ['is not an approval id']],
  ['approve a1 --reason x', 'approve', ['takes no flags']],
  ['reject a1 --reason', 'reject', ['--reason needs a value']],
];

function expectError(input: string): ParseError {
  const result = parseCommand(input);
  if (result.ok) expect.fail(`accepted: ${JSON.stringify(result.operation)}`);
  return result.error;
}

describe('parseCommand: errors', () => {
  it.each(BAD)('%s', (input, command, parts) => {
    const error = expectError(input);
    for (const part of parts) expect(error.message).toContain(part);
    const usage = REGISTRY.byName(command)?.usage;
    if (usage !== undefined) {
      expect(error.usage).toBe(usage);
      expect(error.command).toBe(command);
    } else {
      expect(error.usage).toMatch(new RegExp(`^${command} `));
    }
    expect(formatParseError(error)).toContain(`Usage: ${error.usage}`);
  });

  it('gives the suggestion as data', () => {
    expect(expectError('scnas list').suggestion).toBe('scans list');
    expect(expectError('help scnas').suggestion).toBe('help scans');
    expect(expectError('scans show a b c').suggestion).toBe('scans show "a b c"');
    expect(expectError('frobnicate').suggestion).toBeUndefined();
  });

  it('echoes at most ~100 characters of input and no control characters', () => {
    const long = 'x'.repeat(5000);
    for (const input of [long, `scans show ${long} y`, `scans list --${long}`, `scans list --type ${long}`, `av-scan ${long}! quick --reason r`, `scans history ${long}`, `scans create network --name x --target ${long} --interval 1 --agent a --username u`]) {
      const error = expectError(input);
      expect(error.message.match(/x+/g)?.every((run) => run.length <= 100) ?? true).toBe(true);
      expect(error.message.length).toBeLessThan(400);
    }
    for (const input of ['scans show "a\u0000b"', 'scans list --type "\u001b[31mred"', 'frob\u2028nicate', 'scans list --search a --type "\u009bx"']) {
      const error = expectError(input);
      expect(error.message).not.toMatch(/[\p{Cc}\u2028\u2029]/u);
    }
  });

  it('refuses input longer than the limit without reading it', () => {
    expect(expectError(`scans show ${'a'.repeat(9000)}`).message).toContain('too long');
  });
});

describe('secrets', () => {
  const MARKER = 'Sup3rS3cretMarker';
  const SECRET_INPUTS = [
    `scans create network --name x --target 10.0.0.1 --interval 1 --agent a --snmp-type authpriv --username u --auth-password ${MARKER}`,
    `scans create network ${COMMON} --priv-password=${MARKER}`,
    `scans create network ${COMMON} --community ${MARKER}`,
    `scans create network ${COMMON} --community-string "${MARKER}"`,
    `scans create windows ${COMMON} --username u --domain d --password ${MARKER}`,
    `scans create windows ${COMMON} --PASSWORD=${MARKER}`,
    `scans create windows ${COMMON} —password ${MARKER}`,
    `scans create windows ${COMMON} --secret ${MARKER}`,
    `scans create windows ${COMMON} --client-secret ${MARKER}`,
    `scans create windows ${COMMON} --key ${MARKER}`,
    `scans create windows ${COMMON} --pa"ss"word ${MARKER}`,
    `scans show "--password" ${MARKER}`,
    `scans create windows --password "${MARKER}`, // unterminated quote too: the secret check comes first
    `scnas craete --password ${MARKER}`, // unknown command too
    `whoami --password=${MARKER}`,
  ];
  it.each(SECRET_INPUTS)('%s', (input) => {
    const error = expectError(input);
    expect(error.message).toMatch(/^secrets are never accepted in chat: (--[a-z-]+|a secret flag) was refused, and its value was not stored or echoed\. It is now in this chat's history, so rotate that secret\. Enter secrets in the form: `scans create`$/);
    expect(error.usage).toBeUndefined();
    expect(JSON.stringify(error)).not.toContain(MARKER);
  });

  it('the Key Vault secret name flag is not a secret', () => {
    expect(containsSecretFlag('--key-vault-secret scan-cred')).toBe(false);
    expect(containsSecretFlag('--key-vault-url https://x')).toBe(false);
    expect(containsSecretFlag('--reason "rotate the community string"')).toBe(false);
    expect(containsSecretFlag('--snmp-type communitystring')).toBe(false);
    expect(containsSecretFlag('--snmp-community x')).toBe(true);
  });
});

describe('tokenize', () => {
  const words = (text: string) => {
    const r = tokenize(normalizeChatText(text));
    if (!r.ok) expect.fail(r.message);
    return r.tokens.map((t) => t.text);
  };
  it('splits like a shell, with chat-client quirks', () => {
    expect(words('a  b\tc\nd')).toEqual(['a', 'b', 'c', 'd']);
    expect(words('--name="a b" c')).toEqual(['--name=a b', 'c']);
    expect(words('"a"b \'c d\'')).toEqual(['ab', 'c d']);
    expect(words('“a b” ‘c d’ „e f“')).toEqual(['a b', 'c d', 'e f']);
    expect(words("it's it’s")).toEqual(["it's", 'it’s']);
    expect(words('CONTOSO\\svc a\\ b "x\\"y" \\"')).toEqual(['CONTOSO\\svc', 'a b', 'x"y', '"']);
    expect(words('"" x')).toEqual(['', 'x']);
    expect(words('a&nbsp;b\u00A0c &lt;d&gt; &amp;lt;')).toEqual(['a', 'b', 'c', '<d>', '&lt;']);
    expect(words('\u200Bscans\uFEFF list')).toEqual(['scans', 'list']);
    // Slack link markup: the label is what was typed; <http://host> is the host; other links stay.
    expect(words('<https://kv.vault.azure.net|kv.vault.azure.net> <https://x.y/z>')).toEqual(['kv.vault.azure.net', 'https://x.y/z']);
    expect(words('<http://ws-01.contoso.com|ws-01.contoso.com> <http://ws-02/> <mailto:a@contoso.com|a@contoso.com> <mailto:b@contoso.com>')).toEqual(['ws-01.contoso.com', 'ws-02', 'a@contoso.com', 'b@contoso.com']);
    expect(words('--name=<http://a.b|a.b>x "<http://c.d|c.d> e"')).toEqual(['--name=a.bx', 'c.d e']);
  });
  it('marks quoted and escaped words as not bare (never flags)', () => {
    const r = tokenize('--a "--b" \\"--c \'--d\' x\\--e');
    expect(r.ok && r.tokens.map((t) => [t.text, t.bare])).toEqual([
      ['--a', true],
      ['--b', false],
      ['"--c', false],
      ['--d', false],
      ['x\\--e', true],
    ]);
  });
  it('reports an unterminated quote', () => {
    const r = tokenize('say "hello');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain('unterminated quote');
  });
});

const helpText = (command?: string) => registryHelp(REGISTRY, command);

describe('helpText and the command registry', () => {
  it('lists every command without a command, one group or command with one', () => {
    const all = helpText();
    expect(all.commands).toEqual(COMMANDS);
    expect(all.detailed).toBe(false);
    expect(helpText('scans create').commands.map((c) => c.name)).toEqual(['scans create', 'scans create windows', 'scans create network']);
    expect(helpText('scan list').commands.map((c) => c.name)).toEqual(['scans list']);
    expect(helpText('av-scan').detailed).toBe(true);
  });
  it('suggests the closest command for an unknown one', () => {
    const h = helpText('scans lst');
    expect(h.error).toContain('there is no command "scans lst"');
    expect(h.suggestion).toBe('scans list');
  });
  it('every help command the parser accepts is known to helpText', () => {
    for (const c of COMMANDS) {
      const r = parseCommand(`help ${c.name}`);
      expect(r.ok && r.operation).toEqual({ kind: 'help', command: c.name });
      expect(helpText(c.name).commands[0]?.name).toBe(c.name);
    }
  });
  it('registry entries are complete, and each example parses to its own command', () => {
    for (const c of COMMANDS) {
      expect(c.summary.length).toBeLessThanOrEqual(128);
      expect(c.examples.length).toBeGreaterThanOrEqual(2);
      expect(c.usage.startsWith(c.name)).toBe(true);
      for (const f of c.flags) {
        expect(f.name).toMatch(/^--[a-z-]+$/);
        expect(c.usage).toContain(f.name);
      }
      for (const example of c.examples) {
        const r = parseCommand(example);
        if (!r.ok) expect.fail(`${example}: ${formatParseError(r.error)}`);
        expect(r.command).toBe(c);
      }
    }
  });
  it('edit distance counts a transposition as one edit', () => {
    expect(editDistance('scnas', 'scans')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('--break-glass', () => {
  it('is taken off the operation of a command that needs approval, and refused on any other', () => {
    const parsed = parseCommand('av-scan pc-042.contoso.com quick --reason "outbreak" --break-glass');
    if (!parsed.ok) expect.fail(formatParseError(parsed.error));
    expect(parsed.breakGlass).toBe(true);
    expect(parsed.operation).toEqual({ kind: 'av-scan', machine: 'pc-042.contoso.com', scanType: 'Quick', reason: 'outbreak' });
    const plain = parseCommand('av-scan pc-042.contoso.com quick --reason "outbreak"');
    expect(plain.ok && plain.breakGlass).toBeUndefined();
    const listed = parseCommand('scans list --break-glass');
    expect(listed.ok).toBe(false);
    if (!listed.ok) expect(listed.error.message).toContain('unknown flag --break-glass');
  });
});
