import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand, type ParseResult } from '../../src/core/parser.js';
import { normalizeChatText } from '../../src/core/tokenize.js';

/** The parser's catch-all answer: reaching it means a bug (an unexpected exception inside). */
const INTERNAL_FAILURE = 'that command could not be read';

const DESTRUCTIVE_START = /^\s*(?:scans?\s+delete|av-scan)(?:\s|$)/i;
const REASON_FLAG = /(?:--|[\u2012-\u2015\u2212])reason/i;

function check(input: string, result: ParseResult): void {
  if (result.ok) {
    expect(result.command.schema.safeParse(result.operation).success).toBe(true);
    if (result.command.approval) {
      const text = normalizeChatText(input);
      expect(DESTRUCTIVE_START.test(text), `destructive from: ${JSON.stringify(input.slice(0, 200))}`).toBe(true);
      expect(REASON_FLAG.test(text)).toBe(true);
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
          expect(result.error.message).toBe('secrets are never accepted in chat; use the form: `scans create`');
          expect(JSON.stringify(result.error)).not.toContain(value);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
