import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Drives `npm run console` through its stdin, like a person at a terminal. */
function consoleSession() {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../adapters/console/main.ts')], {
    cwd: join(import.meta.dirname, '..'),
    env: { ...process.env, STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const waitFor = (pattern: RegExp, timeoutMs = 20_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        const match = output.match(pattern);
        if (match) return resolve(match);
        if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${pattern}; output:\n${output}`));
        setTimeout(check, 50);
      };
      check();
    });
  const send = (line: string) => child.stdin.write(`${line}\n`);
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { send, waitFor, exited, output: () => output };
}

describe('console adapter', () => {
  it('lets one user request a delete and another approve it', async () => {
    const c = consoleSession();
    // The demo person by name, in the banner and the prompt.
    await c.waitFor(/You are Olivia Operator \(slack:UDEMOOPER\)/);
    await c.waitFor(/Olivia Operator> /);
    c.send('agents list');
    await c.waitFor(/Scanner agents: 3[\s\S]*stale/);
    c.send('scans list');
    await c.waitFor(/Printers floor 5/);
    c.send('scans delete 2b605eb2-913a-4ccf-918b-ce6198c93bfa --reason "retired printers"');
    const [, approvalId] = await c.waitFor(/Approval request (A[2-9A-Z]{6}) created/);
    c.send(`approve ${approvalId}`);
    await c.waitFor(/needs the approver role/);
    c.send(':as slack:UDEMOAPPR');
    await c.waitFor(/You are now Adam Approver \(slack:UDEMOAPPR\)/);
    c.send(`approve ${approvalId}`);
    // A card update is one line, not a whole card; names, never "x (x)". (The requester's own
    // message about the outcome may come first.)
    await c.waitFor(new RegExp(`\\[${approvalId}\\] . Succeeded: Deleted 1 scan definition`));
    expect(c.output()).toMatch(new RegExp(`Your request ${approvalId} .* ran and succeeded`));
    expect(c.output()).not.toMatch(/slack:UDEMOAPPR \(slack:UDEMOAPPR\)|console user/);
    c.send('scans list');
    await c.waitFor(/Scan definitions: 5/);
    // An AV scan: one line per step of its progress, the whole card printed only once.
    c.send(':as slack:UDEMOOPER');
    c.send('av-scan ws-hr-01.contoso.local quick --reason "alert 3212"');
    const [, avId] = await c.waitFor(/Approval request (A[2-9A-Z]{6}) created/);
    c.send(':as slack:UDEMOAPPR');
    c.send(`approve ${avId}`);
    await c.waitFor(new RegExp(`\\[${avId}\\] . Succeeded`), 30_000);
    const steps = c.output().split('\n').filter((l) => l.includes(`[${avId}]`));
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect(c.output().split(`┌ Approval request ${avId}`).length - 1).toBe(1);
    c.send(':quit');
    expect(await c.exited).toBe(0);
    // The listing after the delete (the messages about the request itself name the printers).
    const afterApproval = c.output().slice(c.output().indexOf('Scan definitions: 5'));
    expect(afterApproval).toContain('Scan definitions: 5');
    expect(afterApproval).toMatch(/✓ Active +Finance workstations · Windows · 10\.10\.1\.10 \+1 · every 24 h · last scan succeeded 2 h ago/);
    expect(afterApproval).not.toContain('Printers floor 5');
  });
});
