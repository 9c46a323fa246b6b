/** Reply → Adaptive Card: template choice, 1.5 validity, secrets, buttons and refresh, text handling. */
import { STATE_LABEL } from '../../src/core/views.js';
import { describe, expect, it } from 'vitest';
import { parseActionData } from '../../adapters/teams/actions.js';
import { cardKind, commandText, renderForm, renderReply } from '../../adapters/teams/index.js';
import { escapeMarkdown } from '../../adapters/teams/render.js';
import type { ApprovalView, FormSpec, Reply } from '../../src/core/reply.js';
import { errorReply, textReply } from '../../src/core/reply.js';
import { adaptiveCardProblems, expectValidCard } from '../helpers/teams-cards.js';
import { actionTitles, cardText, findAction, rawCardTexts, unescapeMarkdown } from '../helpers/teams-connector.js';

const list: Reply = {
  visibility: 'public',
  summary: 'Scan definitions: 23',
  blocks: [
    { type: 'heading', text: 'Scan definitions: 23' },
    { type: 'table', columns: ['Name', 'Id'], rows: [['Servers', 'c8fd401a'], ['', 'x']], paging: { page: 2, pages: 3, total: 23, command: 'scans list --type network --page {page}' } },
  ],
};
const detail: Reply = {
  visibility: 'public',
  summary: 'Scan definition X',
  blocks: [
    { type: 'heading', text: 'Scan definition: X' },
    { type: 'facts', facts: [{ label: 'Name', value: 'X' }, { label: 'Targets', value: '' }] },
    { type: 'text', text: 'Latest scan failed', tone: 'warning' },
    { type: 'buttons', buttons: [{ label: 'History', action: { type: 'command', command: 'scans history 1' } }, { label: 'Edit', action: { type: 'form', form: 'update', definitionId: '1' } }] },
  ],
};
const history: Reply = { visibility: 'public', summary: 'h', blocks: [{ type: 'heading', text: 'Scan history: X' }, { type: 'table', columns: ['Definition', 'Scanned'], rows: [['X', '2026-01-01 10:00 UTC']] }] };
const help: Reply = {
  visibility: 'private',
  summary: 'help: av-scan',
  blocks: [{ type: 'heading', text: 'help: av-scan' }, { type: 'text', text: 'Request an AV scan.\nRole: operator.' }, { type: 'code', text: 'Usage: av-scan <machine> quick|full --reason "text"\nExample: av-scan pc1 quick --reason x' }],
};
const approval = (state: ApprovalView['state'], extra: Partial<ApprovalView> = {}): Reply => {
  const view: ApprovalView = {
    id: 'A234567',
    state,
    stateLabel: STATE_LABEL[state],
    title: 'Approval request A234567: quick antivirus scan on pc-1',
    facts: [{ label: 'Machine id', value: 'abc' }],
    requester: 'Olivia (teams:1)',
    reason: 'suspicious ${download}',
    createdAt: '2026-01-01 10:00 UTC',
    expiresAt: '2026-01-01 11:00 UTC',
    badge: { text: STATE_LABEL[state], kind: state === 'pending' ? 'warning' : 'neutral' },
    timeline: [{ text: 'Requested by Olivia', at: '2026-01-01 10:00 UTC', ago: '3 min ago' }],
    ids: [],
    buttons:
      state === 'pending'
        ? [
            { label: 'Approve', style: 'primary', action: { type: 'approval', approvalId: 'A234567', decision: 'approve' } },
            { label: 'Reject', style: 'danger', action: { type: 'approval', approvalId: 'A234567', decision: 'reject' } },
          ]
        : [],
    ...extra,
  };
  return { visibility: 'public', summary: view.title, blocks: [{ type: 'approval', approval: view }] };
};
const form: FormSpec = {
  kind: 'update',
  title: 'Update scan',
  definitionId: 'def-1',
  submitLabel: 'Save',
  error: 'Fix the marked fields.',
  fields: [
    { name: 'scanName', label: 'Scan name', kind: 'text', required: true, value: 'Servers', error: 'already taken' },
    { name: 'intervalInHours', label: 'Interval (hours)', kind: 'number', required: true, value: '24' },
    { name: 'targetType', label: 'Target type', kind: 'choice', required: true, value: 'Ip', options: [{ value: 'Ip', label: 'IP address' }, { value: 'Hostname', label: 'Host name' }] },
    { name: 'active', label: 'Active', kind: 'toggle', required: false, value: 'false' },
    { name: 'communityString', label: 'Community string', kind: 'secret', required: false, value: 'MUST-NOT-SHOW', hint: 'Not used with Key Vault.' },
  ],
};

