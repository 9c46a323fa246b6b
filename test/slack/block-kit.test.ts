/**
 * Every reply type the core makes, rendered for Slack, keeps to Block Kit's limits
 * (zod schema in ../helpers/block-kit-schema.ts): lists, filtered lists, pages, details,
 * history, help, errors, refusals, whoami, agents, approvals, and approval cards in each
 * state, plus replies stretched to their limits.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply } from '../../adapters/slack/render.js';
import type { Reply } from '../../src/core/reply.js';
import { SEED } from '../../src/emulator/index.js';
import { definitionList } from '../../src/core/views.js';
import { blockKitProblems } from '../helpers/block-kit-schema.js';
import { approvalIdIn, engineHarness, ORIGIN, USERS } from '../helpers/engine.js';

let h: Awaited<ReturnType<typeof engineHarness>>;
const run = (who: keyof typeof USERS, text: string) => h.engine.handleText(USERS[who], ORIGIN, text);
const recorded: Array<[string, Reply]> = [];

function check(name: string, reply: Reply) {
  recorded.push([name, reply]);
  const message = renderReply(reply);
  expect(blockKitProblems(message), `${name}: ${JSON.stringify(message).slice(0, 1500)}`).toEqual([]);
  return message;
}

beforeAll(async () => {
  h = await engineHarness();
});
afterAll(async () => {
  await h.close();
});

describe('Block Kit limits, for every reply type', () => {
  it.each([
    ['viewer', 'scans list'],
    ['viewer', 'scans list --type network'],
    ['viewer', 'scans list --active --search e'],
    ['viewer', 'scans list --search nothing-matches'],
    ['viewer', `scans show ${SEED.definitions.networkCore}`],
    ['viewer', `scans history ${SEED.definitions.networkCore}`],
    ['viewer', `scans history ${SEED.definitions.networkCore} ${SEED.definitions.windowsHr} ${SEED.definitions.networkLab}`],
    ['viewer', 'help'],
    ['viewer', 'help scans create'],
    ['viewer', 'help scans'],
    ['viewer', 'scnas lsit'],
    ['viewer', 'scans lst'],
    ['operator', `scans update ${SEED.definitions.networkCore} --password=hunter2`],
    ['viewer', 'whoami'],
    ['viewer', 'agents list'],
    ['viewer', 'approvals --all'],
    ['operator', 'scans create'],
    ['operator', `scans disable ${SEED.definitions.windowsHr}`],
  ] as const)('%s: %s', async (who, text) => {
    check(text, await run(who, text));
  });

  it('approval cards in every state they reach, and the approvals list', async () => {
    const id = approvalIdIn(await run('operator', 'av-scan ws-hr-01.contoso.local quick --reason "alert 3212"'));
    const rejected = approvalIdIn(await run('operator', `scans delete ${SEED.definitions.networkLab} --reason "old"`));
    check('approvals', await run('viewer', 'approvals'));
    check('reject', await run('approver', `reject ${rejected} --reason "still used"`));
    await h.engine.handleButton(USERS.approver, ORIGIN, { type: 'approval', approvalId: id, decision: 'approve' });
    await h.engine.idle();
    const posts = [...h.publisher.published, ...h.publisher.updates];
    expect(posts.length).toBeGreaterThan(3);
    for (const post of posts) check(`card ${post.view.state}`, post.card);
    expect([...new Set(posts.map((p) => p.view.state))]).toEqual(expect.arrayContaining(['pending', 'rejected', 'executing', 'succeeded']));
  });

  it('the progress card of a multi-device AV scan, from request to end', async () => {
    const id = approvalIdIn(await run('operator', 'av-scan --tag Scanner quick --reason "sweep"'));
    await h.engine.handleButton(USERS.approver, ORIGIN, { type: 'approval', approvalId: id, decision: 'approve' });
    await h.engine.idle();
    const posts = [...h.publisher.published, ...h.publisher.updates].filter((p) => p.view.id === id);
    expect(posts.some((p) => p.view.facts.some((f) => f.label === 'Progress'))).toBe(true);
    for (const post of posts) check(`bulk card ${post.view.state}`, post.card);
  });

  it('replies stretched to the limits still fit', () => {
    const long = 'x'.repeat(5000);
    const defs = Array.from({ length: 10 }, (_, i) => ({
      id: `${i}`.padStart(8, '0') + '-1686-472c-9751-5555960854ca',
      scanType: 'Network' as const,
      scanName: `${long}<&>${i}`,
      isActive: i % 2 === 0,
      target: Array.from({ length: 500 }, (_, j) => `10.0.${i}.${j}`).join(','),
      orgId: null,
      intervalInHours: 4,
      createdBy: null,
      targetType: 'Ip' as const,
      scannerAgent: null,
      latestScan: { status: 'Fail', failureReason: long, executionDateTime: '2026-01-01T00:00:00Z' },
    }));
    check('long list', definitionList([...defs, ...defs, ...defs], 2, 'scans list --page {page}', long));
  });

  it('the schema catches what Slack refuses', () => {
    expect(blockKitProblems({ text: 't', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) })).not.toEqual([]);
    expect(blockKitProblems({ text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3001) } }] })).not.toEqual([]);
    expect(blockKitProblems({ text: 't', blocks: [{ type: 'section', fields: Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' })) }] })).not.toEqual([]);
    expect(blockKitProblems({ text: 't', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] })).not.toEqual([]);
    expect(blockKitProblems({ text: 't', blocks: [{ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'b'.repeat(76) }, action_id: 'a' }] }] })).not.toEqual([]);
    expect(blockKitProblems({ text: 't', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 's' }, accessory: { type: 'overflow', action_id: 'o', options: [{ text: { type: 'plain_text', text: 'a' }, value: 'v'.repeat(76) }, { text: { type: 'plain_text', text: 'b' }, value: 'v' }] } }] })).not.toEqual([]);
  });
});
