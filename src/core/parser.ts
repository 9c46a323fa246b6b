/**
 * Chat text → `Operation`, or a `ParseError` that says what is wrong and carries the
 * command's usage line. The grammar is the table in `commands.ts` plus the per-command
 * builders below; the result is checked once more against `operationSchema`.
 *
 * Rules every error follows: no secret value is ever echoed (a secret flag is refused
 * before anything else is looked at), at most ~100 characters of user input are echoed,
 * and no control character reaches a message.
 */
import { COMMANDS, COMMAND_ALIASES, type CommandSpec, type FlagSpec } from './commands.js';
import { operationSchema, type Operation } from './operations.js';
import { normalizeChatText, tokenize, type Token } from './tokenize.js';
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
import type { z } from 'zod';

export interface ParseError {
  message: string;
  /** The usage line of the command concerned (or of `help`). */
  usage?: string;
  /** The canonical command name, when it is known. */
  command?: string;
  /** A command to try instead, for unknown commands. */
  suggestion?: string;
}

export type ParseResult = { ok: true; operation: Operation } | { ok: false; error: ParseError };

/** Longer input is refused unread (Slack caps a slash command near 4,000 characters). */
export const MAX_INPUT_CHARS = 8000;

export const SECRET_REFUSAL = 'secrets are never accepted in chat; use the form: `scans create`';

// ---------------------------------------------------------------------------------------
// Small helpers

const UNSAFE_CHARS = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\u2028\u2029]/gu;

/**
 * User input made safe to quote in a message: no control characters, at most `max`
 * characters, and never what follows `=` in a word that reads as a flag (`--pw=…`,
 * `-p=…`) or names a secret (`community=…`).
 */
export function echo(input: string, max = 40): string {
  return safeText(withoutAssignedValue(input), max);
}

function safeText(text: string, max: number): string {
  const chars = Array.from(text.replace(UNSAFE_CHARS, '?'));
  return chars.length <= max ? chars.join('') : chars.slice(0, max - 1).join('') + '…';
}

/** Last line of defence for every message leaving the parser. */
function clean(text: string, max = 600): string {
  return safeText(text.replace(/[\r\n\t]+/g, ' '), max);
}

class Refusal {
  constructor(readonly error: ParseError) {}
}

function refuse(message: string, spec?: CommandSpec, extra: Partial<ParseError> = {}): never {
  throw new Refusal({ message, ...(spec ? { usage: spec.usage, command: spec.name } : {}), ...extra });
}

function spec(name: string): CommandSpec {
  const found = COMMANDS.find((c) => c.name === name);
  if (!found) throw new Error(`no command ${name} in the table`);
  return found;
}

const HELP = spec('help');
const SCANS_CREATE = spec('scans create');

function finish(error: ParseError): { ok: false; error: ParseError } {
  const out: ParseError = { message: clean(error.message) };
  if (error.usage !== undefined) out.usage = clean(error.usage);
  if (error.command !== undefined) out.command = clean(error.command, 100);
  if (error.suggestion !== undefined) out.suggestion = clean(error.suggestion, 200);
  return { ok: false, error: out };
}

