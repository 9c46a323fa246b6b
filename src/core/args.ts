/**
 * Reading a command's words and flags: the helpers every command's `build` uses, and the
 * refusal that carries a message and the command's usage line. No message ever echoes
 * more than a short, cleaned piece of user input.
 */
import type { z } from 'zod';
import type { CommandSpec } from './command.js';
import { withoutAssignedValue } from './secret-text.js';
import {
  MACHINE_ID,
  MAX_BATCH,
  SNMP_AUTH_ODATA,
  SNMP_AUTH_TYPES,
  SNMP_FIELDS,
  WINDOWS_AUTH_ODATA,
  intervalSchema,
  isValidHostname,
  isValidIp,
  normaliseTargets,
  scanNameSchema,
  snmpAuthSchema,
  splitTargets,
  targetProblems,
  windowsAuthSchema,
  type SnmpAuthType,
} from '../mde/requests.js';

export interface ParseError {
  message: string;
  /** The usage line of the command concerned (or of `help`). */
  usage?: string;
  /** The canonical command name, when it is known. */
  command?: string;
  /** A command to try instead, for unknown commands. */
  suggestion?: string;
}

const UNSAFE_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\u2028\u2029]/gu;

/**
 * User input made safe to quote in a message: no control characters, at most `max`
 * characters, and never what follows `=` in a word that reads as a flag (`--pw=…`,
 * `-p=…`) or names a secret (`community=…`), nor anything after a flag.
 */
export function echo(input: string, max = 40): string {
  return safeText(withoutAssignedValue(input), max);
}

function safeText(text: string, max: number): string {
  const chars = Array.from(text.replace(UNSAFE_CHARS, '?'));
  return chars.length <= max ? chars.join('') : chars.slice(0, max - 1).join('') + '…';
}

/** Last line of defence for every message leaving the parser. */
export function clean(text: string, max = 600): string {
  return safeText(text.replace(/[\r\n\t]+/g, ' '), max);
}

export class Refusal {
  constructor(readonly error: ParseError) {}
}

export function refuse(message: string, spec?: CommandSpec, extra: Partial<ParseError> = {}): never {
  throw new Refusal({ message, ...(spec ? { usage: spec.usage, command: spec.name } : {}), ...extra });
}

/** A command's words after the command name: positionals in order, flags by name. */
export interface Args {
  /** The command being read, for refusals. */
  command: CommandSpec;
  positionals: string[];
  flags: Map<string, string | true>;
}

export function str(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function noPositionals(s: CommandSpec, args: Args, echoThem = true): void {
  const extra = args.positionals[0];
  if (extra === undefined) return;
  refuse(
    echoThem
      ? `unexpected argument "${echo(extra)}": \`${s.name}\` takes no arguments here`
      : `unexpected argument after \`${s.name}\`: every value needs its flag (e.g. --name "My scan")`,
    s,
  );
}

/** One choice from a list, case-insensitively, ignoring `-` and `_`. */
export function choose<T extends string>(s: CommandSpec, flagName: string, value: string, choices: readonly T[]): T {
  const flat = value.toLowerCase().replace(/[-_\s]/g, '');
  const found = choices.find((c) => c.toLowerCase() === flat);
  if (found === undefined) refuse(`${flagName} must be one of ${choices.map((c) => c.toLowerCase()).join(', ')} (got "${echo(value, 20)}")`, s);
  return found;
}

export const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function definitionId(s: CommandSpec, value: string): string {
  if (!ID.test(value)) refuse(`"${echo(value)}" is not a scan definition id (letters, digits, - _ . ; at most 100 characters)`, s);
  return value;
}

export function definitionIds(s: CommandSpec, values: string[]): string[] {
  if (values.length === 0) refuse(`give at least one scan definition id`, s);
  if (values.length > MAX_BATCH) refuse(`at most ${MAX_BATCH} scan definitions at once (got ${values.length})`, s);
  const ids = values.map((v) => definitionId(s, v));
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) refuse(`the id ${echo(dup)} is given twice`, s);
  return ids;
}

