/** The engine's audit hook: a command is audited from its record alone, and Teams renders an export as a link card. */
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReply } from '../../adapters/teams/index.js';
import { defineCommand } from '../../src/core/command.js';
import { COMMANDS, createRegistry } from '../../src/core/commands/index.js';
import type { Reply } from '../../src/core/reply.js';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import { ORIGIN, USERS, engineHarness } from '../helpers/engine.js';
import { expectValidCard } from '../helpers/teams-cards.js';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});

/** A command another branch might add: one `audit` line makes it audited. */
const retune = defineCommand({
  name: 'scans retune',
  summary: 'Test command: set a definition to 5 hours.',
  usage: 'scans retune <id>',
  flags: [],
  examples: ['scans retune x', 'scans retune y'],
  role: 'operator',
  schema: z.strictObject({ kind: z.literal('scans.retune'), id: z.string() }),
  build: (args) => ({ kind: 'scans.retune', id: args.positionals[0] ?? '' }),
  async run(op, ctx) {
    await ctx.mde.updateDefinition(op.id, { intervalInHours: 5 });
    return { visibility: 'public', blocks: [{ type: 'text', text: 'retuned' }], summary: 'retuned' };
  },
  audit: { subjects: (op) => ({ definitions: [op.id] }), changes: (_op, before) => ({ intervalInHours: { from: before?.intervalInHours ?? null, to: 5 } }) },
});

describe('the engine audits a command from its record', () => {
  it('a new command with `audit` is audited: who, where, before → after, MDE’s answer; its failure and refusals too', async () => {
    const h = await engineHarness({ emulator, registry: createRegistry([...COMMANDS, retune]) });
    try {
      const id = SEED.definitions.networkLab;
      const before = emulator.state.definitions.get(id)!.intervalInHours;
      await h.engine.handleText(USERS.operator, ORIGIN, `scans retune ${id}`);
      await h.engine.handleText(USERS.operator, ORIGIN, 'scans retune 00000000-0000-4000-8000-000000000000');
      await h.engine.handleText(USERS.viewer, ORIGIN, `scans retune ${id}`);
      const [ok, failed, refused] = await h.store.listAudit();
      expect(ok).toMatchObject({
        actor: USERS.operator.id,
        actorName: 'Olivia',
        event: 'write',
        command: 'scans retune',
        place: { platform: 'test', location: { channel: 'C1' } },
        outcome: 'ok',
        detail: { changes: { intervalInHours: { from: before, to: 5 } }, mde: [{ call: 'updateDefinition', ok: true, id }] },
      });
      expect(ok!.definitions).toEqual(expect.arrayContaining([id]));
      expect(failed).toMatchObject({ event: 'write', outcome: 'failed', detail: { mde: [{ call: 'updateDefinition', ok: false, status: 404 }] } });
      expect(refused).toMatchObject({ actor: USERS.viewer.id, event: 'refused', command: 'scans retune', outcome: 'refused' });
      // reads are not audited
      await h.engine.handleText(USERS.viewer, ORIGIN, 'scans list');
      expect(await h.store.listAudit()).toHaveLength(3);
      // a form submitted by someone without the role is refused and recorded
      await h.engine.handleForm(USERS.viewer, ORIGIN, { kind: 'update', definitionId: id, values: { intervalInHours: '7' } });
      expect((await h.store.listAudit()).at(-1)).toMatchObject({ actor: USERS.viewer.id, event: 'refused', command: 'scans update', outcome: 'refused' });
      expect((await h.store.listAudit()).at(-1)?.definitions).toBeUndefined();
    } finally {
      await h.close();
    }
  });
});

describe('Teams: an export is a card with its download link', () => {
  it('renders a valid Adaptive Card with an Open URL action', () => {
    const reply: Reply = {
      visibility: 'private',
      summary: 'Audit export: 3 entries',
      blocks: [
        { type: 'text', text: 'Audit export: 3 entries (--since 7d).', tone: 'success' },
        { type: 'file', file: { name: 'mde-chatops-audit-2026.csv', mimeType: 'text/csv', content: 'a,b\r\n', entries: 3, link: { url: 'https://bot.contoso.com/downloads/abc', expiresAt: '2026-12-02T05:00:00.000Z' } } },
      ],
    };
    const card = renderReply(reply) as unknown;
    const content = (card as any).content ?? card;
    expectValidCard(content);
    const open = JSON.stringify(content).match(/\{"type":"Action\.OpenUrl"[^}]*\}/)?.[0];
    expect(JSON.parse(open!)).toEqual({ type: 'Action.OpenUrl', title: 'Download CSV', url: 'https://bot.contoso.com/downloads/abc' });
  });
});