/** A parse error as plain text: message, usage line, suggestion. */
export function formatParseError(error: ParseError): string {
  const lines = [error.message];
  if (error.suggestion !== undefined) lines.push(`Did you mean: ${error.suggestion}`);
  if (error.usage !== undefined) lines.push(`Usage: ${error.usage}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Secrets

const NON_SECRET_FLAGS = new Set(COMMANDS.flatMap((c) => c.flags.map((f) => f.name)));
const SECRET_WORDS = /pass|secret|community|pwd|token|credential|apikey|api-key|private-key|privkey|kennwort|wachtwoord|contrase|senha|salasana|(?:auth|priv)[-_]?key|(?:^|[-_.])pw|(?:^|[-_.])creds?$/;
/** Whole names that mean a secret on their own (SNMP's `auth` and `priv` are its two passwords). */
const SECRET_NAMES = new Set(['key', 'psk', 'auth', 'priv', 'comm', 'cred']);
/** A flag starts with one or two hyphens or a dash chat clients turn `--` into (after `flagKey`). */
const FLAG_IN_TEXT = /(?:^|[\s"'\u201C-\u201F\u2018-\u201B=])(?:--?|[\u2010-\u2015\u2212\u2E3A\u2E3B])([^\s="'\u201C-\u201F\u2018-\u201B]+)/gu;
/** `name=value` without dashes (`community=public`): the name is checked like a flag's. */
const ASSIGNMENT_IN_TEXT = /(?:^|[\s"'\u201C-\u201F\u2018-\u201B])([\p{L}\p{N}_.-]+)=/gu;

/**
 * The form flag names are matched in: NFKC (fullwidth and other compatibility characters
 * become plain ones: `－－ｐｗ` is `--pw`), format characters removed (a soft hyphen or a
 * zero-width joiner inside `--community` does not hide it), lower case.
 */
export function flagKey(text: string): string {
  return text.normalize('NFKC').replace(/\p{Cf}/gu, '').toLowerCase();
}

function isSecretFlagName(name: string): boolean {
  const lower = flagKey(name).replace(/^(?:-+|[\u2010-\u2015\u2212\u2E3A\u2E3B])/u, '');
  if (NON_SECRET_FLAGS.has(`--${lower}`)) return false;
  return SECRET_WORDS.test(lower) || SECRET_NAMES.has(lower);
}

/**
 * True when the text carries a flag that names a secret (`--password`, `--community=…`,
 * `-pw`, `—auth`, `－－kennwort`, …) or a secret given as `name=value` (`community=public`).
 */
export function containsSecretFlag(text: string): boolean {
  const key = flagKey(text);
  for (const m of key.matchAll(FLAG_IN_TEXT)) {
    if (isSecretFlagName(m[1] ?? '')) return true;
  }
  for (const m of key.matchAll(ASSIGNMENT_IN_TEXT)) {
    if (isSecretFlagName(m[1] ?? '')) return true;
  }
  return false;
}

/** A word that reads as a flag once normalised: dashes then a letter or digit (`--pw`, `—auth`, `－－ｐｗ`), or one hyphen then a letter (`-password`). */
function looksLikeFlag(text: string): boolean {
  return /^(?:--|[\u2010-\u2015\u2212\u2E3A\u2E3B])[\p{L}\p{N}]|^-\p{L}/u.test(flagKey(text));
}

/** The name of a flag-looking word without its inline value (`--pw=x` → `--pw`). */
function flagNameOf(text: string): string {
  const key = flagKey(text);
  const eq = key.indexOf('=');
  return eq >= 0 ? key.slice(0, eq) : key;
}

/**
 * What a message may quote of a piece of input: a word that reads as a flag keeps its name
 * only (`--pw=x` → `--pw=…`), and so does a secret's name (`community=public` →
 * `community=…`); nothing after a flag is quoted (`a --pw x y` → `a --pw …`).
 */
function withoutAssignedValue(input: string): string {
  if (!/[-=\u2010-\u2015\u2212\u2E3A\u2E3B\uFF0D\uFE63\uFE58\uFF1D\uFE66\u207C\u208C]/u.test(input)) return input;
  const parts = input.split(/(\s+)/u);
  for (let i = 0; i < parts.length; i += 2) {
    const word = parts[i] as string;
    const eq = word.search(EQUALS);
    const name = eq >= 0 ? word.slice(0, eq) : word;
    if (looksLikeFlag(name)) {
      const rest = parts.slice(i + 1).join('');
      return parts.slice(0, i).join('') + (eq >= 0 ? `${flagNameOf(name)}=…` : word) + (rest.trim() === '' ? rest : ' …');
    }
    if (eq >= 0 && isSecretFlagName(name)) parts[i] = `${flagNameOf(name)}=…`;
  }
  return parts.join('');
}

// ---------------------------------------------------------------------------------------
// Suggestions

/** Optimal-string-alignment Damerau–Levenshtein distance (inputs are short). */
export function editDistance(a: string, b: string): number {
  const s = Array.from(a.slice(0, 40));
  const t = Array.from(b.slice(0, 40));
  const d: number[][] = [];
  for (let i = 0; i <= s.length; i++) d.push(new Array<number>(t.length + 1).fill(0));
  const at = (i: number, j: number) => d[i]?.[j] ?? 0;
  for (let i = 0; i <= s.length; i++) (d[i] as number[])[0] = i;
  for (let j = 0; j <= t.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = v;
    }
  }
  return at(s.length, t.length);
}

const GROUPS = [...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0] as string))];

/** Command names, and group names (`scans`) when only one word was typed. */
function candidatesFor(words: readonly string[]): string[] {
  return [...COMMANDS.map((c) => c.name), ...(words.length === 1 ? GROUPS : [])];
}

/** The closest command name to the given words, if one is close enough. */
export function suggestCommand(words: readonly string[], candidates: readonly string[] = candidatesFor(words)): string | undefined {
  let best: { name: string; score: number } | undefined;
  for (const name of candidates) {
    const n = name.split(' ').length;
    const typed = words.slice(0, n).join(' ').toLowerCase();
    if (typed === '') continue;
    const dist = editDistance(typed, name);
    const limit = Math.max(1, Math.floor(name.length / 3));
    if (dist <= limit && (best === undefined || dist < best.score)) best = { name, score: dist };
  }
  return best?.name;
}

// ---------------------------------------------------------------------------------------
// Command resolution

interface Resolved {
  spec: CommandSpec;
  rest: Token[];
}

function firstWord(token: Token | undefined): string {
  const w = (token?.text ?? '').toLowerCase();
  return COMMAND_ALIASES[w] ?? w;
}

/** The longest table entry whose words begin the input. */
function resolve(tokens: Token[], requireBare = true): Resolved | undefined {
  const words = tokens.map((t, i) => (i === 0 ? firstWord(t) : t.text.toLowerCase()));
  let best: CommandSpec | undefined;
  for (const c of COMMANDS) {
    const parts = c.name.split(' ');
    if (parts.length > words.length) continue;
    if (!parts.every((p, i) => p === words[i] && (!requireBare || (tokens[i] as Token).bare))) continue;
    if (!best || parts.length > best.name.split(' ').length) best = c;
  }
  return best ? { spec: best, rest: tokens.slice(best.name.split(' ').length) } : undefined;
}

function unknownCommand(tokens: Token[]): never {
  const quoted = resolve(tokens, false);
  if (quoted) refuse('write the command words without quotes', quoted.spec);
  const first = firstWord(tokens[0]);
  const second = (tokens[1]?.text ?? '').toLowerCase();
  if (GROUPS.includes(first)) {
    const subs = COMMANDS.filter((c) => c.name.startsWith(first + ' ') && c.name.split(' ').length === 2);
    const list = subs.map((c) => c.name.split(' ')[1]).join(', ');
    if (second === '') {
      refuse(`say what to do with ${first}: ${list}`, undefined, { usage: `${first} ${subs.map((c) => c.name.split(' ')[1]).join('|')} …`, command: first, suggestion: `${first} list` });
    }
    const suggestion = suggestCommand([first, second], subs.map((c) => c.name));
    const target = suggestion ? spec(suggestion) : undefined;
    refuse(`unknown ${first} command "${echo(second)}"${suggestion ? `; did you mean \`${suggestion}\`?` : ''} (${first} commands: ${list})`, target, {
      ...(suggestion ? { suggestion } : {}),
      ...(target ? {} : { usage: `${first} ${subs.map((c) => c.name.split(' ')[1]).join('|')} …`, command: first }),
    });
  }
  const words = tokens.slice(0, 2).map((t) => t.text);
  // `list` → `scans list`: the group word was left out.
  const withGroup = GROUPS.map((g) => `${g} ${first}`).find((name) => COMMANDS.some((c) => c.name === name));
  const suggestion = withGroup ?? suggestCommand(words);
  const suggested = suggestion ? COMMANDS.find((c) => c.name === suggestion) : undefined;
  const tops = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))].join(', ');
  refuse(`unknown command "${echo(tokens[0]?.text ?? '')}"${suggestion ? `; did you mean \`${suggestion}\`?` : '.'} Commands: ${tops}. Try \`help\`.`, suggested ?? HELP, suggestion ? { suggestion } : {});
}

