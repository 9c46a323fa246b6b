/** The one vocabulary of words and times, failure causes, and the messages issue 18 named. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { actionText } from '../../src/core/tracker.js';
import { ago, statusBadge, when, whenAgo } from '../../src/core/views.js';
import { SEED } from '../../src/emulator/index.js';
import { engineHarness, ORIGIN, textOf, USERS } from '../helpers/engine.js';

const NOW = new Date('2026-11-23T12:00:00Z');

describe('times and status words', () => {
  it('UTC and relative times', () => {
    expect(when('2026-11-23T09:00:00Z')).toBe('2026-11-23 09:00 UTC');
    expect(ago('2026-11-23T09:00:00Z', NOW)).toBe('3 h ago');
    expect(ago('2026-11-23T11:59:30Z', NOW)).toBe('just now');
    expect(ago('2026-11-23T11:48:00Z', NOW)).toBe('12 min ago');
    expect(ago('2026-11-20T12:00:00Z', NOW)).toBe('3 d ago');
    expect(ago('2026-11-23T12:40:00Z', NOW)).toBe('in 40 min');
    expect(whenAgo('2026-11-23T09:00:00Z', NOW)).toBe('2026-11-23 09:00 UTC (3 h ago)');
    expect(ago('not a time', NOW)).toBe('');
  });

  it('MDE’s words become one set: Success and Succeeded are both "Succeeded"', () => {
    expect(statusBadge('Success')).toEqual({ text: 'Succeeded', kind: 'good' });
    expect(statusBadge('Succeeded')).toEqual({ text: 'Succeeded', kind: 'good' });
    expect(statusBadge('Fail').text).toBe('Failed');
    expect(statusBadge('Partial Success')).toEqual({ text: 'Partly succeeded', kind: 'warning' });
    expect(statusBadge('TimeOut').text).toBe('Timed out');
    expect(statusBadge(null).text).toBe('Never scanned');
  });

  it('an AV failure names its cause in words and the next step', () => {
    const failed = actionText({ status: 'Failed', errorHResult: -2147467259 } as never);
    expect(failed).toMatch(/^Scan failed: the scan failed on the device \(unspecified error\) \(0x80004005\)\. Check the device/);
    expect(actionText({ status: 'Failed', errorHResult: 0x80072efd } as never)).toContain('device offline');
    expect(actionText({ status: 'TimeOut', errorHResult: null } as never)).toContain('device offline or timed out');
    expect(actionText({ status: 'Failed', errorHResult: 0x8000ffff } as never)).toContain('error 0x8000FFFF');
  });
});

describe('messages', () => {
  let h: Awaited<ReturnType<typeof engineHarness>>;
  beforeAll(async () => {
    h = await engineHarness();
  });
  afterAll(async () => {
    await h.close();
  });
  const run = (who: keyof typeof USERS, text: string) => h.engine.handleText(USERS[who], ORIGIN, text);

  it('a typo gets one suggestion', async () => {
    for (const typo of ['scans lsit', 'scnas list', 'hepl']) {
      const text = textOf(await run('viewer', typo));
      expect(text.match(/did you mean/gi), `${typo}: ${text}`).toHaveLength(1);
    }
  });

  it('a refused secret names the flag, says it was not stored or echoed, advises rotating it, and names the form typed', async () => {
    const update = textOf(await run('operator', `scans update ${SEED.definitions.networkCore} --password=hunter2`));
    expect(update).toContain('--password was refused');
    expect(update).toContain('not stored or echoed');
    expect(update).toContain('rotate that secret');
    expect(update).toContain(`\`scans update ${SEED.definitions.networkCore}\``);
    expect(update).not.toContain('scans create');
    expect(update).not.toContain('hunter2');
    const create = textOf(await run('operator', 'scans create network --name x --community public'));
    expect(create).toContain('--community was refused');
    expect(create).toContain('`scans create`');
    expect(create).not.toContain('public');
  });

  it('disabling a disabled definition says nothing changed', async () => {
    const reply = await run('operator', `scans disable ${SEED.definitions.windowsHr}`);
    expect(reply.summary).toMatch(/is already disabled: nothing changed/);
  });
});
