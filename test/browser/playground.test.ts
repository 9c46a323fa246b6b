/**
 * The first-run flow in a real browser: the bot in demo mode, two Microsoft 365 Agents
 * Playgrounds (Olivia Operator, Adam Approver; `scripts/playground.ts`), headless
 * Chromium driven by playwright-core. The approver says hello (so the bot learns their
 * chat), the operator lists definitions and asks to delete one, the approval card reaches
 * the approver's window, Approve is pressed, both windows show the outcome and the
 * definition is gone from the emulator. Along the way: both playgrounds listen on
 * 127.0.0.1 only (scripts/loopback-only.cjs), the bot's local-mode header checks let the
 * playground's own requests through, and a reason written as markdown shows as typed on
 * the approval card (the playground renders card markdown, as Teams does).
 *
 * Needs Debian's Chromium at /usr/bin/chromium (`.ci/run` installs it); skipped without
 * it, unless BROWSER_TEST=required (set by `.ci/run`). Nothing leaves the machine: every
 * request to a host other than localhost / 127.0.0.1 is aborted (the page's web fonts and
 * script CDN included; it works without them). Screenshots of each step go to
 * test/artifacts/playground/.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlaygrounds, type Playgrounds } from '../../scripts/playground.js';
import { startApp, type App } from '../../src/app.js';
import { SEED } from '../../src/emulator/seed.js';

/** Debian's Chromium; CHROMIUM_PATH overrides it (another build, or to check the skip). */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../artifacts/playground', import.meta.url));

const COMPOSE = 'div[role="textbox"][data-lexical-editor="true"]';
const BOT_MSG = '.fai-OutputCard';
const CARD = '.ac-adaptiveCard';
/** Card text: TextBlocks and RichTextBlocks (the bot writes plain text as RichTextBlocks, which never render markdown). */
const TEXT_BLOCK = '.ac-textBlock, .ac-richTextBlock';
/** The README's screenshots: rewritten only with UPDATE_DOCS_IMAGES=1 (else they go with the artifacts, and a test run leaves the tree clean). */
const DOCS_IMAGES = process.env.UPDATE_DOCS_IMAGES === '1' ? fileURLToPath(new URL('../../docs/images', import.meta.url)) : ARTIFACTS;

/** Bounded waits: generous for a loaded 2-core machine, short enough to fail clearly. */
const PAGE_READY_MS = 30_000;
const REPLY_MS = 20_000;

const haveChromium = existsSync(CHROMIUM);

