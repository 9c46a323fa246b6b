/**
 * Chat text → the command (from the registry) and its validated operation, or a
 * `ParseError` that says what is wrong and carries the command's usage line. Each command
 * builds its operation (`build`); the result is checked against the command's schema.
 *
 * Rules every error follows: no secret value is ever echoed (a secret flag is refused
 * before anything else is looked at), at most ~100 characters of user input are echoed,
 * and no control character reaches a message.
 */
import type { AnyOperation, Command, CommandSpec, FlagSpec, Registry } from './command.js';
import { REGISTRY } from './commands/index.js';
import { Refusal, clean, echo, issuesText, OP_FIELD_FLAGS, refuse, type Args, type ParseError } from './args.js';
import { suggestCommand } from './help.js';
import { ASSIGNMENT_IN_TEXT, EQUALS, FLAG_IN_TEXT, flagKey, flagNameOf, looksLikeFlag, namesSecret } from './secret-text.js';
import { normalizeChatText, tokenize, type Token } from './tokenize.js';

export { flagKey };

export { echo, type ParseError };

/** `breakGlass`: `--break-glass` was given (commands that need approval; the engine decides whether it is allowed). */
export type ParseResult = { ok: true; command: Command; operation: AnyOperation; breakGlass?: true } | { ok: false; error: ParseError };

const BREAK_GLASS_FLAG = '--break-glass';

/** Longer input is refused unread (Slack caps a slash command near 4,000 characters). */
export const MAX_INPUT_CHARS = 8000;

export const SECRET_REFUSAL = 'secrets are never accepted in chat';

/**
 * The refusal of a command that carries a secret: the flag refused (its name only), that
 * its value was neither stored nor echoed, that it is now in the chat history and should
 * be rotated, and the form that takes it (`scans update <id>` when an update was typed).
 */
export function secretRefusal(flagName: string | undefined, words: readonly string[], registry: Registry): ParseError {
  const typed = words.slice(0, 2).map((w, i) => (i === 0 ? (registry.aliases[w.toLowerCase()] ?? w.toLowerCase()) : w.toLowerCase())).join(' ');
  const update = typed === 'scans update';
  const id = update && words[2] && /^[0-9a-z-]{8,64}$/i.test(words[2]) ? words[2] : '<id>';
  const form = update ? `scans update ${id}` : 'scans create';
  const name = flagName ?? 'a secret flag';
  return {
    message: `${SECRET_REFUSAL}: ${name} was refused, and its value was not stored or echoed. It is now in this chat's history, so rotate that secret. Enter secrets in the form: \`${form}\``,
    command: update ? 'scans update' : 'scans create',
    suggestion: form,
  };
}

/** Secret flag names a refusal may quote; any other (it might have a value glued to it) is "a secret flag". */
const QUOTABLE_SECRET_NAMES = new Set(
  'password pass passwd pwd pw auth-password authpassword priv-password privpassword community community-string communitystring snmp-community secret client-secret key token auth priv comm cred creds credential credentials auth-key priv-key api-key apikey private-key privkey kennwort psk'.split(' '),
);

/** The name of the first secret flag (or `name=`) in the text, when it is one a message may quote. */
function secretFlagIn(text: string): string | undefined {
  const key = flagKey(text);
  for (const m of key.matchAll(FLAG_IN_TEXT)) {
    const name = (m[1] ?? '').split('=')[0] as string;
    if (isSecretFlagName(name)) return quotable(name, '--');
  }
  for (const m of key.matchAll(ASSIGNMENT_IN_TEXT)) {
    if (isSecretFlagName(m[1] ?? '')) return quotable(m[1] ?? '', '');
  }
  return undefined;
}

function quotable(name: string, prefix: string): string {
  const bare = flagKey(name).replace(/^(?:-+|[\u2010-\u2015\u2212\u2E3A\u2E3B])/u, '');
  return QUOTABLE_SECRET_NAMES.has(bare) ? `${prefix}${bare}` : 'a secret flag';
}

