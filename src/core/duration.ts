/**
 * Durations as people write them in commands and the policy file: a whole number and a
 * unit, `30s`, `15m`, `2h`, `7d` (the grammar DESIGN.md gives). One parser for the bot.
 */
export const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d{1,6})([smhd])$/i;

/** Milliseconds, or `null` when the text is not a duration (or is zero). */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!.toLowerCase() as keyof typeof UNIT_MS];
  return ms > 0 ? ms : null;
}

export const DURATION_HINT = 'a number and a unit: 30s, 15m, 2h or 7d';
