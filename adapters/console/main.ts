/**
 * The console adapter: a terminal chat with the bot. It drives the same core as Slack
 * and Teams, which shows the core needs no platform. `:as <platform:id>` switches user.
 */
import { createInterface } from 'node:readline';
import { startApp } from '../../src/app.js';
import type { Actor, ApprovalPublisher, Origin } from '../../src/core/context.js';
import { DEMO_USERS } from '../../src/demo.js';
import { createLogger } from '../../src/log.js';
import { approvalLines, renderText } from './render.js';

/** The demo person behind an id (the console starts as Olivia Operator), else the id. */
function actorFor(id: string): Actor {
  const person = Object.values(DEMO_USERS).find((u) => u.slack === id || u.teams === id);
  return { id, name: person?.name ?? id };
}

let actor: Actor = actorFor(process.env.CONSOLE_USER ?? DEMO_USERS.operator.slack);
let prompting = false;
const promptText = () => `${actor.name ?? actor.id}> `;
/**
 * Prints above the prompt: an update that arrives while the prompt waits clears the
 * prompt line, prints, and shows the prompt again, so typing is never broken up.
 */
const out = (text: string) => {
  if (prompting) process.stdout.write('\r\x1b[K');
  process.stdout.write(`${text}\n`);
  if (prompting) process.stdout.write(promptText());
};
const origin: Origin = { platform: 'console', location: { terminal: 'stdin' }, scope: 'group' };

/** Timeline steps already printed, per request. */
const printed = new Map<string, number>();
const reachedSteps = (post: { view: { timeline: Array<{ pending?: boolean }> } }) => post.view.timeline.filter((s) => !s.pending).length;

const publisher: ApprovalPublisher = {
  platform: 'console',
  async publish(post) {
    printed.set(post.view.id, reachedSteps(post));
    out(renderText(post.card));
    return [{ card: { platform: 'console', location: { terminal: 'stdin', id: post.view.id } }, where: 'this terminal' }];
  },
  async update(_card, post) {
    // One line per step (the whole card was printed once, when it was posted).
    for (const line of approvalLines(post.view, printed.get(post.view.id) ?? 0)) out(line);
    printed.set(post.view.id, reachedSteps(post));
  },
  async notify(notice) {
    out(renderText(notice.reply));
    return true;
  },
};

const app = await startApp({
  env: { ...process.env, STORE_URL: process.env.STORE_URL ?? 'sqlite::memory:', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  port: 0,
  log: createLogger(process.env.LOG_LEVEL ?? 'warn', process.stderr),
  adapters: async () => [{ name: 'console', publisher }],
});

out(`mde-chatops console (${app.config.demo ? 'demo mode: MDE emulator in-process' : 'live MDE'}). You are ${actor.name} (${actor.id}).`);
out('Type a command (help), `:as <platform:id>` to switch user, `:quit` to leave.');

const rl = createInterface({ input: process.stdin, terminal: false });
const prompt = () => {
  prompting = true;
  process.stdout.write(promptText());
};
prompt();

let queue = Promise.resolve();
rl.on('line', (line) => {
  prompting = false;
  queue = queue.then(async () => {
    const text = line.trim();
    if (text === ':quit' || text === ':q') return rl.close();
    if (text.startsWith(':as ')) {
      actor = actorFor(text.slice(4).trim());
      out(`You are now ${actor.name} (${actor.id}).`);
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
