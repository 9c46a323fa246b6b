/**
 * The policy file is reloaded while the bot runs: when it changes (a real file in a temp
 * folder, watched) and on SIGHUP. A bad new version is refused and announced, and the old
 * policy stays in force; the engine reads the policy in force at every request.
 */
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ruleFor } from '../src/core/approval-policy.js';
import { startEmulator, SEED, type Emulator } from '../src/emulator/index.js';
import { loadPolicyFile } from '../src/policy-file.js';
import { createPolicyHolder, type PolicyHolder } from '../src/policy-holder.js';
import { startBotProcess } from './helpers/bot-process.js';
import { approvalIdIn, engineHarness, ORIGIN, textOf, until } from './helpers/engine.js';

const version = (quorum: number, extra = '') => `people:
  - name: Olga Operator
    slack: U0OLG
  - name: Adam Approver
    slack: U0APP
  - name: Bea Boss
    slack: U0BEA
roles:
  operator: [Olga Operator]
  approver: [Adam Approver, Bea Boss]
rules:
  av-scan: { quorum: ${quorum} }
${extra}`;

const BAD = version(2, 'break_glass:\n  people: [Nobody Known]\n  operations: [av-scan]\n');

function policyFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'mde-policy-reload-')), 'policy.yaml');
  writeFileSync(file, text);
  return file;
}

const quorumOf = (holder: PolicyHolder) => ruleFor(holder.current(), 'av-scan', holder.defaults).quorum;

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});

describe('policy reload', () => {
  it('a changed file takes effect; a bad one is refused, announced once, and the old policy stays', async () => {
    const file = policyFile(version(1));
    const refused: string[] = [];
    const holder = createPolicyHolder({ initial: loadPolicyFile(file), file, defaults: { ttlMinutes: 60 }, onRefused: (m) => refused.push(m), debounceMs: 20 });
    holder.watch();
    try {
      expect(quorumOf(holder)).toBe(1);
      writeFileSync(file, version(2));
      await until(() => quorumOf(holder) === 2, 'the new version to take effect');

      writeFileSync(file, BAD);
      await until(() => refused.length > 0, 'the bad version to be refused');
      expect(refused[0]).toMatch(/refused; the previous policy stays in force/);
      expect(refused[0]).toMatch(/line 14: "Nobody Known" is neither a person/);
      expect(quorumOf(holder)).toBe(2);
      // Saved again unchanged (an editor, SIGHUP): refused again, but not announced twice.
      expect(holder.reload()).toMatchObject({ ok: false });
      expect(refused).toHaveLength(1);

      // Editors replace the file rather than write it: the folder watch sees that.
      const next = join(file, '..', 'policy.yaml.tmp');
      writeFileSync(next, version(1, 'break_glass:\n  people: [Bea Boss]\n  operations: [av-scan]\n'));
      renameSync(next, file);
      await until(() => quorumOf(holder) === 1, 'the replaced file to take effect');
      expect(holder.current().breakGlass?.operations).toEqual(['av-scan']);
    } finally {
      holder.close();
    }
  });

  it('SIGHUP reloads at once', async () => {
    const file = policyFile(version(1));
    // The watch would take a minute here: only the signal can reload it in time.
    const holder = createPolicyHolder({ initial: loadPolicyFile(file), file, defaults: { ttlMinutes: 60 }, debounceMs: 60_000 });
    holder.watch();
    try {
      writeFileSync(file, version(2));
      process.kill(process.pid, 'SIGHUP');
      await until(() => quorumOf(holder) === 2, 'SIGHUP to reload the file');
    } finally {
      holder.close();
    }
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });

  it('the engine reads the policy in force at every request, and a refused version changes nothing', async () => {
    const file = policyFile(version(1));
    const holder = createPolicyHolder({ initial: loadPolicyFile(file), file, defaults: { ttlMinutes: 60 } });
    const h = await engineHarness({ emulator, policy: holder });
    try {
      const olga = { id: 'slack:U0OLG', name: 'Olga Operator' };
      const first = approvalIdIn(await h.engine.handleText(olga, ORIGIN, `av-scan ${SEED.names.wsFin01} quick --reason before`));
      writeFileSync(file, version(2));
      expect(holder.reload()).toMatchObject({ ok: true, changed: true });
      const second = approvalIdIn(await h.engine.handleText(olga, ORIGIN, `av-scan ${SEED.names.linuxWeb} quick --reason after`));
      writeFileSync(file, BAD);
      expect(holder.reload()).toMatchObject({ ok: false });
      const third = approvalIdIn(await h.engine.handleText(olga, ORIGIN, `av-scan ${SEED.names.mac} quick --reason bad`));
      expect((await h.approvals.get(first))?.quorum).toBeUndefined();
      expect((await h.approvals.get(second))?.quorum).toBe(2);
      expect((await h.approvals.get(third))?.quorum).toBe(2);
      expect(textOf(await h.engine.handleText({ id: 'slack:U0APP' }, ORIGIN, 'policy show'))).toContain(`Source: the policy file ${file}`);
    } finally {
      await h.close();
      holder.close();
    }
  });

  it('the running bot (its own process) reloads on SIGHUP, refuses a bad version and carries on', async () => {
    const file = policyFile(version(1));
    const bot = await startBotProcess({ POLICY_FILE: file });
    try {
      writeFileSync(file, version(2));
      bot.child.kill('SIGHUP');
      await until(() => bot.output().includes('SIGHUP: reloading the policy file') && bot.output().includes('policy file loaded'), 'the reload on SIGHUP');
      writeFileSync(file, BAD);
      bot.child.kill('SIGHUP');
      await until(() => bot.output().includes('policy file refused'), 'the refusal');
      expect(bot.output()).toContain('Nobody Known');
      expect(bot.exited()).toBeUndefined();
      expect(await bot.healthz()).toBe(200);
    } finally {
      await bot.stop();
    }
  });
});