if (!haveChromium) {
  const reason = `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) or run .ci/run`;
  if (process.env.BROWSER_TEST === 'required') {
    it('playground browser flow', () => {
      throw new Error(`BROWSER_TEST=required but ${reason}`);
    });
  } else {
    process.stderr.write(`[browser test] skipped: ${reason}\n`);
    it.skip(`playground browser flow (skipped: ${reason})`, () => undefined);
  }
} else {
  describe('Agents Playground in Chromium (demo mode, two users)', () => {
    let app: App | undefined;
    let playgrounds: Playgrounds | undefined;
    let browser: Browser | undefined;
    let context: BrowserContext | undefined;
    let operator: Page;
    let approver: Page;
    const blocked = new Set<string>();
    const pageErrors: string[] = [];
    let shot = 0;

    async function screenshot(page: Page, name: string): Promise<void> {
      shot += 1;
      await page.screenshot({ path: resolve(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`), fullPage: true }).catch(() => undefined);
    }

    /** Runs one step; on failure saves both windows and names the step in the error. */
    async function step(name: string, fn: () => Promise<void>): Promise<void> {
      try {
        await fn();
      } catch (error) {
        for (const [who, page] of [['operator', operator], ['approver', approver]] as const) {
          if (page) await screenshot(page, `FAILED-${name}-${who}`);
        }
        const extra = pageErrors.length ? `\nPage errors: ${pageErrors.join(' | ')}` : '';
        throw new Error(`step "${name}" failed: ${(error as Error).message}${extra}`, { cause: error });
      }
    }

    async function openChat(url: string): Promise<Page> {
      const page = await context!.newPage();
      page.on('pageerror', (e) => pageErrors.push(`${url}: ${e.message}`));
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: PAGE_READY_MS });
      await page.locator(COMPOSE).waitFor({ state: 'visible', timeout: PAGE_READY_MS });
      return page;
    }

    async function send(page: Page, text: string): Promise<void> {
      const box = page.locator(COMPOSE);
      await box.click();
      await page.keyboard.type(text);
      await page.keyboard.press('Enter');
    }

    /** The bot's message (bubble or card) in the chat pane whose text matches. */
    const botMessage = (page: Page, text: string | RegExp): Locator => page.locator(BOT_MSG, { hasText: text }).last();

    beforeAll(async () => {
      rmSync(ARTIFACTS, { recursive: true, force: true });
      mkdirSync(ARTIFACTS, { recursive: true });
      app = await startApp({
        env: { STORE_URL: 'sqlite::memory:', LOG_LEVEL: 'warn' },
        port: 0,
        emulator: { actionTimings: { pendingMs: 300, inProgressMs: 300 } },
      });
      const [operatorPort, approverPort] = await freePorts(2);
      playgrounds = await startPlaygrounds({
        botUrl: app.url,
        ports: { operator: operatorPort, approver: approverPort },
        logDir: ARTIFACTS,
        readyTimeoutMs: 45_000,
      });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
        timeout: 30_000,
      });
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await context.route('**/*', (route) => {
        const { protocol, hostname } = new URL(route.request().url());
        const local = hostname === 'localhost' || hostname === '127.0.0.1';
        if (local || protocol === 'data:' || protocol === 'blob:') return route.continue();
        blocked.add(hostname);
        return route.abort();
      });
    }, 120_000);

    afterAll(async () => {
      await context?.close().catch(() => undefined);
      await browser?.close().catch(() => undefined);
      await playgrounds?.stop().catch(() => undefined);
      await app?.close().catch(() => undefined);
    }, 60_000);

    it('each playground listens on 127.0.0.1 only', () => {
      for (const url of Object.values(playgrounds!.urls)) {
        const port = Number(new URL(url).port);
        expect(listeningAddresses(port), `listening sockets on port ${port}`).toEqual(['127.0.0.1']);
      }
    });

    it('the approver says hello, the operator asks to delete a definition, the approver approves, both see it done', async () => {
      const target = SEED.definitions.networkPrinters;
      const reason = '[Approved by CISO](https://evil.example/x) **urgent**';
      expect(app!.emulator!.state.definitions.has(target)).toBe(true);

      await step('open windows', async () => {
        approver = await openChat(playgrounds!.urls.approver);
        operator = await openChat(playgrounds!.urls.operator);
        await screenshot(approver, 'approver-open');
        await screenshot(operator, 'operator-open');
      });

      await step('approver says hello', async () => {
        await send(approver, 'hello');
        // Any answer means the bot has seen (and stored) the approver's personal chat.
        await botMessage(approver, /You are an approver/).waitFor({ timeout: REPLY_MS });
        await screenshot(approver, 'approver-hello');
      });

      await step('operator lists definitions', async () => {
        await send(operator, 'scans list');
        const list = operator.locator(CARD, { hasText: 'Core switches' }).last();
        await list.waitFor({ timeout: REPLY_MS });
        await expect(list.textContent()).resolves.toContain('Printers floor 5');
        await screenshot(operator, 'operator-scans-list');
      });

      await step('operator requests the delete', async () => {
        await send(operator, `scans delete ${target} --reason "${reason}"`);
        // The operator's chat gets a card that follows the request (and word of where it went).
        await operator.locator(CARD, { hasText: target }).filter({ hasText: 'Waiting for an approver' }).last().waitFor({ timeout: REPLY_MS });
        await screenshot(operator, 'operator-requested');
      });

      const approverCard = approver.locator(CARD, { hasText: target }).last();
      await step('approval card reaches the approver', async () => {
        await approverCard.locator('button[aria-label="Approve"]').waitFor({ timeout: REPLY_MS });
        await expect(approverCard.textContent()).resolves.toContain('Olivia Operator');
        // The reason shows as typed: no link, no bold.
        await expect(approverCard.textContent()).resolves.toContain(reason);
        expect(await approverCard.locator('a').count()).toBe(0);
        expect(await approverCard.locator('strong, b').count()).toBe(0);
        await screenshot(approver, 'approver-card');
      });

      await step('approver presses Approve', async () => {
        await approverCard.locator('button[aria-label="Approve"]').click();
        await approverCard.locator(TEXT_BLOCK, { hasText: /^Deleted 1 scan definition/ }).waitFor({ timeout: REPLY_MS });
        await approverCard.locator(TEXT_BLOCK, { hasText: /^✓ Succeeded$/ }).first().waitFor({ timeout: REPLY_MS });
        expect(await approverCard.locator('button[aria-label="Approve"]').count()).toBe(0);
        await expect(approverCard.textContent()).resolves.toContain('Adam Approver');
        await screenshot(approver, 'approver-done');
      });

      await step('operator sees the outcome', async () => {
        const operatorCard = operator.locator(CARD, { hasText: target }).last();
        await operatorCard.locator(TEXT_BLOCK, { hasText: /^Deleted 1 scan definition/ }).waitFor({ timeout: REPLY_MS });
        await operatorCard.locator(TEXT_BLOCK, { hasText: /^✓ Succeeded$/ }).first().waitFor({ timeout: REPLY_MS });
        await screenshot(operator, 'operator-done');
      });

      expect(app!.emulator!.state.definitions.has(target)).toBe(false);
      expect(pageErrors).toEqual([]);
      if (blocked.size) process.stderr.write(`[browser test] blocked off-machine requests to: ${[...blocked].join(', ')}\n`);
    }, 180_000);

    it('every reply type, narrow (480 px) and wide: no card text overflows its container, no text below WCAG AA contrast', async () => {
      const replies: Array<[name: string, command: string, expected: string | RegExp]> = [
        ['list', 'scans list', 'Core switches'],
        ['list-network', 'scans list --type network', 'Core switches'],
        ['show', `scans show ${SEED.definitions.networkCore}`, 'Scanner machine'],
        ['history', `scans history ${SEED.definitions.networkCore} ${SEED.definitions.windowsHr}`, 'Scan history'],
        ['help', 'help', 'mde-chatops commands'],
        ['help-command', 'help scans create', 'help: scans create'],
        ['typo', 'scans lsit', 'did you mean'],
        ['secret-refused', `scans update ${SEED.definitions.networkCore} --password=hunter2`, 'rotate that secret'],
        ['agents', 'agents list', 'Scanner agents'],
        ['av-request', 'av-scan ws-hr-01.contoso.local quick --reason "alert 3212"', 'Waiting for an approver'],
        ['already-disabled', `scans disable ${SEED.definitions.windowsHr}`, 'already disabled'],
      ];
      const problems: string[] = [];
      for (const [width, label] of [[480, 'narrow'], [1280, 'wide']] as const) {
        const page = await openChat(playgrounds!.urls.operator);
        await page.setViewportSize({ width, height: 2400 }); // tall: a card never scrolls under the playground's toolbar
        for (const [name, command, expected] of replies) {
          await step(`${label} ${name}`, async () => {
            await send(page, command);
            const card = page.locator(CARD, { hasText: expected }).last();
            await card.waitFor({ timeout: REPLY_MS });
            await card.scrollIntoViewIfNeeded();
            await card.screenshot({ path: resolve(ARTIFACTS, `layout-${label}-${name}.png`) });
            if (label === 'narrow' && name === 'list') await card.screenshot({ path: resolve(DOCS_IMAGES, 'scans-list.png') });
            for (const p of await checkLayout(card)) problems.push(`${label} ${name}: ${p}`);
          });
        }
        if (label === 'narrow') {
          // The approval card as the approver sees it, narrow: for the README.
          await approver.setViewportSize({ width, height: 2400 });
          const pending = approver.locator(CARD, { hasText: 'ws-hr-01' }).last();
          await step('narrow approval card', async () => {
            await pending.locator('button[aria-label="Approve"]').waitFor({ timeout: REPLY_MS });
            await pending.scrollIntoViewIfNeeded();
            await pending.screenshot({ path: resolve(DOCS_IMAGES, 'approval-card.png') });
            for (const p of await checkLayout(pending)) problems.push(`narrow approval: ${p}`);
            await pending.locator('button[aria-label="Approve"]').click();
            await pending.locator(TEXT_BLOCK, { hasText: /Finished: Succeeded/ }).waitFor({ timeout: REPLY_MS });
            await pending.screenshot({ path: resolve(ARTIFACTS, 'layout-narrow-av-done.png') });
            for (const p of await checkLayout(pending)) problems.push(`narrow av done: ${p}`);
          });
        }
        await page.close();
      }
      expect(problems).toEqual([]);
    }, 240_000);
  });
}

/**
 * Runs in the page on one card: every text element must fit inside the card (its box and
 * its scroll width), and its colour against the background it is drawn on must reach
 * WCAG AA (4.5:1, or 3:1 for large text). Returns the problems found.
 */
const CHECK_LAYOUT = `(card) => {
  const problems = [];
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return [0, 0, 0, 0];
    const [r, g, b, a] = m[1].split(',').map((x) => Number.parseFloat(x));
    return [r, g, b, a === undefined ? 1 : a];
  };
  const lum = ([r, g, b]) => {
    const f = (v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let out = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) out = [r * a + out[0] * (1 - a), g * a + out[1] * (1 - a), b * a + out[2] * (1 - a)];
    return out;
  };
  const box = card.getBoundingClientRect();
  for (const el of Array.from(card.querySelectorAll('.ac-textBlock, .ac-richTextBlock, .ac-pushButton, .ac-factset td, .ac-input'))) {
    const text = (el.textContent ?? '').trim();
    if (!text) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const name = text.slice(0, 40);
    if (r.right > box.right + 1 || r.left < box.left - 1) problems.push(\`"\${name}" overflows the card (\${Math.round(r.left)}–\${Math.round(r.right)} vs \${Math.round(box.left)}–\${Math.round(box.right)})\`);
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== 'visible') problems.push(\`"\${name}" is cut (scroll \${el.scrollWidth} > \${el.clientWidth})\`);
    for (const part of [el, ...Array.from(el.querySelectorAll('span'))]) {
      if (!(part.textContent ?? '').trim()) continue;
      const style = getComputedStyle(part);
      const fg = parse(style.color);
      const bg = background(part);
      const blended = [fg[0] * fg[3] + bg[0] * (1 - fg[3]), fg[1] * fg[3] + bg[1] * (1 - fg[3]), fg[2] * fg[3] + bg[2] * (1 - fg[3])];
      const [hi, lo] = [lum(blended), lum(bg)].sort((a, b) => b - a);
      const ratio = (hi + 0.05) / (lo + 0.05);
      const size = Number.parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      if (ratio < (large ? 3 : 4.5)) problems.push(\`"\${(part.textContent ?? '').trim().slice(0, 40)}" contrast \${ratio.toFixed(2)} < \${large ? 3 : 4.5} (\${style.color} on rgb(\${bg.map(Math.round).join(',')}))\`);
    }
  }
  return [...new Set(problems)];
}`;

/** Runs `CHECK_LAYOUT` on a card in its page (a source string: nothing of the test's transpiler reaches the page). */
const checkLayout = (card: Locator): Promise<string[]> => card.evaluate((el, src) => (0, eval)(src)(el) as string[], CHECK_LAYOUT);

/**
 * The local addresses of the TCP sockets listening on `port` (from /proc/net/tcp and
 * tcp6, like `ss -ltn`): `127.0.0.1`, `0.0.0.0`, `::`, `::1`, or the raw hex of another
 * IPv6 address.
 */
function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A: LISTEN
      const [hex, portHex] = local.split(':') as [string, string];
      if (Number.parseInt(portHex, 16) !== port) continue;
      if (hex.length === 8) out.push((hex.match(/../g) ?? []).reverse().map((b) => Number.parseInt(b, 16)).join('.'));
      else if (/^0+$/.test(hex)) out.push('::');
      else if (hex === '00000000000000000000000001000000') out.push('::1');
      else out.push(hex);
    }
  }
  return out.sort();
}

/** `n` distinct free TCP ports on loopback. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => {
      const server = createServer();
      return new Promise<ReturnType<typeof createServer>>((done, fail) => {
        server.once('error', fail);
        server.listen(0, '127.0.0.1', () => done(server));
      });
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  return ports;
}
