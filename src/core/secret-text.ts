/**
 * Reading flags the way an attacker might write them, and never quoting a secret back:
 * flag names are compared in their normal form (`flagKey`), secret-looking names are
 * recognised however they are spelled, and `withoutAssignedValue` keeps only the names of
 * flags and secrets in anything a message quotes.
 */

const SECRET_WORDS = /pass|secret|community|pwd|token|credential|apikey|api-key|private-key|privkey|kennwort|wachtwoord|contrase|senha|salasana|(?:auth|priv)[-_]?key|(?:^|[-_.])pw|(?:^|[-_.])creds?$/;
/** Whole names that mean a secret on their own (SNMP's `auth` and `priv` are its two passwords). */
const SECRET_NAMES = new Set(['key', 'psk', 'auth', 'priv', 'comm', 'cred']);
/** A flag starts with one or two hyphens or a dash chat clients turn `--` into (after `flagKey`). */
export const FLAG_IN_TEXT = /(?:^|[\s"'\u201C-\u201F\u2018-\u201B=])(?:--?|[\u2010-\u2015\u2212\u2E3A\u2E3B])([^\s="'\u201C-\u201F\u2018-\u201B]+)/gu;
/** `name=value` without dashes (`community=public`): the name is checked like a flag's. */
export const ASSIGNMENT_IN_TEXT = /(?:^|[\s"'\u201C-\u201F\u2018-\u201B])([\p{L}\p{N}_.-]+)=/gu;

/**
 * The form flag names are matched in: NFKC (fullwidth and other compatibility characters
 * become plain ones: `－－ｐｗ` is `--pw`), format characters removed (a soft hyphen or a
 * zero-width joiner inside `--community` does not hide it), lower case.
 */
export function flagKey(text: string): string {
  return text.normalize('NFKC').replace(/\p{Cf}/gu, '').toLowerCase();
}

/** Whether a flag or `name=` names a secret (the registry's own flags are checked apart by the parser). */
export function namesSecret(name: string): boolean {
  const lower = flagKey(name).replace(/^(?:-+|[\u2010-\u2015\u2212\u2E3A\u2E3B])/u, '');
  return SECRET_WORDS.test(lower) || SECRET_NAMES.has(lower);
}

/** A word that reads as a flag once normalised: dashes then a letter or digit (`--pw`, `—auth`, `－－ｐｗ`), or one hyphen then a letter (`-password`). */
export function looksLikeFlag(text: string): boolean {
  return /^(?:--|[\u2010-\u2015\u2212\u2E3A\u2E3B])[\p{L}\p{N}]|^-\p{L}/u.test(flagKey(text));
}

/** The name of a flag-looking word without its inline value (`--pw=x` → `--pw`). */
export function flagNameOf(text: string): string {
  const key = flagKey(text);
  const eq = key.indexOf('=');
  return eq >= 0 ? key.slice(0, eq) : key;
}

/** `=` and the characters NFKC turns into it: the raw text is split at the same place as its `flagKey`. */
export const EQUALS = /[=\uFF1D\uFE66\u207C\u208C]/u;

/**
 * What a message may quote of a piece of input: a word that reads as a flag keeps its name
 * only (`--pw=x` → `--pw=…`), and so does a secret's name (`community=public` →
 * `community=…`); nothing after a flag is quoted (`a --pw x y` → `a --pw …`).
 */
export function withoutAssignedValue(input: string): string {
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
    if (eq >= 0 && namesSecret(name)) parts[i] = `${flagNameOf(name)}=…`;
  }
  return parts.join('');
}