// ---------------------------------------------------------------------------------------
// Flags and positionals

interface Args {
  positionals: string[];
  flags: Map<string, string | true>;
}

/** Two hyphens, or one dash chat clients turn them into (matched on `flagKey`). */
const DASHES = /^(?:--|[\u2010-\u2015\u2212\u2E3A\u2E3B])/u;

function flagList(s: CommandSpec): string {
  return s.flags.map((f) => (f.takesValue ? `${f.name} ${f.value ?? 'value'}` : f.name)).join(', ');
}

/** `=` and the characters NFKC turns into it: the raw text is split at the same place as its `flagKey`. */
const EQUALS = /[=\uFF1D\uFE66\u207C\u208C]/u;

/** A word with one hyphen that is not a negative number (`-a`, `-password`). */
const isSingleDashFlag = (key: string) => /^-[^-\s]/.test(key) && !/^-\d/.test(key);

/**
 * Flags are matched on their normal form (`flagKey`). An unknown flag is refused where it
 * stands, naming the flag only: neither its inline value nor anything after it is read.
 * A bare word with one or two dashes is never taken as a flag's value, and a word that
 * reads as a flag is never an argument (quoted or after `--` either), so the value
 * someone typed after a mistyped flag cannot come back in a message. (A quoted word may
 * still be a flag's value: `--search "--active"`.)
 */