export function oneId(s: CommandSpec, args: Args, what = 'scan definition id'): string {
  if (args.positionals.length === 0) refuse(`give the ${what}`, s);
  if (args.positionals.length > 1) refuse(`\`${s.name}\` takes one ${what}; unexpected "${echo(args.positionals[1] as string)}"`, s);
  return args.positionals[0] as string;
}

export function reasonOf(s: CommandSpec, args: Args, required: boolean): string | undefined {
  const r = str(args, '--reason');
  if (r === undefined) {
    if (required) refuse(`\`${s.name}\` needs a reason: --reason "why"`, s);
    return undefined;
  }
  const trimmed = r.trim();
  if (trimmed.length > 500) refuse(`the reason must be at most 500 characters (got ${trimmed.length})`, s);
  return trimmed;
}

export function interval(s: CommandSpec, value: string): number {
  const m = /^(\d{1,6})\s*h?$/i.exec(value.trim());
  if (!m) refuse(`--interval must be a whole number of hours, e.g. --interval 24 (got "${echo(value, 20)}")`, s);
  const parsed = intervalSchema.safeParse(Number(m[1]));
  if (!parsed.success) refuse(`--interval: ${parsed.error.issues[0]?.message ?? 'invalid'}`, s);
  return parsed.data;
}

export function scanName(s: CommandSpec, value: string): string {
  const parsed = scanNameSchema.safeParse(value);
  if (!parsed.success) refuse(`--name: ${parsed.error.issues[0]?.message ?? 'invalid'}`, s);
  return parsed.data;
}

function summarizeProblems(s: CommandSpec, problems: string[]): never {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  const first = (problems[0] ?? 'invalid').replace(/^"(.*)"(?= is )/s, (_, entry: string) => `"${echo(entry)}"`);
  refuse(`--target: ${echo(first, 120)}${more}`, s);
}

export function targetsFor(s: CommandSpec, value: string, targetType: 'Ip' | 'Hostname' | undefined): string {
  if (targetType !== undefined) {
    const problems = targetProblems(value, targetType);
    if (problems.length > 0) summarizeProblems(s, problems);
  } else {
    const problems = splitTargets(value).flatMap((t) =>
      t === '' ? ['the target list has an empty entry'] : isValidIp(t) || isValidHostname(t) ? [] : [`"${t}" is neither an IP address nor a host name`],
    );
    if (problems.length > 0) summarizeProblems(s, problems);
  }
  return normaliseTargets(value);
}

export function agentOf(s: CommandSpec, value: string): string {
  const v = value.trim();
  if (MACHINE_ID.test(v)) return v.toLowerCase();
  if (v.length > 255) refuse(`--agent is too long: give the machine id or the agent's name`, s);
  return v;
}

export function issuesText(error: z.ZodError, fieldFlags: Record<string, string>): string {
  return error.issues
    .slice(0, 3)
    .map((i) => {
      const field = String(i.path[i.path.length - 1] ?? '');
      const label = fieldFlags[field];
      return label ? `${label}: ${i.message}` : i.message;
    })
    .join('; ');
}

const AUTH_FIELD_FLAGS: Record<string, string> = {
  username: '--username',
  domain: '--domain',
  keyVaultUrl: '--key-vault-url',
  keyVaultSecretName: '--key-vault-secret',
  type: '--auth-type',
  authProtocol: '--auth-protocol',
  privProtocol: '--priv-protocol',
};

export function windowsAuth(s: CommandSpec, args: Args): unknown {
  const type = choose(s, '--auth-type', str(args, '--auth-type') ?? 'kerberos', ['Kerberos', 'Negotiate'] as const);
  const username = str(args, '--username');
  const domain = str(args, '--domain');
  const url = str(args, '--key-vault-url');
  const secret = str(args, '--key-vault-secret');
  const gmsa = username !== undefined || domain !== undefined;
  const vault = url !== undefined || secret !== undefined;
  if (gmsa && vault) refuse('give either a gMSA account (--username, --domain) or a Key Vault reference (--key-vault-url, --key-vault-secret), not both', s);
  let auth: Record<string, unknown>;
  if (vault) {
    if (url === undefined) refuse('a Key Vault reference needs --key-vault-url too', s);
    if (secret === undefined) refuse('a Key Vault reference needs --key-vault-secret (the secret name) too', s);
    auth = { '@odata.type': WINDOWS_AUTH_ODATA, type, keyVaultUrl: url.trim(), keyVaultSecretName: secret.trim() };
  } else if (gmsa) {
    if (username === undefined) refuse('a gMSA account needs --username too', s);
    if (domain === undefined) refuse('a gMSA account needs --domain too', s);
    auth = { '@odata.type': WINDOWS_AUTH_ODATA, type, username: username.trim(), domain: domain.trim(), isGmsaUser: true };
  } else {
    refuse('Windows scans need credentials: --username and --domain (a gMSA account), or --key-vault-url and --key-vault-secret', s);
  }
  const parsed = windowsAuthSchema.safeParse(auth);
  if (!parsed.success) refuse(issuesText(parsed.error, AUTH_FIELD_FLAGS), s);
  return parsed.data;
}

