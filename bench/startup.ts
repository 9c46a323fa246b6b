/**
 * Start-up and memory of the bot as a process: time from spawn to the first 200 of
 * `/readyz`, and resident memory (the whole process tree) after a few idle seconds. The
 * production entry point (`node dist/src/main.js`) is measured, and for comparison the
 * development loop's `tsx src/main.ts`. Demo mode, loopback only, a scratch store.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

const ROOT = join(import.meta.dirname, '..');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident memory of a process and all its descendants (Linux /proc), in MiB. */
function treeRssMiB(pid: number): number {
  let kib = 0;
  const visit = (p: number) => {
    try {
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      kib += Number(rss ?? 0);
      const children = readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      for (const child of children) visit(Number(child));
    } catch {
      // gone
    }
  };
  visit(pid);
  return kib / 1024;
}

function treeSize(pid: number): number {
  let count = 0;
  const visit = (p: number) => {
    count += 1;
    try {
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) visit(Number(child));
    } catch {
      // gone
    }
  };
  visit(pid);
  return count;
}

async function measure(label: string, command: string, args: string[], idleMs: number): Promise<{ readyMs: number; rssMiB: number; processes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mde-bench-start-'));
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: '0', HOST: '127.0.0.1', STORE_URL: `sqlite:${join(dir, 'bot.db')}`, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  try {
    let url: string | undefined;
    while (!url) {
      if (child.exitCode !== null) throw new Error(`${label} exited: ${output}`);
      if (performance.now() - started > 60_000) throw new Error(`${label} did not start in 60 s`);
      url = /^ {2}HTTP\s+(http:\/\/\S+)/m.exec(output)?.[1];
      if (!url) await sleep(10);
    }
    for (;;) {
      const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(10);
    }
    const readyMs = performance.now() - started;
    await sleep(idleMs);
    return { readyMs, rssMiB: treeRssMiB(child.pid!), processes: treeSize(child.pid!) };
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.once('exit', resolve));
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startupAndMemory(): Promise<void> {
  execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
  const idleMs = 3000;
  const built: Array<{ readyMs: number; rssMiB: number; processes: number }> = [];
  for (let i = 0; i < 3; i += 1) built.push(await measure('node dist/src/main.js', process.execPath, ['dist/src/main.js'], idleMs));
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  console.log(
    `start-up (built, node dist/src/main.js): ready (/readyz 200) in ${median(built.map((b) => b.readyMs)).toFixed(0)} ms (median of 3); ` +
      `resident memory after ${idleMs / 1000} s idle ${median(built.map((b) => b.rssMiB)).toFixed(0)} MiB in ${built[0]!.processes} process (no tsx, esbuild or npm)`,
  );
  const tsx = await measure('tsx src/main.ts', join(ROOT, 'node_modules', '.bin', 'tsx'), ['src/main.ts'], idleMs);
  console.log(
    `start-up (development, tsx src/main.ts): ready in ${tsx.readyMs.toFixed(0)} ms; resident memory after ${idleMs / 1000} s idle ${tsx.rssMiB.toFixed(0)} MiB in ${tsx.processes} processes (tsx and the node it runs, esbuild when it transforms)`,
  );
}