function parseArgs(s: CommandSpec, tokens: Token[]): Args {
  const positionals: string[] = [];
  const flags = new Map<string, string | true>();
  let onlyPositionals = false;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    const key = flagKey(token.text);
    if (onlyPositionals || !token.bare) {
      if (looksLikeFlag(token.text)) {
        refuse(`${echo(flagNameOf(token.text), 40)} looks like a flag: write flags without quotes (no argument of \`${s.name}\` starts with a dash)${s.flags.length ? `; valid flags: ${flagList(s)}` : ''}`, s);
      }
      positionals.push(token.text);
      continue;
    }
    if (key === '--') {
      onlyPositionals = true;
      continue;
    }
    if (DASHES.test(key)) {
      const body = key.replace(DASHES, '');
      const eq = body.indexOf('=');
      const name = '--' + (eq >= 0 ? body.slice(0, eq) : body);
      const inline = eq >= 0 ? token.text.slice(token.text.search(EQUALS) + 1) : undefined;
      const f: FlagSpec | undefined = s.flags.find((x) => x.name === name);
      if (!f) {
        refuse(
          s.flags.length === 0
            ? `\`${s.name}\` takes no flags (got ${echo(name)})`
            : `unknown flag ${echo(name)} for \`${s.name}\`; valid flags: ${flagList(s)}`,
          s,
        );
      }
      if (flags.has(f.name)) refuse(`${f.name} is given twice; give it once`, s);
      if (!f.takesValue) {
        if (inline !== undefined) refuse(`${f.name} takes no value`, s);
        flags.set(f.name, true);
        continue;
      }
      let value = inline;
      if (value === undefined) {
        const next = tokens[i + 1];
        const nextKey = next === undefined ? '' : flagKey(next.text);
        if (next !== undefined && !(next.bare && (DASHES.test(nextKey) || isSingleDashFlag(nextKey)))) {
          value = next.text;
          i++;
        }
      }
      if (value === undefined || value.trim() === '') refuse(`${f.name} needs a value: ${f.name} ${f.value ?? 'value'}`, s);
      flags.set(f.name, value);
      continue;
    }
    if (isSingleDashFlag(key)) {
      refuse(`unknown flag ${echo(flagNameOf(token.text), 20)} for \`${s.name}\`: flags start with two dashes${s.flags.length ? `; valid flags: ${flagList(s)}` : ''}`, s);
    }
    positionals.push(token.text);
  }
  return { positionals, flags };
}

function str(args: Args, name: string): string | undefined {
  const v = args.flags.get(name);
  return typeof v === 'string' ? v : undefined;
}

