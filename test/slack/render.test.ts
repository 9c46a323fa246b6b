import { describe, expect, it } from 'vitest';
import type { ApprovalView, Block, Reply } from '../../src/core/reply.js';
import {
  ACTION_PATTERN,
  chunkMrkdwn,
  decodeAction,
  encodeAction,
  escapeMrkdwn,
  fitMrkdwn,
  LIMITS,
  renderApproval,
  renderReply,
} from '../../adapters/slack/render.js';

const reply = (...blocks: Block[]): Reply => ({ visibility: 'public', blocks, summary: 'summary <b> & co' });

/** Every text Slack would show, with its limit checked. */
function checkLimits(blocks: any[]) {
  expect(blocks.length).toBeLessThanOrEqual(LIMITS.blocks);
  const actionIds = new Set<string>();
  for (const b of blocks) {
    if (b.type === 'section') {
      if (b.text) expect(b.text.text.length).toBeLessThanOrEqual(LIMITS.text);
      if (b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(LIMITS.fields);
        for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(LIMITS.fieldText);
      }
    }
    if (b.type === 'header') expect([...b.text.text].length).toBeLessThanOrEqual(LIMITS.header);
    if (b.type === 'context') for (const e of b.elements) expect(e.text.length).toBeLessThanOrEqual(LIMITS.text);
    if (b.type === 'actions') {
      expect(b.elements.length).toBeLessThanOrEqual(LIMITS.actionsElements);
      for (const e of b.elements) {
        expect([...e.text.text].length).toBeLessThanOrEqual(LIMITS.buttonText);
        expect(e.value.length).toBeLessThanOrEqual(LIMITS.buttonValue);
        expect(actionIds.has(e.action_id)).toBe(false);
        actionIds.add(e.action_id);
      }
    }
  }
}

describe('mrkdwn escaping', () => {
  it('escapes &, < and > and nothing else', () => {
    expect(escapeMrkdwn('<@U123> & <!channel> `code` *b*')).toBe('&lt;@U123&gt; &amp; &lt;!channel&gt; `code` *b*');
  });

  it('cuts text to fit after escaping, never inside an entity', () => {
    const out = fitMrkdwn('<'.repeat(100), 20);
    expect(out.length).toBeLessThanOrEqual(20);
    expect(out).toMatch(/^(&lt;)+…$/);
  });

  it('chunks long text into pieces of at most the limit', () => {
    const text = Array.from({ length: 400 }, (_, i) => `line ${i} <${'x'.repeat(20)}>`).join('\n');
    const chunks = chunkMrkdwn(text, 3000);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(3000);
    expect(chunks.join('\n')).toBe(escapeMrkdwn(text));
    const oneLine = chunkMrkdwn('&'.repeat(5000), 3000);
    for (const c of oneLine) expect(c.length).toBeLessThanOrEqual(3000);
    expect(oneLine.join('')).toBe('&amp;'.repeat(5000));
  });
});

