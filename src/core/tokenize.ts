/**
 * Shell-like word splitting for chat text.
 *
 * - Whitespace (any Unicode space, including the no-break space Teams sends) separates words.
 * - Double quotes `"…"` and single quotes `'…'` group words; so do the typographic quotes
 *   chat clients substitute (“…” „…“ ‘…’). Any double-quote character closes any double
 *   quote, any single-quote character closes any single quote.
 * - An apostrophe inside a word (`it's`, `it’s`) is a letter, not a quote.
 * - A backslash makes the next character literal when that character is whitespace, a quote
 *   or a backslash (outside single quotes); any other backslash is kept (`CONTOSO\svc`).
 * - An unterminated quote is an error.
 *
 * `normalizeChatText` first undoes what the platforms do to typed text: Slack's `&lt;`
 * `&gt;` `&amp;` escapes and `<https://…|label>` link markup (the label is what was typed),
 * Teams' `&nbsp;`, and invisible zero-width characters pasted along with text.
 */

export interface Token {
  text: string;
  /** The first character was neither quoted nor escaped: only such a word can be a flag. */
  bare: boolean;
}

export type TokenizeResult = { ok: true; tokens: Token[] } | { ok: false; message: string };

const ENTITIES: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  nbsp: ' ',
  quot: '"',
  apos: "'",
  '#39': "'",
  '#x27': "'",
  '#160': ' ',
};

/**
 * Slack link markup → what the user typed. With escaping on, a typed `ws-01.contoso.com`
 * arrives as `<http://ws-01.contoso.com|ws-01.contoso.com>`: the label is the text. Without a
 * label, `<http://host>` is the bare host and any other link (`<https://kv.vault.azure.net/>`)
 * is the URL as typed.
 */
export function slackLinkText(url: string, label: string | undefined): string {
  if (label !== undefined && label !== '') return label;
  const bare = /^http:\/\/([^/?#\s]+?)\/?$/i.exec(url) ?? /^mailto:(.+)$/i.exec(url);
  return bare?.[1] ?? url;
}

/** Decodes platform escapes; one pass, so `&amp;lt;` becomes `&lt;`, not `<`. */
export function normalizeChatText(text: string): string {
  return (
    text
      // Slack link markup: <url|label> or <url>. Real `<` only comes from markup.
      .replace(/<((?:https?:\/\/|mailto:)[^|>\s]*)(?:\|([^>]*))?>/gi, (_m, url: string, label: string | undefined) => slackLinkText(url, label))
      .replace(/&(lt|gt|amp|nbsp|quot|apos|#39|#x27|#160);/gi, (m, name: string) => ENTITIES[name.toLowerCase()] ?? m)
      // zero-width space, word joiner, byte-order mark
      .replace(/[\u200B\u2060\uFEFF]/g, '')
  );
}

const DOUBLE_QUOTES = new Set(['"', '\u201C', '\u201D', '\u201E', '\u201F']);
const SINGLE_QUOTES = new Set(["'", '\u2018', '\u2019', '\u201A', '\u201B']);
const WORD_CHAR = /[\p{L}\p{N}]/u;
/** Control characters other than tab/newline/CR, and the bidirectional overrides. */
const FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

function isSpace(ch: string): boolean {
  return /\s/.test(ch);
}

function isQuote(ch: string): boolean {
  return DOUBLE_QUOTES.has(ch) || SINGLE_QUOTES.has(ch);
}

function hex(ch: string): string {
  return 'U+' + (ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
}

export function tokenize(text: string): TokenizeResult {
  const bad = FORBIDDEN.exec(text);
  if (bad) {
    return { ok: false, message: `the command contains an invisible control character (${hex(bad[0])}) at position ${bad.index + 1}: retype the command without it` };
  }
  const tokens: Token[] = [];
  let current = '';
  let inWord = false;
  let bare = false;
  let quote: 'double' | 'single' | null = null;
  let quoteStart = 0;
  let quoteChar = '';

  const start = (isBare: boolean) => {
    if (!inWord) {
      inWord = true;
      bare = isBare;
    }
  };

  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    const prev = i > 0 ? (text[i - 1] as string) : '';
    const next = i + 1 < text.length ? (text[i + 1] as string) : '';

    if (quote === 'single') {
      if (SINGLE_QUOTES.has(ch) && !(WORD_CHAR.test(prev) && WORD_CHAR.test(next))) quote = null;
      else current += ch;
      continue;
    }
    if (quote === 'double') {
      if (ch === '\\' && (isQuote(next) || next === '\\')) {
        current += next;
        i++;
      } else if (DOUBLE_QUOTES.has(ch)) {
        quote = null;
      } else {
        current += ch;
      }
      continue;
    }
    // outside quotes
    if (isSpace(ch)) {
      if (inWord) tokens.push({ text: current, bare });
      current = '';
      inWord = false;
      continue;
    }
    if (ch === '\\' && next !== '' && (isSpace(next) || isQuote(next) || next === '\\')) {
      start(false);
      current += next;
      i++;
      continue;
    }
    if (DOUBLE_QUOTES.has(ch)) {
      start(false);
      quote = 'double';
      quoteStart = i;
      quoteChar = ch;
      continue;
    }
    if (SINGLE_QUOTES.has(ch)) {
      if (inWord && WORD_CHAR.test(prev)) {
        current += ch; // an apostrophe inside a word
        continue;
      }
      start(false);
      quote = 'single';
      quoteStart = i;
      quoteChar = ch;
      continue;
    }
    start(true);
    current += ch;
  }
  if (quote !== null) {
    return {
      ok: false,
      message: `unterminated quote: the ${quoteChar} at position ${quoteStart + 1} is never closed (close it, or put \\ before a quote you mean literally)`,
    };
  }
  if (inWord) tokens.push({ text: current, bare });
  return { ok: true, tokens };
}
