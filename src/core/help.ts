/**
 * Help and suggestions, derived from the command registry.
 */
import { clean, echo } from './args.js';
import type { Command, Registry } from './command.js';

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

/** Command names, and group names (`scans`) when only one word was typed. */
function candidatesFor(registry: Registry, words: readonly string[]): string[] {
  return [...registry.commands.map((c) => c.name), ...(words.length === 1 ? registry.groups : [])];
}

/** The closest command name to the given words, if one is close enough. */
export function suggestCommand(registry: Registry, words: readonly string[], candidates: readonly string[] = candidatesFor(registry, words)): string | undefined {
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

/** Lower-case words with the first one's alias resolved (`scan list` → `scans list`). */
export function normalizeCommandWords(words: readonly string[], aliases: Readonly<Record<string, string>> = {}): string[] {
  return words.map((w, i) => (i === 0 ? (aliases[w.toLowerCase()] ?? w.toLowerCase()) : w.toLowerCase()));
}

export interface HelpText {
  title: string;
  /** General notes (quoting, secrets, approvals), shown with the overview. */
  notes: string[];
  /** The commands to show: all of them for the overview, the matching ones for `help <command>`. */
  commands: readonly Command[];
  /** True for `help <command>`: show flags and examples, not only the summaries. */
  detailed: boolean;
  /** Set for an unknown command: what went wrong, and the closest command. */
  error?: string;
  suggestion?: string;
}

const HELP_NOTES = [
  'Quote values with spaces ("Weekly servers"). Secrets go in the forms (`scans create`, `scans update <id>`), never in chat.',
  '`scans delete` and `av-scan` need --reason "…" and a second person to approve.',
];

/** The help for all commands, or for one command or group (`scans`, `scans create`). */
export function helpText(registry: Registry, command?: string): HelpText {
  const all = registry.commands;
  if (command === undefined || command.trim() === '') {
    return { title: 'mde-chatops commands', notes: HELP_NOTES, commands: all, detailed: false };
  }
  const words = normalizeCommandWords(command.trim().split(/\s+/), registry.aliases);
  const asked = words.join(' ');
  const matching = all.filter((c) => c.name === asked || c.name.startsWith(asked + ' '));
  if (matching.length > 0) return { title: `help: ${asked}`, notes: [], commands: matching, detailed: true };
  const suggestion = suggestCommand(registry, words);
  return {
    title: 'unknown command',
    notes: HELP_NOTES,
    commands: all,
    detailed: false,
    error: clean(`there is no command "${echo(command)}"${suggestion ? `; did you mean \`${suggestion}\`?` : ''}`),
    ...(suggestion ? { suggestion } : {}),
  };
}