describe('renderReply', () => {
  it('renders a heading as a header block (plain text, cut to 150)', () => {
    const { blocks } = renderReply(reply({ type: 'heading', text: 'H'.repeat(400) }));
    expect(blocks[0]).toMatchObject({ type: 'header', text: { type: 'plain_text' } });
    checkLimits(blocks);
  });

  it('renders text with its tone and escapes it', () => {
    const { blocks, text } = renderReply(reply({ type: 'text', text: 'Nope <@U1> & more', tone: 'error' }, { type: 'text', text: 'ok', tone: 'success' }, { type: 'text', text: 'hm', tone: 'warning' }, { type: 'text', text: 'plain' }));
    expect(blocks.map((b: any) => b.text.text)).toEqual([':x: Nope &lt;@U1&gt; &amp; more', ':white_check_mark: ok', ':warning: hm', 'plain']);
    expect(text).toBe('summary &lt;b&gt; &amp; co');
  });

  it('splits a text longer than 3,000 characters into several sections', () => {
    const { blocks } = renderReply(reply({ type: 'text', text: 'word '.repeat(2000) }));
    expect(blocks.length).toBeGreaterThan(3);
    checkLimits(blocks);
  });

  it('renders facts as fields, at most 10 to a section', () => {
    const facts = Array.from({ length: 23 }, (_, i) => ({ label: `L${i}`, value: i === 0 ? 'v'.repeat(5000) : `<v${i}>` }));
    const { blocks } = renderReply(reply({ type: 'facts', facts }));
    expect(blocks).toHaveLength(3);
    expect((blocks[0] as any).fields).toHaveLength(10);
    expect((blocks[2] as any).fields).toHaveLength(3);
    expect((blocks[1] as any).fields[0].text).toBe('*L10*\n&lt;v10&gt;');
    checkLimits(blocks);
  });

  it('renders code in a preformatted section', () => {
    const { blocks } = renderReply(reply({ type: 'code', text: 'Usage: scans list [--type windows|network] <x>' }));
    expect((blocks[0] as any).text.text).toBe('```Usage: scans list [--type windows|network] &lt;x&gt;```');
  });

  it('renders buttons with the action as compact JSON and unique action ids', () => {
    const { blocks } = renderReply(
      reply({
        type: 'buttons',
        buttons: [
          { label: 'History', action: { type: 'command', command: 'scans history abc' } },
          { label: 'Edit '.repeat(40), action: { type: 'form', form: 'update', definitionId: 'abc' } },
          { label: 'Too big', action: { type: 'command', command: 'x'.repeat(3000) } },
        ],
      }),
    );
    const els = (blocks[0] as any).elements;
    expect(els).toHaveLength(2); // the oversized value is left out, never cut
    expect(els[0].action_id).toMatch(ACTION_PATTERN.command);
    expect(els[1].action_id).toMatch(ACTION_PATTERN.form);
    expect(decodeAction(els[0].value)).toEqual({ type: 'command', command: 'scans history abc' });
    expect(decodeAction(els[1].value)).toEqual({ type: 'form', form: 'update', definitionId: 'abc' });
    checkLimits(blocks);
  });

  it('renders a table as readable sections with paging buttons', () => {
    const { blocks } = renderReply(
      reply({
        type: 'table',
        columns: ['Name', 'Type', 'Status'],
        rows: [
          ['Weekly <servers>', 'Windows', 'active'],
          ['Routers', 'Network', ''],
        ],
        paging: { page: 2, pages: 3, total: 25, command: 'scans list --type network --page {page}' },
      }),
    );
    expect((blocks[0] as any).text.text).toBe('*Weekly &lt;servers&gt;*\nType: Windows · Status: active\n\n*Routers*\nType: Network · Status: —');
    expect((blocks[1] as any).elements[0].text).toBe('Page 2 of 3 · 25 in all');
    const buttons = (blocks[2] as any).elements;
    expect(buttons.map((b: any) => b.text.text)).toEqual(['◀ Previous', 'Next ▶']);
    expect(buttons.every((b: any) => ACTION_PATTERN.page.test(b.action_id))).toBe(true);
    expect(buttons.map((b: any) => decodeAction(b.value))).toEqual([
      { type: 'command', command: 'scans list --type network --page 1' },
      { type: 'command', command: 'scans list --type network --page 3' },
    ]);
  });

  it('leaves out Previous on the first page and Next on the last', () => {
    const first = renderReply(reply({ type: 'table', columns: ['A'], rows: [['x']], paging: { page: 1, pages: 2, total: 11, command: 'scans list --page {page}' } }));
    expect((first.blocks.at(-1) as any).elements.map((b: any) => b.text.text)).toEqual(['Next ▶']);
    const last = renderReply(reply({ type: 'table', columns: ['A'], rows: [['x']], paging: { page: 2, pages: 2, total: 11, command: 'scans list --page {page}' } }));
    expect((last.blocks.at(-1) as any).elements.map((b: any) => b.text.text)).toEqual(['◀ Previous']);
  });

  it('truncates a long table with a note and keeps the paging', () => {
    const rows = Array.from({ length: 400 }, (_, i) => [`Definition ${i}`, 'x'.repeat(380), 'y'.repeat(380)]);
    const { blocks } = renderReply(reply({ type: 'heading', text: 'Many' }, { type: 'table', columns: ['Name', 'A', 'B'], rows, paging: { page: 1, pages: 2, total: 800, command: 'scans list --page {page}' } }));
    checkLimits(blocks);
    expect(blocks.length).toBeLessThanOrEqual(50);
    const note = blocks.find((b: any) => b.type === 'context' && /more rows not shown/.test(b.elements[0].text)) as any;
    expect(note).toBeDefined();
    const shown = blocks.filter((b: any) => b.type === 'section').map((b: any) => b.text.text.split('\n\n').length).reduce((a, b) => a + b, 0);
    expect(note.elements[0].text).toContain(`${400 - shown} more rows`);
    expect(blocks.at(-1)).toMatchObject({ type: 'actions' });
  });

  it('says so for an empty table', () => {
    const { blocks } = renderReply(reply({ type: 'table', columns: ['A'], rows: [] }));
    expect((blocks[0] as any).text.text).toBe('_No rows._');
  });

  it('renders a form block as an "Open the form" button', () => {
    const { blocks } = renderReply(reply({ type: 'form', form: { kind: 'update', title: 'Update scan', definitionId: 'd1', fields: [], submitLabel: 'Save' } }));
    const button = (blocks.at(-1) as any).elements[0];
    expect(button.action_id).toMatch(ACTION_PATTERN.form);
    expect(decodeAction(button.value)).toEqual({ type: 'form', form: 'update', definitionId: 'd1' });
  });

  it('never renders more than 50 blocks', () => {
    const blocks: Block[] = Array.from({ length: 80 }, (_, i) => ({ type: 'text', text: `para ${i}` }));
    const out = renderReply(reply(...blocks)).blocks;
    expect(out).toHaveLength(50);
    expect((out.at(-1) as any).elements[0].text).toMatch(/31 more blocks not shown/);
  });
});

