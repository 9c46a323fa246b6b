import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/core/commands/index.js';
import { flagKey, formatParseError, parseCommand, type ParseResult } from '../../src/core/parser.js';
import { normalizeChatText } from '../../src/core/tokenize.js';

/** The parser's catch-all answer: reaching it means a bug (an unexpected exception inside). */
const INTERNAL_FAILURE = 'that command could not be read';

const DESTRUCTIVE_START = /^\s*(?:scans?\s+delete|av-scan)(?:\s|$)/i;
/** On the flag form of the text (`flagKey`: NFKC, no format characters), as the parser matches flags. */
const REASON_FLAG = /(?:--|[\u2010-\u2015\u2212\u2E3A\u2E3B])reason/i;

function check(input: string, result: ParseResult): void {
  if (result.ok) {
    expect(result.command.schema.safeParse(result.operation).success).toBe(true);
    if (result.command.approval) {
      const text = normalizeChatText(input);
      expect(DESTRUCTIVE_START.test(text), `destructive from: ${JSON.stringify(input.slice(0, 200))}`).toBe(true);
      expect(REASON_FLAG.test(flagKey(text))).toBe(true);
    }
  } else {
    const { message, usage, suggestion } = result.error;
    expect(message.length).toBeGreaterThan(0);
    expect(message.length).toBeLessThanOrEqual(600);
    expect(message).not.toContain(INTERNAL_FAILURE);
    for (const text of [message, usage ?? '', suggestion ?? '']) expect(text).not.toMatch(/[\p{Cc}]/u);
  }
}

const anyUnicode = fc.string({ unit: 'binary', maxLength: 10_000 });
const longUnicode = fc.string({ unit: 'binary', maxLength: 10_000, size: 'max' });

/** Words a user (or an attacker) might type, so that the grammar is actually reached. */
const word = fc.oneof(
  fc.constantFrom(
    'scans', 'scan', 'SCANS', 'delete', 'av-scan', 'list', 'show', 'history', 'create', 'update', 'enable', 'disable',
    'windows', 'network', 'help', 'whoami', 'approvals', 'approve', 'reject', 'here', 'quick', 'full',
    '--reason', '—reason', '--reason=', '--all', '--name', '--target', '--interval', '--agent', '--type', '--page', '--search',
    '--username', '--domain', '--snmp-type', '--key-vault-url', '--key-vault-secret', '--target-type', '--inactive', '--active',
    '"', "'", '“', '”', '‘', '’', '\\', '--', '-x', '=', '&nbsp;', '&amp;', '<https://kv.vault.azure.net|kv>',
    '10.0.0.1', 'pc-1.contoso.com', '289224fb-1686-472c-9751-5555960854ca', '1e5bc9d7e413ddd7902c2932e418702b84d0cc07', '24',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.string({ maxLength: 12 }).map((s) => `"${s}"`),
);
const separator = fc.constantFrom(' ', ' ', '  ', '\t', '\n', '\u00A0', '');
const commandish = fc
  .array(fc.tuple(word, separator), { maxLength: 14 })
  .map((parts) => parts.map(([w, sep]) => w + sep).join(''));

/** Valid destructive commands, then randomly mutated: words dropped, swapped, replaced, inserted. */
const TEMPLATES = [
  ['scans', 'delete', '289224fb-1686-472c-9751-5555960854ca', '--reason', '"old scan"'],
  ['scan', 'delete', 'a1', 'b2', '--reason=lab'],
  ['av-scan', 'pc-1.contoso.com', 'quick', '--reason', '"incident 42"'],
  ['av-scan', '1e5bc9d7e413ddd7902c2932e418702b84d0cc07', 'full', '—reason', '“it’s bad”'],
];
type Mutation = { at: number; op: 'drop' | 'swap' | 'replace' | 'insert' | 'upper'; with: string };
const mutation = fc.record({ at: fc.nat(10), op: fc.constantFrom('drop', 'swap', 'replace', 'insert', 'upper'), with: word }) as fc.Arbitrary<Mutation>;
const mutated = fc.tuple(fc.constantFrom(...TEMPLATES), fc.array(mutation, { maxLength: 3 })).map(([template, mutations]) => {
  const words = [...template];
  for (const m of mutations) {
    const i = m.at % (words.length + 1);
    if (m.op === 'drop') words.splice(i, 1);
    else if (m.op === 'swap' && i + 1 < words.length) [words[i], words[i + 1]] = [words[i + 1] as string, words[i] as string];
    else if (m.op === 'replace') words[Math.min(i, words.length - 1)] = m.with;
    else if (m.op === 'insert') words.splice(i, 0, m.with);
    else if (m.op === 'upper' && words[i] !== undefined) words[i] = (words[i] as string).toUpperCase();
  }
  return words.join(' ');
});

describe('parseCommand fuzz', () => {
  it('never throws and never accepts a destructive operation by accident (any unicode)', () => {
    fc.assert(
      fc.property(anyUnicode, (input) => {
        check(input, parseCommand(input));
      }),
      { numRuns: 500 },
    );
  });

  it('handles long inputs (up to 10k characters)', () => {
    fc.assert(
      fc.property(longUnicode, (input) => {
        check(input, parseCommand(input));
      }),
      { numRuns: 60 },
    );
  });

  it('grammar-shaped input: destructive only from `scans delete …`/`av-scan …` with --reason', () => {
    fc.assert(
      fc.property(commandish, (input) => {
        check(input, parseCommand(input));
      }),
      { numRuns: 3000 },
    );
  });

  it('mutated destructive commands: accepted only when still well-formed', () => {
    let accepted = 0;
    let refused = 0;
    fc.assert(
      fc.property(mutated, (input) => {
        const result = parseCommand(input);
        check(input, result);
        if (result.ok && result.command.approval) accepted++;
        else refused++;
      }),
      { numRuns: 2000 },
    );
    // The generator must exercise both sides of the property.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('still accepts a well-formed destructive command with arbitrary reason text', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200 }).filter((r) => r.trim().length > 0 && !/["\\\u201C-\u201F]/.test(r)), (reason) => {
        const result = parseCommand(`av-scan pc-1 quick --reason "${reason}"`);
        check(`av-scan pc-1 quick --reason "${reason}"`, result);
        // Rejected only for the secret rule (a reason like "--password …") or a control character.
        if (!result.ok) expect(result.error.message).toMatch(/secrets are never accepted|control character/);
      }),
      { numRuns: 300 },
    );
  });
});