describe('template choice', () => {
  it.each([
    [list, 'list'],
    [detail, 'detail'],
    [history, 'history'],
    [help, 'help'],
    [errorReply('Unknown command "x".', 'help [command]'), 'error'],
    [textReply('Approval request A1 created.', { tone: 'success' }), 'text'],
    [approval('pending'), 'approval'],
    [{ visibility: 'private', summary: 'f', blocks: [{ type: 'form', form }] } as Reply, 'form'],
  ] as const)('%#: %s', (reply, kind) => {
    expect(cardKind(reply as Reply)).toBe(kind);
    expectValidCard(renderReply(reply as Reply));
  });
});

describe('cards', () => {
  it('a list pages with Action.Execute buttons that run the paging command in place', () => {
    const card = renderReply(list);
    expect(cardText(card)).toContain('Page 2 of 3 · 23 in all');
    expect(actionTitles(card)).toEqual(['Previous page', 'Next page']);
    const next = parseActionData(findAction(card, 'Next page').data);
    expect(next?.payload).toEqual({ t: 'button', action: { type: 'command', command: 'scans list --type network --page 3' }, replace: true });
  });

  it('a detail card’s trailing buttons become its actions; empty values show a dash', () => {
    const card = renderReply(detail);
    expect(actionTitles(card)).toEqual(['History', 'Edit']);
    expect(findAction(card, 'Edit').verb).toBe('openForm');
    expect(cardText(card)).toContain('Targets: —');
  });

  it('lines are separate TextBlocks (a single newline does not break a line in a card)', () => {
    const texts = cardText(renderReply(help)).split('\n');
    expect(texts).toEqual(expect.arrayContaining(['Request an AV scan.', 'Role: operator.', 'Example: av-scan pc1 quick --reason x']));
  });

  it('user text is never evaluated as a template expression', () => {
    const card = renderReply(approval('pending'));
    expect(cardText(card)).toContain('suspicious ${download}');
  });

  it('the form: an input for every field, errors beside them, secrets never prefilled, Action.Execute submitForm', () => {
    const card = renderForm(form);
    expectValidCard(card);
    const json = JSON.stringify(card);
    expect(json).not.toContain('MUST-NOT-SHOW');
    const inputs = (card.body as any[]).flatMap((b) => b.items ?? []).filter((i: any) => i.type?.startsWith('Input.'));
    expect(inputs.map((i: any) => [i.id, i.type])).toEqual([
      ['scanName', 'Input.Text'],
      ['intervalInHours', 'Input.Number'],
      ['targetType', 'Input.ChoiceSet'],
      ['active', 'Input.Toggle'],
      ['communityString', 'Input.Text'],
    ]);
    expect(inputs.find((i: any) => i.id === 'communityString')).toMatchObject({ style: 'password' });
    expect(inputs.find((i: any) => i.id === 'communityString').value).toBeUndefined();
    expect(inputs.find((i: any) => i.id === 'intervalInHours').value).toBe(24);
    expect(inputs.find((i: any) => i.id === 'scanName')).toMatchObject({ isRequired: true, errorMessage: 'Scan name is required', value: 'Servers' });
    expect(cardText(card)).toContain('already taken');
    expect(cardText(card)).toContain('Fix the marked fields.');
    const submit = findAction(card, 'Save');
    expect(submit.verb).toBe('submitForm');
    expect(parseActionData({ ...submit.data, scanName: 'New' })).toEqual({ payload: { t: 'submitForm', kind: 'update', definitionId: 'def-1' }, inputs: { scanName: 'New' } });
  });

  it('approval cards: buttons while pending, none after; refresh lists approvers (at most 60); a notice on top', () => {
    const pending = renderReply(approval('pending'), { refreshUserIds: Array.from({ length: 70 }, (_, i) => `29:user-${i}`) });
    expect(actionTitles(pending)).toEqual(['Approve', 'Reject']);
    expect((pending.refresh as any).userIds).toHaveLength(60);
    expect((pending.refresh as any).action).toMatchObject({ type: 'Action.Execute', verb: 'refresh' });
    const readOnly = renderReply(approval('pending'), { approvalButtons: false, notice: { text: 'You requested A234567 yourself.', tone: 'error' } });
    expect(actionTitles(readOnly)).toEqual([]);
    expect(cardText(readOnly).split('\n')[0]).toBe('You requested A234567 yourself.');
    const done = renderReply(
      approval('succeeded', {
        decidedBy: 'Adam (teams:2)',
        decidedAt: '2026-01-01 10:05 UTC',
        outcome: { text: 'Scan Succeeded', tone: 'success' },
        timeline: [
          { text: 'Requested by Olivia', at: '2026-01-01 10:00 UTC', ago: '8 min ago' },
          { text: 'Approved by Adam (teams:2)', at: '2026-01-01 10:05 UTC', ago: '3 min ago', tone: 'success' },
          { text: 'Finished: Succeeded', at: '2026-01-01 10:07 UTC', ago: '1 min ago', tone: 'success' },
        ],
        ids: [{ label: 'Machine id', value: '7f3c9e0a2b1d4c5e6f708192a3b4c5d6e7f80912' }],
      }),
      { refreshUserIds: ['29:x'] },
    );
    expect(actionTitles(done)).toEqual([]);
    expect(done.refresh).toBeUndefined();
    expect(cardText(done)).toContain('● Approved by Adam (teams:2) · 2026-01-01 10:05 UTC (3 min ago)');
    expect(cardText(done)).toContain('Machine id: 7f3c9e0a2b1d4c5e6f708192a3b4c5d6e7f80912');
    // The state sits on a semantic container with the default text colour (AA on light and dark themes).
    const header = (done.body as any[]).find((b) => b.type === 'Container' && b.style === 'good');
    expect(JSON.stringify(header)).toContain('✓ Succeeded');
    expect(JSON.stringify(done)).not.toMatch(/"color":"(Good|Warning|Attention)"/);
    for (const card of [pending, readOnly, done]) expectValidCard(card);
    for (const state of ['approved', 'executing', 'failed', 'rejected', 'expired'] as const) expectValidCard(renderReply(approval(state)));
  });

  it('a compact list: one row per item with its badge, meta line, note and Show / History', () => {
    const card = renderReply({
      visibility: 'public',
      summary: 'Scan definitions: 1',
      blocks: [
        { type: 'heading', text: 'Scan definitions: 1' },
        {
          type: 'items',
          items: [
            {
              badge: { text: 'Active', kind: 'good' },
              title: 'Core **switches**',
              meta: ['Network', '10.0.0.1 +2', 'last scan failed 1 h ago'],
              note: { text: 'Scanner offline', tone: 'error' },
              buttons: [
                { label: 'Show', action: { type: 'command', command: 'scans show 1' } },
                { label: 'History', action: { type: 'command', command: 'scans history 1' } },
              ],
            },
          ],
        },
      ],
    });
    expectValidCard(card);
    expect(cardKind({ visibility: 'public', summary: '', blocks: [{ type: 'heading', text: 'x' }, { type: 'items', items: [] }] })).toBe('list');
    const text = cardText(card).split('\n');
    expect(text).toEqual(expect.arrayContaining(['✓ Active', 'Core **switches**', 'Network · 10.0.0.1 +2 · last scan failed 1 h ago', 'Scanner offline']));
    expect(actionTitles(card)).toEqual(['Show', 'History']);
    expect(JSON.stringify(card)).toContain('"style":"attention"');
  });

  it('the validity check itself catches broken cards', () => {
    expect(adaptiveCardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Nope' }] })).not.toEqual([]);
    expect(adaptiveCardProblems({ type: 'AdaptiveCard', version: '1.6', body: [] })).not.toEqual([]);
    expect(adaptiveCardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'TextBlock', text: '${unbound}' }] })).not.toEqual([]);
    expect(adaptiveCardProblems({ type: 'AdaptiveCard', version: '1.5', body: [{ type: 'Input.Text' }] })).not.toEqual([]);
  });
});