function spec(registry: Registry, name: string): Command {
  const found = registry.byName(name);
  if (!found) throw new Error(`no command ${name} in the registry`);
  return found;
}

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
  if (error.suggestion !== undefined && !error.message.toLowerCase().includes(error.suggestion.toLowerCase())) lines.push(`Did you mean: ${error.suggestion}`);
  if (error.usage !== undefined) lines.push(`Usage: ${error.usage}`);
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------
// Secrets

const NON_SECRET_FLAGS = new Set(REGISTRY.commands.flatMap((c) => c.flags.map((f) => f.name)));

/** A flag or `name=` that names a secret, unless it is one of the registry's own flags (`--key-vault-secret`). */
function isSecretFlagName(name: string): boolean {
  const lower = flagKey(name).replace(/^(?:-+|[\u2010-\u2015\u2212\u2E3A\u2E3B])/u, '');
  return !NON_SECRET_FLAGS.has(`--${lower}`) && namesSecret(lower);
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

// ---------------------------------------------------------------------------------------
// Command resolution

interface Resolved {
  spec: Command;
  rest: Token[];
}

function firstWord(registry: Registry, token: Token | undefined): string {
  const w = (token?.text ?? '').toLowerCase();
  return registry.aliases[w] ?? w;
}

/** The longest registered command whose words begin the input. */
function resolve(registry: Registry, tokens: Token[], requireBare = true): Resolved | undefined {
  const words = tokens.map((t, i) => (i === 0 ? firstWord(registry, t) : t.text.toLowerCase()));
  let best: Command | undefined;
  for (const c of registry.commands) {
    const parts = c.name.split(' ');
    if (parts.length > words.length) continue;
    if (!parts.every((p, i) => p === words[i] && (!requireBare || (tokens[i] as Token).bare))) continue;
    if (!best || parts.length > best.name.split(' ').length) best = c;
  }
  return best ? { spec: best, rest: tokens.slice(best.name.split(' ').length) } : undefined;
}

function unknownCommand(registry: Registry, tokens: Token[]): never {
  const COMMANDS = registry.commands;
  const GROUPS = registry.groups;
  const quoted = resolve(registry, tokens, false);
  if (quoted) refuse('write the command words without quotes', quoted.spec);
  const first = firstWord(registry, tokens[0]);
  const second = (tokens[1]?.text ?? '').toLowerCase();
  if (GROUPS.includes(first)) {
    const subs = COMMANDS.filter((c) => c.name.startsWith(first + ' ') && c.name.split(' ').length === 2);
    const list = subs.map((c) => c.name.split(' ')[1]).join(', ');
    if (second === '') {
      refuse(`say what to do with ${first}: ${list}`, undefined, { usage: `${first} ${subs.map((c) => c.name.split(' ')[1]).join('|')} …`, command: first, suggestion: `${first} list` });
    }
    const suggestion = suggestCommand(registry, [first, second], subs.map((c) => c.name));
    const target = suggestion ? spec(registry, suggestion) : undefined;
    refuse(`unknown ${first} command "${echo(second)}"${suggestion ? `; did you mean \`${suggestion}\`?` : ''} (${first} commands: ${list})`, target, {
      ...(suggestion ? { suggestion } : {}),
      ...(target ? {} : { usage: `${first} ${subs.map((c) => c.name.split(' ')[1]).join('|')} …`, command: first }),
    });
  }
  const words = tokens.slice(0, 2).map((t) => t.text);
  // `list` → `scans list`: the group word was left out.
  const withGroup = GROUPS.map((g) => `${g} ${first}`).find((name) => COMMANDS.some((c) => c.name === name));
  const suggestion = withGroup ?? suggestCommand(registry, words);
  const suggested = suggestion ? registry.byName(suggestion) : undefined;
  const tops = [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]))].join(', ');
  refuse(`unknown command "${echo(tokens[0]?.text ?? '')}"${suggestion ? `; did you mean \`${suggestion}\`?` : '.'} Commands: ${tops}. Try \`help\`.`, suggested ?? spec(registry, 'help'), suggestion ? { suggestion } : {});
}

/** Words after a flagless command that has sub-commands (`scans create x`) must name one of them. */
function checkSubcommand(registry: Registry, s: Command, rest: Token[]): void {
  const first = rest[0];
  if (first === undefined || s.flags.length > 0) return;
  const children = registry.commands.filter((c) => c.name.startsWith(s.name + ' ') && c.name.split(' ').length === s.name.split(' ').length + 1);
  if (children.length === 0) return;
  const names = children.map((c) => c.name.split(' ').pop() as string);
  refuse(
    looksLikeFlag(first.text) || (first.bare && DASHES.test(flagKey(first.text)))
      ? `say which kind first: ${children.map((c) => `\`${c.name} …\``).join(' or ')}`
      : `after \`${s.name}\` give ${names.join(' or ')} (got "${echo(first.text, 20)}")`,
    s,
  );
}