describe('approval card', () => {
  const pending: ApprovalView = {
    id: 'A234567',
    state: 'pending',
    stateLabel: 'Waiting for an approver',
    title: 'Approval request A234567: delete 1 scan definition',
    facts: [{ label: 'Definition ids', value: 'abc' }],
    requester: 'Olivia <script> (slack:U1)',
    reason: 'duplicate & old',
    createdAt: '2030-01-01 10:00 UTC',
    expiresAt: '2030-01-01 11:00 UTC',
    badge: { text: 'Waiting for an approver', kind: 'warning' },
    timeline: [
      { text: 'Requested by Olivia <script>', at: '2030-01-01 10:00 UTC', ago: '3 min ago' },
      { text: 'Waiting for an approver (expires in 57 min)', pending: true },
    ],
    ids: [{ label: 'Machine id', value: '7f3c9e0a2b1d4c5e6f708192a3b4c5d6e7f80912' }],
    buttons: [
      { label: 'Approve', style: 'primary', action: { type: 'approval', approvalId: 'A234567', decision: 'approve' } },
      { label: 'Reject', style: 'danger', action: { type: 'approval', approvalId: 'A234567', decision: 'reject' } },
    ],
  };

  it('shows title, facts, requester, reason, expiry and Approve / Reject while pending', () => {
    const blocks = renderApproval(pending) as any[];
    checkLimits(blocks);
    expect(blocks[0]).toMatchObject({ type: 'header', text: { text: pending.title } });
    const texts = JSON.stringify(blocks);
    expect(texts).toContain('Olivia &lt;script&gt; (slack:U1)');
    expect(texts).toContain('duplicate &amp; old');
    expect(texts).toContain('expires in 57 min');
    // The full machine id is a copyable code span; the timeline says who asked and when.
    expect(texts).toContain('`7f3c9e0a2b1d4c5e6f708192a3b4c5d6e7f80912`');
    expect(texts).toContain(':large_green_circle: Requested by Olivia &lt;script&gt; — 2030-01-01 10:00 UTC (3 min ago)');
    const actions = blocks.find((b) => b.type === 'actions');
    expect(actions.elements.map((e: any) => [e.text.text, e.style])).toEqual([
      ['Approve', 'primary'],
      ['Reject', 'danger'],
    ]);
    expect(actions.elements.every((e: any) => ACTION_PATTERN.approval.test(e.action_id))).toBe(true);
    expect(decodeAction(actions.elements[0].value)).toEqual({ type: 'approval', approvalId: 'A234567', decision: 'approve' });
  });

  it('after a decision: who decided, when, the outcome, and no buttons', () => {
    const done: ApprovalView = {
      ...pending,
      state: 'succeeded',
      decidedBy: 'Adam (slack:U2)',
      decidedAt: '2030-01-01 10:05 UTC',
      outcome: { text: 'Deleted 1 definition', tone: 'success' },
      timeline: [pending.timeline[0]!, { text: 'Approved by Adam (slack:U2)', at: '2030-01-01 10:05 UTC', tone: 'success' }, { text: 'Finished: Succeeded', at: '2030-01-01 10:05 UTC', tone: 'success' }],
      buttons: [],
    };
    const blocks = renderApproval(done) as any[];
    const texts = JSON.stringify(blocks);
    expect(texts).toContain('Approved by');
    expect(texts).toContain('Adam (slack:U2)');
    expect(texts).toContain('2030-01-01 10:05 UTC');
    expect(texts).toContain(':white_check_mark: Deleted 1 definition');
    expect(blocks.some((b) => b.type === 'actions')).toBe(false);
    // Even if a view still carried buttons, a decided card shows none.
    expect(renderApproval({ ...done, buttons: pending.buttons }).some((b) => b.type === 'actions')).toBe(false);
  });

  it('an expired card says so', () => {
    const texts = JSON.stringify(
      renderApproval({ ...pending, state: 'expired', buttons: [], timeline: [pending.timeline[0]!, { text: 'Expired without a decision', at: '2030-01-01 11:00 UTC', tone: 'warning' }], outcome: { text: 'Expired without a decision.', tone: 'warning' } }),
    );
    expect(texts).toContain('Expired');
    expect(texts).toContain(':large_orange_circle: Expired without a decision — 2030-01-01 11:00 UTC');
  });
});