describe('command text', () => {
  const bot = { id: '28:bot', name: 'MDE Bot' };
  const mention = (text: string, entityText = '<at>MDE Bot</at>') => ({ text, recipient: bot, entities: [{ type: 'mention', mentioned: bot, text: entityText }] });
  it.each([
    [{ text: 'scans list', recipient: bot, entities: [] }, 'scans list'],
    [mention('<at>MDE Bot</at> scans list --active'), 'scans list --active'],
    [mention('<at>MDE Bot</at>&nbsp;scans show &quot;Weekly servers&quot;'), 'scans show "Weekly servers"'],
    [mention('<at>MDE</at> help', '<at>MDE Bot</at>'), 'help'],
    [{ text: '<at>MDE Bot</at> approve A1B2C3D', recipient: bot }, 'approve A1B2C3D'],
    [mention('<at>MDE Bot</at> reject A1 --reason "ask <at>Adam</at>"'), 'reject A1 --reason "ask Adam"'],
    [{ text: '<p>scans list</p>', recipient: bot }, 'scans list'],
    [{ text: 'scans show &lt;b&gt;x&lt;/b&gt; &#39;q&#39; &#x41;', recipient: bot }, "scans show <b>x</b> 'q' A"],
  ])('%#', (activity, expected) => {
    expect(commandText(activity as any)).toBe(expected);
  });
  it('does not change the activity', () => {
    const a = mention('<at>MDE Bot</at> help');
    commandText(a as any);
    expect(a.text).toBe('<at>MDE Bot</at> help');
  });
});

