/** What is derived from the command registry is current in the files people read. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../src/core/commands/index.js';
import { commandTable, README, SLACK_MANIFEST, slackUsageHint, withTable, withUsageHint } from '../scripts/commands-doc.js';

describe('generated command documentation', () => {
  it('the README command table is the registry (npm run docs:commands)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withTable(readme)).toBe(readme);
    for (const c of COMMANDS) expect(commandTable()).toContain(c.summary);
  });

  it('the Slack manifest usage hint is the registry (npm run docs:commands)', () => {
    const manifest = readFileSync(SLACK_MANIFEST, 'utf8');
    expect(withUsageHint(manifest)).toBe(manifest);
    expect(manifest).toContain(JSON.stringify(slackUsageHint()));
  });

  it('a changed registry changes the table', () => {
    const fewer = COMMANDS.filter((c) => c.name !== 'agents list');
    expect(commandTable(fewer)).not.toContain('agents list');
    expect(commandTable()).toContain('`agents list`');
  });
});