// ---------------------------------------------------------------------------------------
// Flags and positionals

/** Two hyphens, or one dash chat clients turn them into (matched on `flagKey`). */
const DASHES = /^(?:--|[\u2010-\u2015\u2212\u2E3A\u2E3B])/u;

function flagList(s: CommandSpec): string {
  return s.flags.map((f) => (f.takesValue ? `${f.name} ${f.value ?? 'value'}` : f.name)).join(', ');
}

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
  return { command: s, positionals, flags };
}

// ---------------------------------------------------------------------------------------
// Entry point

function parseInner(registry: Registry, raw: string): ParseResult {
  const HELP = spec(registry, 'help');
  const text = normalizeChatText(raw);
  // Secrets first: no later error may echo a secret value.
  const words = text.trim().split(/\s+/);
  if (containsSecretFlag(text)) throw new Refusal(secretRefusal(secretFlagIn(text), words, registry));
  if (text.length > MAX_INPUT_CHARS) refuse(`the command is too long (${text.length} characters; at most ${MAX_INPUT_CHARS})`, HELP);
  const tokenized = tokenize(text);
  if (!tokenized.ok) {
    const guess = resolve(registry, text.trim().split(/\s+/).slice(0, 3).map((w) => ({ text: w, bare: true })));
    refuse(tokenized.message, guess?.spec ?? HELP);
  }
  const tokens = tokenized.tokens;
  // Again on the words, for flags the raw scan cannot see (`--pa"ss"word`).
  const secret = tokens.find((t) => looksLikeFlag(t.text) && isSecretFlagName(flagNameOf(t.text)));
  if (secret) throw new Refusal(secretRefusal(quotable(flagNameOf(secret.text), '--'), tokens.map((t) => t.text), registry));
  if (tokens.length === 0) return { ok: true, command: HELP, operation: { kind: 'help' } };
  const resolved = resolve(registry, tokens);
  if (!resolved) unknownCommand(registry, tokens);
  const { spec: command, rest } = resolved;
  checkSubcommand(registry, command, rest);
  const args = parseArgs(command, rest);
  // Not part of the operation (it is the same operation, run another way): taken off before build.
  const breakGlass = command.approval !== undefined && args.flags.delete(BREAK_GLASS_FLAG);
  const input = command.build(args, registry);
  const parsed = command.schema.safeParse(input);
  if (!parsed.success) refuse(issuesText(parsed.error, OP_FIELD_FLAGS), command);
  return { ok: true, command, operation: parsed.data as AnyOperation, ...(breakGlass ? { breakGlass: true as const } : {}) };
}

/** Parses one chat command. Never throws. */
export function parseCommand(text: string, registry: Registry = REGISTRY): ParseResult {
  try {
    return parseInner(registry, typeof text === 'string' ? text : '');
  } catch (e) {
    if (e instanceof Refusal) return finish(e.error);
    return finish({ message: 'that command could not be read; try `help`', usage: 'help [command]', command: 'help' });
  }
}
