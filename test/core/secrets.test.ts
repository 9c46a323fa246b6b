/**
 * Secrets never come back through someone else's words: when MDE (or a proxy in front of
 * it) quotes the request in its error message, every secret the form submitted is removed
 * by value from the reply and from the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, SEED, type Emulator } from '../../src/emulator/index.js';
import { createLogger } from '../../src/log.js';
import { approvalIdIn, engineHarness, ORIGIN, USERS } from '../helpers/engine.js';

const COMMUNITY = 'Quoted-C0mmunity"string';
const AUTH = 'auth-Pa55word-xyz';

let emulator: Emulator;
beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(async () => {
  await emulator.close();
});

describe('redaction by value', () => {
  it.each([
    ['a 400 that quotes the body', 400, (secret: string) => `Invalid request body: {"secret":${JSON.stringify(secret)}}`],
    ['a 500 whose text echoes the secret raw', 500, (secret: string) => `upstream failed for ${secret}`],
  ])('%s: neither the reply nor the log shows a submitted secret', async (_label, status, message) => {
    const logged: string[] = [];
    const h = await engineHarness({ emulator, log: createLogger('debug', { write: (line: string) => void logged.push(line) }) });
    try {
      emulator.injectFault({ status, path: 'POST /api/DeviceAuthenticatedScanDefinitions', message: message(AUTH) });
      const outcome = await h.engine.handleForm(USERS.operator, ORIGIN, {
        kind: 'create',
        values: { scanType: 'Network', scanName: 'Quoted', target: '10.7.0.1', targetType: 'Ip', intervalInHours: '6', active: 'true', agent: SEED.agents.hq, snmpType: 'AuthNoPriv', snmpCredential: 'inline', username: 'u', authProtocol: 'SHA1', authPassword: AUTH },
      });
      emulator.injectFault({ status, path: 'POST /api/DeviceAuthenticatedScanDefinitions', message: message(COMMUNITY) });
      const outcome2 = await h.engine.handleForm(USERS.operator, ORIGIN, {
        kind: 'create',
        values: { scanType: 'Network', scanName: 'Quoted 2', target: '10.7.0.2', targetType: 'Ip', intervalInHours: '6', active: 'true', agent: SEED.agents.hq, snmpType: 'CommunityString', snmpCredential: 'inline', communityString: COMMUNITY },
      });
      const shown = JSON.stringify([outcome, outcome2]);
      expect(shown).toMatch(/error|failed|refused|went wrong/i);
      for (const secret of [COMMUNITY, JSON.stringify(COMMUNITY).slice(1, -1), AUTH]) {
        expect(shown).not.toContain(secret);
        expect(logged.join('\n')).not.toContain(secret);
      }
    } finally {
      await h.close();
    }
  });
});

describe('ambiguous writes are checked, not guessed', () => {
  it('a create MDE carried out but answered 500 is reported as created, and exists once', async () => {
    const h = await engineHarness({ emulator });
    try {
      emulator.injectFault({ status: 500, path: 'POST /api/DeviceAuthenticatedScanDefinitions', afterWrite: true });
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, `scans create network --name "Unclear create" --target 10.7.1.1 --interval 6 --agent ${SEED.agents.hq} --username ro`);
      expect(JSON.stringify(reply)).toContain('Created scan definition Unclear create');
      expect([...emulator.state.definitions.values()].filter((d) => d.scanName === 'Unclear create')).toHaveLength(1);
    } finally {
      await h.close();
    }
  });

  it('a create MDE did not carry out is reported as not created, safe to try again', async () => {
    const h = await engineHarness({ emulator });
    try {
      emulator.injectFault({ status: 502, path: 'POST /api/DeviceAuthenticatedScanDefinitions' });
      const reply = await h.engine.handleText(USERS.operator, ORIGIN, `scans create network --name "Not created" --target 10.7.1.2 --interval 6 --agent ${SEED.agents.hq} --username ro`);
      expect(JSON.stringify(reply)).toContain('nothing was created; it is safe to try again');
      expect([...emulator.state.definitions.values()].some((d) => d.scanName === 'Not created')).toBe(false);
    } finally {
      await h.close();
    }
  });

  it('a delete MDE carried out but answered 500 (after its retries) is reported as done', async () => {
    const h = await engineHarness({ emulator });
    try {
      const id = approvalIdIn(await h.engine.handleText(USERS.operator, ORIGIN, `scans delete ${SEED.definitions.networkPrinters} --reason unclear`));
      emulator.injectFault({ status: 500, path: 'POST /api/DeviceAuthenticatedScanDefinitions/BatchDelete', afterWrite: true, times: 3 });
      await h.engine.handleText(USERS.approver, ORIGIN, `approve ${id}`);
      await h.engine.idle();
      const record = await h.approvals.get(id);
      expect(record?.state).toBe('succeeded');
      expect(emulator.state.definitions.has(SEED.definitions.networkPrinters)).toBe(false);
    } finally {
      await h.close();
    }
  });
});