describe('button values', () => {
  it('round-trip and refuse foreign values', () => {
    const a = { type: 'approval', approvalId: 'A1', decision: 'reject' } as const;
    expect(decodeAction(encodeAction(a))).toEqual(a);
    expect(decodeAction('{"type":"approval","approvalId":"A1","decision":"maybe"}')).toBeNull();
    expect(decodeAction('not json')).toBeNull();
    expect(decodeAction(undefined)).toBeNull();
    // Overflow options carry a command compactly (Slack allows 75 characters there).
    expect(decodeAction('c:scans show 289224fb-1686-472c-9751-5555960854ca')).toEqual({ type: 'command', command: 'scans show 289224fb-1686-472c-9751-5555960854ca' });
    expect(decodeAction('c:')).toBeNull();
  });
});

describe('compact list', () => {
  it('one line per item, badge marker and word, buttons in an overflow menu, paging', () => {
    const { blocks } = renderReply(
      reply({
        type: 'items',
        items: [
          {
            badge: { text: 'Active', kind: 'good' },
            title: 'Core <switches>',
            meta: ['Network', '10.0.0.1 +2', 'every 4 h', 'last scan partly succeeded 1 h ago'],
            note: { text: 'Target 10.0.0.3 did not answer', tone: 'warning' },
            buttons: [
              { label: 'Show', action: { type: 'command', command: 'scans show 289224fb-1686-472c-9751-5555960854ca' } },
              { label: 'History', action: { type: 'command', command: 'scans history 289224fb-1686-472c-9751-5555960854ca' } },
            ],
          },
        ],
        paging: { page: 1, pages: 2, total: 11, command: 'scans list --page {page}' },
      }),
    );
    checkLimits(blocks);
    const row = blocks[0] as any;
    expect(row.text.text).toBe(':large_green_circle: *Core &lt;switches&gt;* · Active · Network · 10.0.0.1 +2 · every 4 h · last scan partly succeeded 1 h ago\n:warning: _Target 10.0.0.3 did not answer_');
    expect(row.accessory.type).toBe('overflow');
    expect(row.accessory.action_id).toMatch(ACTION_PATTERN.command);
    expect(row.accessory.options.map((o: any) => [o.text.text, decodeAction(o.value)])).toEqual([
      ['Show', { type: 'command', command: 'scans show 289224fb-1686-472c-9751-5555960854ca' }],
      ['History', { type: 'command', command: 'scans history 289224fb-1686-472c-9751-5555960854ca' }],
    ]);
    for (const o of row.accessory.options) expect(o.value.length).toBeLessThanOrEqual(75);
    expect((blocks[1] as any).elements[0].text).toBe('Page 1 of 2 · 11 in all');
  });
});
