/** The pieces of the audit log that need no server: durations, CSV, secrets, MDE answers, AUDIT_FILE validation. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAuditStream } from '../../src/audit-stream.js';
import { loadConfig } from '../../src/config.js';
import { createAuditWriter, recordMdeWrites, withoutSecrets } from '../../src/core/audit.js';
import { csvCell, toCsv } from '../../src/core/audit-format.js';
import { parseDuration } from '../../src/core/duration.js';
import type { StoredAuditEntry } from '../../src/core/records.js';
import { MdeError } from '../../src/mde/errors.js';
import type { MdeApi } from '../../src/mde/api.js';
import { openStore } from '../../src/store/index.js';

describe('durations', () => {
  it('reads 30s, 15m, 2h, 7d and refuses the rest', () => {
    expect([parseDuration('30s'), parseDuration('15m'), parseDuration(' 2H '), parseDuration('7d')]).toEqual([30_000, 900_000, 7_200_000, 604_800_000]);
    for (const bad of ['', '7', 'd', '0d', '-1d', '1.5h', '7 days', '1w', '9999999d']) expect(parseDuration(bad)).toBeNull();
  });
});

describe('CSV', () => {
  it('quotes per RFC 4180 and never lets a cell be a formula', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    for (const f of ['=HYPERLINK("http://x")', '+1+1', '-2', '@SUM(A1)', '\tx']) expect(csvCell(f).replace(/^"/, '').startsWith("'")).toBe(true);
    expect(csvCell('=1,2')).toBe(`"'=1,2"`);
  });

  it('writes a header and one CRLF row per entry', () => {
    const e: StoredAuditEntry = { seq: 1, at: '2026-01-01T00:00:00.000Z', actor: 'slack:U1', actorName: '=cmd|calc', event: 'write', command: 'scans update', detail: { changes: { intervalInHours: { from: 24, to: 12 } } } };
    const rows = toCsv([e]).split('\r\n');
    expect(rows[0]).toMatch(/^seq,at,actor,actorName,/);
    expect(rows[1]).toContain(",'=cmd|calc,");
    expect(rows[1]).toContain('intervalInHours: 24 → 12');
    expect(rows[2]).toBe('');
  });
});

describe('secrets', () => {
  it('drops every field named like a credential, at any depth', () => {
    const detail = { changes: { scanName: { to: 'x' } }, auth: { password: 'p', authPassword: 'a', privPassword: 'b', communityString: 'c', username: 'u', apiKey: 'k', token: 't', clientSecret: 's' } };
    expect(withoutSecrets(detail)).toEqual({ changes: { scanName: { to: 'x' } } });
    expect(withoutSecrets({ list: [{ password: 'p', ok: 1 }] })).toEqual({ list: [{ ok: 1 }] });
  });

  it('the writer blanks given secret values wherever they are, and hands the stored entry to the observer', async () => {
    const store = await openStore('sqlite::memory:');
    const seen: StoredAuditEntry[] = [];
    const write = createAuditWriter({ store, onAudit: (e) => seen.push(e) });
    const stored = await write({ at: new Date().toISOString(), actor: 'slack:U1', event: 'write', detail: { error: 'MDE said: bad value "hunter2"' } }, ['hunter2']);
    expect(stored.detail).toEqual({ error: 'MDE said: bad value "[secret]"' });
    expect(seen).toEqual([stored]);
    expect(JSON.stringify(await store.listAudit())).not.toContain('hunter2');
    await store.close();
  });
});

describe('MDE answers', () => {
  it('records each write with its id, or its status and error; reads pass through unrecorded', async () => {
    const fake = {
      listDefinitions: async () => [],
      updateDefinition: async (id: string) => ({ id }),
      deleteDefinitions: async () => {
        throw new MdeError('not_found', 'No such definition', { status: 404 });
      },
    } as unknown as MdeApi;
    const { mde, answers } = recordMdeWrites(fake);
    await mde.listDefinitions();
    await mde.updateDefinition('D1', {});
    await expect(mde.deleteDefinitions(['D2'])).rejects.toThrow('No such definition');
    expect(answers).toEqual([
      { call: 'updateDefinition', ok: true, id: 'D1' },
      { call: 'deleteDefinitions', ok: false, status: 404, kind: 'not_found', error: 'No such definition' },
    ]);
  });
});

describe('AUDIT_FILE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-file-'));

  it('takes a path in an existing folder, or - / stdout; refuses a folder or a missing folder, naming the variable', () => {
    expect(loadConfig({ AUDIT_FILE: join(dir, 'a.jsonl') }).auditStream).toEqual({ kind: 'file', path: join(dir, 'a.jsonl') });
    expect(loadConfig({ AUDIT_FILE: '-' }).auditStream).toEqual({ kind: 'stdout' });
    expect(loadConfig({ AUDIT_FILE: 'STDOUT' }).auditStream).toEqual({ kind: 'stdout' });
    expect(loadConfig({}).auditStream).toBeUndefined();
    expect(() => loadConfig({ AUDIT_FILE: dir })).toThrow(/AUDIT_FILE names a folder/);
    expect(() => loadConfig({ AUDIT_FILE: join(dir, 'nope', 'a.jsonl') })).toThrow(/AUDIT_FILE: the folder .* does not exist/);
    expect(() => loadConfig({ PUBLIC_URL: 'ftp://x' })).toThrow(/PUBLIC_URL must be an http\(s\) URL/);
  });

  it('appends one JSON line per entry and never truncates', async () => {
    const path = join(dir, 'append.jsonl');
    for (const seq of [1, 2]) {
      const stream = openAuditStream({ kind: 'file', path });
      stream.write({ seq, at: '2026-01-01T00:00:00.000Z', actor: 'system', event: 'progress', detail: null });
      await stream.close();
    }
    const lines = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { type: 'mde-chatops.audit', seq: 1, at: '2026-01-01T00:00:00.000Z', actor: 'system', event: 'progress', detail: null },
      { type: 'mde-chatops.audit', seq: 2, at: '2026-01-01T00:00:00.000Z', actor: 'system', event: 'progress', detail: null },
    ]);
  });
});