function noPositionals(s: CommandSpec, args: Args, echoThem = true): void {
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
function choose<T extends string>(s: CommandSpec, flagName: string, value: string, choices: readonly T[]): T {
  const flat = value.toLowerCase().replace(/[-_\s]/g, '');
  const found = choices.find((c) => c.toLowerCase() === flat);
  if (found === undefined) refuse(`${flagName} must be one of ${choices.map((c) => c.toLowerCase()).join(', ')} (got "${echo(value, 20)}")`, s);
  return found;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function definitionId(s: CommandSpec, value: string): string {
  if (!ID.test(value)) refuse(`"${echo(value)}" is not a scan definition id (letters, digits, - _ . ; at most 100 characters)`, s);
  return value;
}

function definitionIds(s: CommandSpec, values: string[]): string[] {
  if (values.length === 0) refuse(`give at least one scan definition id`, s);
  if (values.length > MAX_BATCH) refuse(`at most ${MAX_BATCH} scan definitions at once (got ${values.length})`, s);
  const ids = values.map((v) => definitionId(s, v));
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) refuse(`the id ${echo(dup)} is given twice`, s);
  return ids;
}

function oneId(s: CommandSpec, args: Args, what = 'scan definition id'): string {
  if (args.positionals.length === 0) refuse(`give the ${what}`, s);
  if (args.positionals.length > 1) refuse(`\`${s.name}\` takes one ${what}; unexpected "${echo(args.positionals[1] as string)}"`, s);
  return args.positionals[0] as string;
}

function reasonOf(s: CommandSpec, args: Args, required: boolean): string | undefined {
  const r = str(args, '--reason');
  if (r === undefined) {
    if (required) refuse(`\`${s.name}\` needs a reason: --reason "why"`, s);
    return undefined;
  }
  const trimmed = r.trim();
  if (trimmed.length > 500) refuse(`the reason must be at most 500 characters (got ${trimmed.length})`, s);
  return trimmed;
}

function interval(s: CommandSpec, value: string): number {
  const m = /^(\d{1,6})\s*h?$/i.exec(value.trim());
  if (!m) refuse(`--interval must be a whole number of hours, e.g. --interval 24 (got "${echo(value, 20)}")`, s);
  const parsed = intervalSchema.safeParse(Number(m[1]));
  if (!parsed.success) refuse(`--interval: ${parsed.error.issues[0]?.message ?? 'invalid'}`, s);
  return parsed.data;
}

function scanName(s: CommandSpec, value: string): string {
  const parsed = scanNameSchema.safeParse(value);
  if (!parsed.success) refuse(`--name: ${parsed.error.issues[0]?.message ?? 'invalid'}`, s);
  return parsed.data;
}

function summarizeProblems(s: CommandSpec, problems: string[]): never {
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  const first = (problems[0] ?? 'invalid').replace(/^"(.*)"(?= is )/s, (_, entry: string) => `"${echo(entry)}"`);
  refuse(`--target: ${echo(first, 120)}${more}`, s);
}

function targetsFor(s: CommandSpec, value: string, targetType: 'Ip' | 'Hostname' | undefined): string {
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

function agentOf(s: CommandSpec, value: string): string {
  const v = value.trim();
  if (MACHINE_ID.test(v)) return v.toLowerCase();
  if (v.length > 255) refuse(`--agent is too long: give the machine id or the agent's name`, s);
  return v;
}

function issuesText(error: z.ZodError, fieldFlags: Record<string, string>): string {
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

// ---------------------------------------------------------------------------------------
// Builders: one per command, each returning the operation input

type Builder = (s: CommandSpec, args: Args) => unknown;

function windowsAuth(s: CommandSpec, args: Args): unknown {
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

function snmpAuth(s: CommandSpec, args: Args): unknown {
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

function create(scanType: 'Windows' | 'Network'): Builder {
  return (s, args) => {
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

function setActive(active: boolean): Builder {
  return (s, args) => ({ kind: 'scans.update', id: definitionId(s, oneId(s, args)), active });
}

const BUILDERS: Record<string, Builder> = {
  help: (s, args) => {
    if (args.positionals.length === 0) return { kind: 'help' };
    const words = args.positionals.map((w, i) => (i === 0 ? (COMMAND_ALIASES[w.toLowerCase()] ?? w.toLowerCase()) : w.toLowerCase()));
    const asked = words.join(' ');
    if (COMMANDS.some((c) => c.name === asked || c.name.startsWith(asked + ' '))) return { kind: 'help', command: asked };
    const suggestion = suggestCommand(words);
    refuse(`there is no command "${echo(args.positionals.join(' '))}"${suggestion ? `; did you mean \`${suggestion}\`?` : ''} Try \`help\` for the list.`, s, suggestion ? { suggestion: `help ${suggestion}` } : {});
  },
  whoami: (s, args) => {
    noPositionals(s, args);
    return { kind: 'whoami' };
  },
  'scans list': (s, args) => {
    noPositionals(s, args);
    if (args.flags.has('--active') && args.flags.has('--inactive')) refuse('give --active or --inactive, not both', s);
    const op: Record<string, unknown> = { kind: 'scans.list' };
    const type = str(args, '--type');
    if (type !== undefined) op.scanType = choose(s, '--type', type, ['Windows', 'Network'] as const);
    if (args.flags.has('--active')) op.active = true;
    if (args.flags.has('--inactive')) op.active = false;
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
  'scans show': (s, args) => {
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
  'scans history': (s, args) => ({ kind: 'scans.history', ids: definitionIds(s, args.positionals) }),
  'scans create': () => ({ kind: 'scans.createForm' }),
  'scans create windows': create('Windows'),
  'scans create network': create('Network'),
  'scans update': (s, args) => {
    const id = definitionId(s, oneId(s, args));
    if (args.flags.size === 0) return { kind: 'scans.updateForm', id };
    const op: Record<string, unknown> = { kind: 'scans.update', id };
    const name = str(args, '--name');
    if (name !== undefined) op.name = scanName(s, name);
    const targetTypeText = str(args, '--target-type');
    const targetType = targetTypeText === undefined ? undefined : choose(s, '--target-type', targetTypeText, ['Ip', 'Hostname'] as const);
    if (targetType !== undefined) op.targetType = targetType;
    const target = str(args, '--target');
    if (target !== undefined) op.targets = targetsFor(s, target, targetType);
    const hours = str(args, '--interval');
    if (hours !== undefined) op.intervalHours = interval(s, hours);
    return op;
  },
  'scans enable': setActive(true),
  'scans disable': setActive(false),
  'scans delete': (s, args) => {
    const ids = definitionIds(s, args.positionals);
    return { kind: 'scans.delete', ids, reason: reasonOf(s, args, true) };
  },
  'av-scan': (s, args) => {
    const [machineText, typeText, extra] = args.positionals;
    if (machineText === undefined) refuse('give the machine (its id or DNS name) and the scan type', s);
    if (typeText === undefined) refuse('give the scan type: quick or full', s);
    if (extra !== undefined) refuse(`unexpected argument "${echo(extra)}" (a reason goes in --reason "…")`, s);
    const m = machineText.trim();
    let machine: string;
    if (MACHINE_ID.test(m)) machine = m.toLowerCase();
    else if (isValidHostname(m)) machine = m.toLowerCase();
    else refuse(`"${echo(m)}" is neither a machine id (40 hexadecimal characters) nor a DNS name`, s);
    const scanType = typeText.toLowerCase() === 'quick' ? 'Quick' : typeText.toLowerCase() === 'full' ? 'Full' : undefined;
    if (scanType === undefined) refuse(`the scan type must be quick or full (got "${echo(typeText, 20)}")`, s);
    return { kind: 'av-scan', machine, scanType, reason: reasonOf(s, args, true) };
  },
  approvals: (s, args) => {
    noPositionals(s, args);
    return { kind: 'approvals.list', all: args.flags.has('--all') };
  },
  'approvals here': (s, args) => {
    noPositionals(s, args);
    return { kind: 'approvals.here' };
  },
  approve: (s, args) => ({ kind: 'approvals.decide', id: approvalId(s, oneId(s, args, 'approval id')), decision: 'approve' }),
  reject: (s, args) => {
    const id = approvalId(s, oneId(s, args, 'approval id'));
    const reason = reasonOf(s, args, false);
    return reason === undefined ? { kind: 'approvals.decide', id, decision: 'reject' } : { kind: 'approvals.decide', id, decision: 'reject', reason };
  },
};

function approvalId(s: CommandSpec, value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/.test(value)) refuse(`"${echo(value)}" is not an approval id`, s);
  return value;
}

const OP_FIELD_FLAGS: Record<string, string> = {
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

// ---------------------------------------------------------------------------------------
// Entry point

function parseInner(raw: string): ParseResult {
  const text = normalizeChatText(raw);
  // Secrets first: no later error may echo a secret value.
  if (containsSecretFlag(text)) refuse(SECRET_REFUSAL, SCANS_CREATE);
  if (text.length > MAX_INPUT_CHARS) refuse(`the command is too long (${text.length} characters; at most ${MAX_INPUT_CHARS})`, HELP);
  const tokenized = tokenize(text);
  if (!tokenized.ok) {
    const guess = resolve(text.trim().split(/\s+/).slice(0, 3).map((w) => ({ text: w, bare: true })));
    refuse(tokenized.message, guess?.spec ?? HELP);
  }
  const tokens = tokenized.tokens;
  // Again on the words, for flags the raw scan cannot see (`--pa"ss"word`).
  if (tokens.some((t) => looksLikeFlag(t.text) && isSecretFlagName(flagNameOf(t.text)))) refuse(SECRET_REFUSAL, SCANS_CREATE);
  if (tokens.length === 0) return { ok: true, operation: { kind: 'help' } };
  const resolved = resolve(tokens);
  if (!resolved) unknownCommand(tokens);
  const { spec: s, rest } = resolved;
  if (s.name === 'scans create' && rest[0] !== undefined) {
    const first = rest[0];
    refuse(
      looksLikeFlag(first.text) || (first.bare && DASHES.test(flagKey(first.text)))
        ? 'say which kind of scan first: `scans create windows …` or `scans create network …`'
        : `the scan type must be windows or network (got "${echo(first.text, 20)}")`,
      s,
    );
  }
  const builder = BUILDERS[s.name];
  if (!builder) refuse(`\`${s.name}\` is not available`, s);
  const input = builder(s, parseArgs(s, rest));
  const parsed = operationSchema.safeParse(input);
  if (!parsed.success) refuse(issuesText(parsed.error, OP_FIELD_FLAGS), s);
  return { ok: true, operation: parsed.data };
}

/** Parses one chat command. Never throws. */
export function parseCommand(text: string): ParseResult {
  try {
    return parseInner(typeof text === 'string' ? text : '');
  } catch (e) {
    if (e instanceof Refusal) return finish(e.error);
    return finish({ message: 'that command could not be read; try `help`', usage: HELP.usage, command: HELP.name });
  }
}

// ---------------------------------------------------------------------------------------
// Help

export interface HelpText {
  title: string;
  /** General notes (quoting, secrets, approvals), shown with the overview. */
  notes: string[];
  /** The commands to show: all of them for the overview, the matching ones for `help <command>`. */
  commands: readonly CommandSpec[];
  /** True for `help <command>`: show flags and examples, not only the summaries. */
  detailed: boolean;
  /** Set for an unknown command: what went wrong, and the closest command. */
  error?: string;
  suggestion?: string;
}

const HELP_NOTES = [
  'Words are split like a shell: quote values with spaces ("Weekly servers"). Flags are --name value or --name=value.',
  'Secrets (passwords, community strings) are never accepted in chat: `scans create` opens a form for them.',
  '`scans delete` and `av-scan` need --reason "…" and wait for an approver (not the requester).',
];

/** The help for all commands, or for one command or group (`scans`, `scans create`). */
export function helpText(command?: string): HelpText {
  if (command === undefined || command.trim() === '') {
    return { title: 'mde-chatops commands', notes: HELP_NOTES, commands: COMMANDS, detailed: false };
  }
  const words = command.trim().toLowerCase().split(/\s+/);
  words[0] = COMMAND_ALIASES[words[0] as string] ?? (words[0] as string);
  const asked = words.join(' ');
  const matching = COMMANDS.filter((c) => c.name === asked || c.name.startsWith(asked + ' '));
  if (matching.length > 0) return { title: `help: ${asked}`, notes: [], commands: matching, detailed: true };
  const suggestion = suggestCommand(words);
  return {
    title: 'unknown command',
    notes: HELP_NOTES,
    commands: COMMANDS,
    detailed: false,
    error: clean(`there is no command "${echo(command)}"${suggestion ? `; did you mean \`${suggestion}\`?` : ''}`),
    ...(suggestion ? { suggestion } : {}),
  };
}