const NEEDS_SECRET: readonly SnmpAuthType[] = SNMP_AUTH_TYPES.filter((t) =>
  SNMP_FIELDS[t].some((f) => f === 'communityString' || f === 'authPassword' || f === 'privPassword'),
);

export function snmpAuth(s: CommandSpec, args: Args): unknown {
  const type = choose(s, '--snmp-type', str(args, '--snmp-type') ?? 'noauthnopriv', SNMP_AUTH_TYPES);
  const username = str(args, '--username');
  const authProtocolText = str(args, '--auth-protocol');
  const privProtocolText = str(args, '--priv-protocol');
  const url = str(args, '--key-vault-url');
  const secret = str(args, '--key-vault-secret');
  const vault = url !== undefined || secret !== undefined;
  const fields = SNMP_FIELDS[type];
  if (authProtocolText !== undefined && !fields.includes('authProtocol')) refuse(`--auth-protocol applies only to --snmp-type authnopriv or authpriv (this is ${type.toLowerCase()})`, s);
  if (privProtocolText !== undefined && !fields.includes('privProtocol')) refuse(`--priv-protocol applies only to --snmp-type authpriv (this is ${type.toLowerCase()})`, s);
  const authProtocol = authProtocolText === undefined ? undefined : choose(s, '--auth-protocol', authProtocolText, ['MD5', 'SHA1'] as const);
  const privProtocol = privProtocolText === undefined ? undefined : choose(s, '--priv-protocol', privProtocolText, ['DES', '3DES', 'AES'] as const);
  let auth: Record<string, unknown>;
  if (vault) {
    if (url === undefined) refuse('a Key Vault reference needs --key-vault-url too', s);
    if (secret === undefined) refuse('a Key Vault reference needs --key-vault-secret (the secret name) too', s);
    if (username !== undefined || authProtocol !== undefined || privProtocol !== undefined) {
      refuse('with a Key Vault reference leave out --username, --auth-protocol and --priv-protocol: the Key Vault secret holds them', s);
    }
    auth = { '@odata.type': SNMP_AUTH_ODATA, type, keyVaultUrl: url.trim(), keyVaultSecretName: secret.trim() };
  } else {
    if (NEEDS_SECRET.includes(type)) {
      refuse(
        `SNMP type ${type.toLowerCase()} needs a secret, and secrets are never accepted in chat: use the form (\`scans create network\`), or give --key-vault-url and --key-vault-secret`,
        s,
      );
    }
    if (username === undefined) refuse(`SNMP type ${type.toLowerCase()} needs --username (or a Key Vault reference)`, s);
    auth = { '@odata.type': SNMP_AUTH_ODATA, type, username: username.trim() };
  }
  const parsed = snmpAuthSchema.safeParse(auth);
  if (!parsed.success) refuse(issuesText(parsed.error, AUTH_FIELD_FLAGS), s);
  return parsed.data;
}

export function approvalId(s: CommandSpec, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(value)) refuse(`"${echo(value)}" is not an approval id`, s);
  return value;
}

export const OP_FIELD_FLAGS: Record<string, string> = {
  name: '--name',
  targets: '--target',
  targetType: '--target-type',
  intervalHours: '--interval',
  agent: '--agent',
  reason: '--reason',
  search: '--search',
  page: '--page',
  ...AUTH_FIELD_FLAGS,
};