/**
 * Markdown that Teams would act on in a TextBlock or a fact: what is left of a string once
 * its backslash escapes are taken out, checked for emphasis, links, headings, quotes and
 * list markers at a line start.
 */
function activeMarkdown(text: string): string[] {
  const bare = text.replace(/\\[!-/:-@[-`{-~]/g, '');
  const found: string[] = [];
  if (/[*_]/.test(bare)) found.push('emphasis');
  // Adaptive Cards' markdown has emphasis, lists and links only (no headings or quotes):
  // without its brackets a link is no link.
  if (/[[\]]/.test(bare)) found.push('link');
  if (/^[ \t]*([-+]|[0-9]+[.)])/m.test(bare)) found.push('list');
  return found;
}

describe('markdown in card text', () => {
  const MALICIOUS = '[Approved by CISO](https://evil.example/x) **urgent** _now_';

  it.each([
    ['a link', '[Approved by CISO](https://evil.example)', '\\[Approved by CISO\\](https://evil.example)'],
    ['bold', '**urgent**', '\\*\\*urgent\\*\\*'],
    // Cards have no headings or quotes: `#` and `>` stay as typed (an escape would show as a backslash).
    ['a heading', '# Approved', '# Approved'],
    ['a quote', '> signed off', '> signed off'],
    ['a placeholder', 'help <command>', 'help <command>'],
    ['a bullet', '- item', '\\- item'],
    ['a plus bullet', '  + item', '  \\+ item'],
    ['a numbered item', '1. first', '1\\. first'],
    ['a backslash', 'C:\\temp\\*', 'C:\\\\temp\\\\\\*'],
    ['a hyphen inside a line', 'pc-1 at 2026-01-01, 10.0.0.1', 'pc-1 at 2026-01-01, 10.0.0.1'],
    ['backticks (kept)', 'try `scans list`', 'try `scans list`'],
    ['markup inside backticks', '`[x](https://evil)`', '`\\[x\\](https://evil)`'],
  ])('%s', (_name, input, escaped) => {
    expect(escapeMarkdown(input)).toBe(escaped);
    expect(unescapeMarkdown(escapeMarkdown(input))).toBe(input);
    expect(activeMarkdown(escapeMarkdown(input))).toEqual([]);
  });

  it('every line of a multi-line value is escaped at its start', () => {
    expect(escapeMarkdown('a\n- b\n2. c\n# d')).toBe('a\n\\- b\n2\\. c\n# d');
  });

  it('a malicious reason shows literally on the approval card (a fact value), not as a link or bold', () => {
    const card = renderReply(approval('pending', { reason: MALICIOUS, requester: 'Mallory **CISO** (teams:1)', title: 'Approval request A234567: delete [prod](https://evil)' }));
    expectValidCard(card);
    // Facts are RichTextBlocks: their runs never render markdown, so the text goes in as typed.
    expect(JSON.stringify(card)).not.toContain('"type":"FactSet"');
    expect(cardText(card).split('\n')).toContain(`Reason: ${MALICIOUS}`);
    expect(unescapeMarkdown(escapeMarkdown(MALICIOUS))).toBe(MALICIOUS);
    expect(cardText(card)).toContain('Mallory **CISO** (teams:1)');
    for (const text of rawCardTexts(card)) expect(activeMarkdown(text), text).toEqual([]);
  });

  it('every kind of card escapes what it binds: headings, text, facts, tables, wide tables, code, notices, forms', () => {
    const evil = '**x** [y](https://evil)';
    const replies: Reply[] = [
      { visibility: 'public', summary: 's', blocks: [{ type: 'heading', text: `Scan definitions ${evil}` }, { type: 'table', columns: ['Name', 'Id'], rows: [[evil, '# 1']], paging: { page: 1, pages: 2, total: 30, command: 'scans list --page {page}' } }] },
      { visibility: 'public', summary: 's', blocks: [{ type: 'heading', text: 'Wide' }, { type: 'table', columns: ['A', 'B', 'C', 'D', `E ${evil}`], rows: [[evil, '- b', 'c', 'd', evil]] }] },
      { visibility: 'public', summary: 's', blocks: [{ type: 'heading', text: 'Detail' }, { type: 'facts', facts: [{ label: `L ${evil}`, value: `> ${evil}` }] }, { type: 'text', text: `- ${evil}\n1. ${evil}`, tone: 'warning' }] },
      { visibility: 'private', summary: 's', blocks: [{ type: 'heading', text: 'help' }, { type: 'code', text: `Usage: ${evil}\n# not a heading` }] },
      errorReply(`Unknown command "${evil}".`, 'help'),
      approval('succeeded', { decidedBy: evil, decisionReason: evil, outcome: { text: evil, tone: 'success' } }),
    ];
    for (const reply of replies) {
      const card = renderReply(reply, { notice: { text: `notice ${evil}`, tone: 'error' } });
      expectValidCard(card);
      for (const text of rawCardTexts(card)) {
        if (['Previous page', 'Next page'].includes(text)) continue; // action titles are plain text
        expect(activeMarkdown(text), text).toEqual([]);
      }
      expect(cardText(card)).toContain(evil);
    }
    const formCard = renderForm({ ...form, title: `Update ${evil}`, error: evil, fields: [{ ...form.fields[0]!, error: evil, hint: evil, value: evil }] }, { notice: { text: evil, tone: 'info' } });
    expectValidCard(formCard);
    const json = JSON.stringify(formCard);
    // Texts are escaped; an input's prefilled value is data, so it stays as typed.
    expect((formCard.body as any[]).filter((b) => b.type === 'TextBlock').map((b) => b.text)).toEqual([escapeMarkdown(evil), escapeMarkdown(`Update ${evil}`), escapeMarkdown(evil)]);
    expect(json).toContain(`"value":${JSON.stringify(evil)}`);
    expect(cardText(formCard).split('\n').filter((t) => t === evil).length).toBeGreaterThanOrEqual(4);
  });
});
