#!/usr/bin/env node
/**
 * `npm run build`: compiles src/ and adapters/ with tsc (tsconfig.build.json: the same
 * strict settings as the type check) into dist/, and copies the Adaptive Card templates
 * the Teams adapter reads at run time to dist/cards/. Production runs `node dist/src/main.js`.
 *
 * `--if-stale` (what `npm start` uses) builds only when dist/ is missing or older than a
 * source file, so a fresh clone's `npm ci && npm start` works and later starts are instant.
 * Plain JavaScript on purpose: it must run before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-stamp');
/** What the build reads: a change to any of these makes dist/ stale. */
const INPUTS = ['src', 'adapters', 'cards', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];
/** What the build writes (dist/ may hold other things, such as the Teams app zip). */
const OUTPUTS = ['src', 'adapters', 'cards', '.build-stamp'];

/** The newest modification time under `path` (ms), 0 when it does not exist. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = stat.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

/** Why dist/ needs a build, or null when it is up to date. */
export function staleReason(root = ROOT) {
  const stamp = join(root, 'dist', '.build-stamp');
  if (!existsSync(join(root, 'dist', 'src', 'main.js')) || !existsSync(stamp)) return 'dist/ is missing';
  const built = statSync(stamp).mtimeMs;
  const changed = INPUTS.find((input) => newest(join(root, input)) > built);
  return changed ? `${changed} changed since the last build` : null;
}

function tscPath() {
  try {
    return createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  } catch {
    return null;
  }
}

export function build() {
  const tsc = tscPath();
  if (!tsc) {
    throw new Error('TypeScript is not installed, so dist/ cannot be built: run `npm ci` (with dev dependencies) first.');
  }
  for (const output of OUTPUTS) rmSync(join(DIST, output), { recursive: true, force: true });
  const result = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`tsc failed (exit ${result.status ?? result.signal}); dist/ was not built.`);
  cpSync(join(ROOT, 'cards'), join(DIST, 'cards'), { recursive: true });
  mkdirSync(DIST, { recursive: true });
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

function main(args) {
  const ifStale = args.includes('--if-stale');
  const reason = ifStale ? staleReason() : 'asked';
  if (!reason) return;
  if (ifStale) {
    if (!tscPath() && existsSync(join(DIST, 'src', 'main.js'))) {
      process.stderr.write(`build: ${reason}, but TypeScript is not installed (production install?); running the dist/ there is.\n`);
      return;
    }
    process.stderr.write(`build: ${reason}; compiling to dist/ (tsc, about 15 s) ...\n`);
  }
  const started = Date.now();
  build();
  process.stderr.write(`build: dist/ ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    main(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`build: ${error.message}\n`);
    process.exit(1);
  }
}
