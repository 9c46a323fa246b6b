/**
 * The console adapter: a terminal chat with the bot. It drives the same core as Slack
 * and Teams, which shows the core needs no platform. `:as <platform:id>` switches user.
 */
import { createInterface } from 'node:readline';
import { startApp } from '../../src/app.js';
import type { Actor, ApprovalPublisher, Origin } from '../../src/core/context.js';
import { DEMO_USERS } from '../../src/demo.js';
import { createLogger } from '../../src/log.js';
import { renderText } from './render.js';

const out = (text: string) => process.stdout.write(`${text}\n`);
let actor: Actor = { id: process.env.CONSOLE_USER ?? DEMO_USERS.operator.slack, name: 'console user' };
const origin: Origin = { platform: 'console', location: { terminal: 'stdin' }, scope: 'group' };

const publisher: ApprovalPublisher = {
  platform: 'console',
  async publish(post) {
    out(`\n${renderText(post.card)}`);
    return [{ card: { platform: 'console', location: { terminal: 'stdin', id: post.view.id } }, where: 'this terminal' }];
  },
  async update(_card, post) {
    out(`\n${renderText(post.card)}`);
  },
};

const app = await startApp({
  env: { ...process.env, STORE_URL: process.env.STORE_URL ?? 'sqlite::memory:', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  port: 0,
  log: createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr),
  adapters: async () => [{ name: 'console', publisher }],
});

out(`mde-chatops console (${app.config.demo ? 'demo mode: MDE emulator in-process' : 'live MDE'}). You are ${actor.id}.`);
out('Type a command (help), `:as <platform:id>` to switch user, `:quit` to leave.');

const rl = createInterface({ input: process.stdin, terminal: false });
const prompt = () => process.stdout.write(`${actor.id}> `);
prompt();

let queue = Promise.resolve();
rl.on('line', (line) => {
  queue = queue.then(async () => {
    const text = line.trim();
    if (text === ':quit' || text === ':q') return rl.close();
    if (text.startsWith(':as ')) {
      actor = { id: text.slice(4).trim(), name: text.slice(4).trim() };
      out(`You are now ${actor.id}.`);
    } else if (text) {
      out(renderText(await app.engine.handleText(actor, origin, text)));
    }
    prompt();
  });
});
rl.on('close', () => {
  void queue.then(async () => {
    await app.engine.idle();
    await app.close();
    out('bye');
    process.exit(0);
  });
});