describe('secret flags: the value never comes back', () => {
  const secretFlag = fc
    .tuple(
      fc.constantFrom('password', 'auth-password', 'priv-password', 'community', 'community-string', 'secret', 'client-secret', 'key', 'snmp-community', 'authPassword', 'PrivPassword', 'token'),
      fc.constantFrom('--', '—', '–'),
      fc.boolean(),
    )
    .map(([name, dashes, upper]) => dashes + (upper ? name.toUpperCase() : name));
  const marker = fc.stringMatching(/^[A-Za-z0-9]{10,24}$/).map((s) => `MK${s}`);
  const quoting = fc.constantFrom((v: string) => ` ${v}`, (v: string) => `=${v}`, (v: string) => ` "${v}"`, (v: string) => `="${v}"`, (v: string) => ` '${v}`, (v: string) => ` “${v}”`);

  it('any command with a secret flag is refused without echoing the value', () => {
    fc.assert(
      fc.property(commandish, secretFlag, quoting, marker, commandish, (before, flag, quote, value, after) => {
        const input = `${before} ${flag}${quote(value)} ${after}`;
        const result = parseCommand(input);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error.message).toMatch(/^secrets are never accepted in chat: .* rotate that secret\. Enter secrets in the form: `scans (create|update \S+)`$/);
          expect(JSON.stringify(result.error)).not.toContain(value);
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe('unknown flags: the value after them never comes back', () => {
  const VALID_FLAGS = new Set(COMMANDS.flatMap((c) => c.flags.map((f) => f.name)));
  const isValid = (flag: string) => VALID_FLAGS.has(flagKey(flag).replace(/^(?:-+|[\u2010-\u2015\u2212])/u, '--').split('=')[0] as string);

  /** Names from the attack run, and names written the ways chat clients and pasted text disguise them. */
  const attackNames = fc.constantFrom(
    '--pw', '--auth', '--priv', '--comm', '--creds', '--auth-key', '-password', '--kennwort', '--com\u00ADmunity',
    '--pass\u200Dword', '--pass\u2060wd', '－－password', '--ｐｗ', '—pw', '–auth', '\u2010\u2010priv', '\u2212creds', '-p', '-pw', '--PW', '--Auth-Key', '--snmp-auth', '--v3-priv',
  );
  /** A valid flag with one typo (dropped, doubled, swapped or replaced letter). */
  const misspelled = fc
    .tuple(fc.constantFrom(...VALID_FLAGS), fc.nat(), fc.constantFrom('drop', 'double', 'swap', 'replace'), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'))
    .map(([flag, at, op, letter]) => {
      const body = flag.slice(2);
      const i = at % body.length;
      const edited =
        op === 'drop' ? body.slice(0, i) + body.slice(i + 1)
        : op === 'double' ? body.slice(0, i) + body[i] + body.slice(i)
        : op === 'swap' ? body.slice(0, i) + (body[i + 1] ?? '') + body[i] + body.slice(i + 2)
        : body.slice(0, i) + letter + body.slice(i + 1);
      return `--${edited}`;
    });
  const randomName = fc.tuple(fc.constantFrom('--', '-', '—', '–', '－－'), fc.stringMatching(/^[a-z][a-z0-9-]{0,15}$/)).map(([dashes, name]) => dashes + name);
  /** A letter of the name hidden behind a format character (soft hyphen, zero-width joiner, …). */
  const disguised = fc
    .tuple(fc.constantFrom('--password', '--community', '--secret', '--pw', '--auth', '--priv'), fc.nat(), fc.constantFrom('\u00AD', '\u200C', '\u200D', '\u2060', '\u180E'))
    .map(([flag, at, hidden]) => flag.slice(0, 3 + (at % (flag.length - 3))) + hidden + flag.slice(3 + (at % (flag.length - 3))));
  const unknownFlag = fc.oneof(attackNames, misspelled, randomName, disguised).filter((flag) => !isValid(flag));

  const secretValue = fc.stringMatching(/^[A-Za-z0-9!#$%&*+.^_~@-]{6,20}$/).map((s) => `Qx7${s}`);
  const attach = fc.constantFrom((v: string) => ` ${v}`, (v: string) => `=${v}`, (v: string) => ` "${v}"`, (v: string) => `="${v}"`, (v: string) => ` '${v}'`, (v: string) => ` “${v}”`);
  /** What comes before: a real command with some of its flags, or grammar-shaped noise. */
  const validStart = fc
    .tuple(fc.constantFrom(...COMMANDS), fc.array(fc.constantFrom('x', 'pc-1', 'quick', '10.0.0.1', 'a1'), { maxLength: 2 }), fc.nat())
    .map(([c, args, n]) => [c.name, ...args, ...c.flags.slice(0, n % (c.flags.length + 1)).map((f) => (f.takesValue ? `${f.name} v` : f.name))].join(' '));
  const before = fc.oneof(validStart, commandish);

  it('a refusal names the unknown flag at most, never the value typed after it (nor anything after that)', () => {
    let refused = 0;
    fc.assert(
      fc.property(before, unknownFlag, attach, secretValue, commandish, (start, flag, join, value, after) => {
        const input = `${start} ${flag}${join(value)} ${after}`;
        const result = parseCommand(input);
        if (result.ok) return; // e.g. the flag sits inside a quoted --reason: then it is no flag at all
        refused += 1;
        const reply = `${JSON.stringify(result.error)}\n${formatParseError(result.error)}`;
        expect(reply, `input: ${JSON.stringify(input)}`).not.toContain(value);
        expect(reply).not.toContain(value.slice(0, 8));
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 3000) },
    );
    expect(refused).toBeGreaterThan(Number(process.env.FUZZ_RUNS ?? 3000) * 0.9);
  });

  it('the attack run’s names: refused without the value, secrets pointed to the form', () => {
    for (const flag of ['--pw', '--auth', '--priv', '--comm', '--creds', '--auth-key', '-password', '--kennwort', '--com\u00ADmunity', '－－password', '--ｐａｓｓｗｏｒｄ']) {
      for (const command of ['scans list', 'scans create windows --name a', 'av-scan pc-1 quick --reason r', 'scans show', 'help', 'scans']) {
        const result = parseCommand(`${command} ${flag} hunter2-Secret`);
        expect(result.ok).toBe(false);
        if (!result.ok) expect(formatParseError(result.error)).not.toContain('hunter2');
      }
      expect(parseCommand(`scans list ${flag}=hunter2-Secret`)).toMatchObject({ ok: false, error: { message: expect.stringContaining('secrets are never accepted in chat: ') } });
    }
  });
});
