/**
 * No input kills the process: the bot runs as its own OS process (src/main.ts, demo MDE,
 * SQLite in a temporary folder, Slack against a local stub, Teams in local mode) and gets
 * structure-aware fuzz over real HTTP: correctly signed Slack bodies (slash commands,
 * interaction payloads, Events API JSON) and Teams activities, with fields set to null, a
 * number, an array, an object, a huge string, or removed. After every batch `/healthz`
 * must answer 200 and the process must still be running; every request gets an HTTP
 * answer that is not a 5xx; and the log holds no unhandled rejection or exception.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFormModal } from '../adapters/slack/modal.js';
import { encodeAction } from '../adapters/slack/render.js';
import { createFormSpec } from '../src/core/forms.js';
import { DEMO_USERS } from '../src/demo.js';
import { join } from 'node:path';
import { REPO_ROOT, startBotProcess, type BotProcess } from './helpers/bot-process.js';
import { blockActionPayload, interactionBody, modalFieldPayload, postSigned, slashCommandBody, viewSubmissionPayload, type UserRef } from './helpers/slack-requests.js';
import { startSlackStub, type SlackStub } from './helpers/slack-stub.js';
import { startConnectorStub, type ConnectorStub } from './helpers/teams-connector.js';
import { invokeActivity, messageActivity, postActivity, type TeamsUser, type Where } from './helpers/teams.js';

const SECRET = 'fuzz-signing-secret-0123456789';
const SEED = 1111;
const BATCH = 20;
const OPERATOR: UserRef = { id: DEMO_USERS.operator.slack.slice('slack:'.length), name: 'olivia' };
const TEAMS_USER: TeamsUser = { aad: DEMO_USERS.operator.teams.slice('teams:'.length), name: 'Olivia Operator' };

let bot: BotProcess;
let slack: SlackStub;
let connector: ConnectorStub;

// ---------------------------------------------------------------------------------------
// Structure-aware mutation of JSON values

const MISSING = Symbol('missing');
const HUGE = 'A'.repeat(300_000);
const REPLACEMENTS: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['number', 42],
  ['negative', -1],
  ['float', 1e308],
  ['array', [1, 'x', null, { a: null }]],
  ['empty array', []],
  ['object', {}],
  ['boolean', true],
  ['empty string', ''],
  ['huge', HUGE],
  ['missing', MISSING],
];

type Path = Array<string | number>;

function pathsOf(value: unknown, prefix: Path = [], depth = 0): Path[] {
  const out: Path[] = [prefix];
  if (depth >= 6 || value === null || typeof value !== 'object') return out;
  const entries: Array<[string | number, unknown]> = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  for (const [key, child] of entries.slice(0, 40)) out.push(...pathsOf(child, [...prefix, key], depth + 1));
  return out;
}

function setAt(root: unknown, path: Path, replacement: unknown): unknown {
  if (path.length === 0) return replacement === MISSING ? undefined : replacement;
  const copy: any = structuredClone(root);
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  const last = path[path.length - 1]!;
  if (replacement === MISSING) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else delete node[last];
  } else {
    node[last] = replacement;
  }
  return copy;
}

interface Mutation {
  pick: number;
  kind: number;
}
const mutations = fc.array(fc.record({ pick: fc.nat(), kind: fc.nat(REPLACEMENTS.length - 1) }), { minLength: 1, maxLength: 3 });

function mutate(base: unknown, list: Mutation[]): { value: unknown; how: string[] } {
  let value = base;
  const how: string[] = [];
  for (const m of list) {
    const paths = pathsOf(value);
    const path = paths[m.pick % paths.length]!;
    const [name, replacement] = REPLACEMENTS[m.kind]!;
    how.push(`${path.join('.') || '(root)'} → ${name}`);
    value = setAt(value, path, replacement);
  }
  return { value, how };
}

// ---------------------------------------------------------------------------------------
// Base bodies

function slackBases() {
  const responseUrl = slack.responseUrl();
  const form = createFormSpec({ agents: [] });
  const view = { id: 'V0FUZZ', ...buildFormModal(form, { kind: 'create', channel: 'C0OPS', team: 'T0TEST', scope: 'channel', responseUrl }) } as any;
  const message = {
    ts: '1700000000.000100',
    channel: 'C0OPS',
    blocks: [{ type: 'actions', block_id: 'b1', elements: [{ type: 'button', action_id: 'mde:cmd:0', value: encodeAction({ type: 'command', command: 'scans list' }) }] }],
  };
  return [
    blockActionPayload({ user: OPERATOR, message, button: message.blocks[0]!.elements[0]!, responseUrl }),
    viewSubmissionPayload(OPERATOR, view, { name: 'Fuzz scan', target: '10.0.0.1', interval: '24' }),
    modalFieldPayload(OPERATOR, view, 'scanType', { scanType: 'Network' }),
  ];
}

const SLASH_FIELDS = ['token', 'team_id', 'team_domain', 'channel_id', 'channel_name', 'user_id', 'user_name', 'command', 'text', 'api_app_id', 'response_url', 'trigger_id'];

type SlackCase = { body: string; contentType?: string; how: string };

const slashCases = fc
  .record({
    text: fc.constantFrom('help', 'scans list', 'whoami', 'scans show x', 'approvals', '', '--pw hunter2'),
    edits: fc.array(fc.record({ field: fc.constantFrom(...SLASH_FIELDS, 'payload'), kind: fc.constantFrom('missing', 'repeated', 'huge', 'empty', 'json null', 'number', 'malformed json') }), { minLength: 1, maxLength: 3 }),
  })
  .map(({ text, edits }): SlackCase => {
    const { body } = slashCommandBody({ user: OPERATOR, text, responseUrl: slack.responseUrl() });
    const params = new URLSearchParams(body);
    for (const e of edits) {
      const value = { huge: HUGE, empty: '', 'json null': 'null', number: '42', 'malformed json': '{"type":', repeated: 'x', missing: '' }[e.kind];
      if (e.kind === 'missing') params.delete(e.field);
      else if (e.kind === 'repeated') params.append(e.field, value);
      else params.set(e.field, value);
    }
    return { body: params.toString(), how: `slash "${text}": ${edits.map((e) => `${e.field} → ${e.kind}`).join(', ')}` };
  });

const payloadCases = fc.record({ base: fc.nat(2), list: mutations }).map(({ base, list }): SlackCase => {
  const { value, how } = mutate(slackBases()[base], list);
  const json = value === undefined ? '' : JSON.stringify(value);
  return { body: new URLSearchParams({ payload: json }).toString(), how: `payload ${['block_actions', 'view_submission', 'modal field'][base]}: ${how.join(', ')}` };
});

const jsonCases = fc.record({ base: fc.nat(1), list: mutations }).map(({ base, list }): SlackCase => {
  const bases = [
    { token: 'legacy', challenge: 'c'.repeat(20), type: 'url_verification' },
    { token: 'legacy', team_id: 'T0TEST', api_app_id: 'A0TEST', type: 'event_callback', event_id: 'Ev1', event_time: 1, event: { type: 'app_mention', user: OPERATOR.id, text: 'hi', channel: 'C0OPS', ts: '1.2' } },
  ];
  const { value, how } = mutate(bases[base], list);
  return { body: value === undefined ? '' : JSON.stringify(value), contentType: 'application/json', how: `json ${bases[base]!.type}: ${how.join(', ')}` };
});

function teamsBases() {
  const where: Where = { serviceUrl: connector.url, conversationId: 'a:fuzz-personal' };
  const channel: Where = { serviceUrl: connector.url, conversationId: '19:fuzz@thread.tacv2', kind: 'channel' };
  return [
    messageActivity('scans list', TEAMS_USER, where),
    messageActivity('help', TEAMS_USER, channel),
    invokeActivity({ verb: 'command', data: { _mde: { t: 'button', action: { type: 'command', command: 'scans list' } } } }, TEAMS_USER, where),
    { ...messageActivity('', TEAMS_USER, where), type: 'conversationUpdate', membersAdded: [{ id: '28:mde-chatops-bot' }], text: undefined },
  ];
}

const teamsCases = fc.record({ base: fc.nat(3), list: mutations }).map(({ base, list }) => {
  const { value, how } = mutate(teamsBases()[base], list);
  return { body: value === undefined ? '' : JSON.stringify(value), how: `teams ${['message', 'channel message', 'invoke', 'conversationUpdate'][base]}: ${how.join(', ')}` };
});

// ---------------------------------------------------------------------------------------

interface Outcome {
  how: string;
  status: number;
  error?: string;
}

async function expectAlive(done: number, outcomes: Outcome[]): Promise<void> {
  expect(bot.exited(), `the bot exited after ${done} requests; last: ${outcomes.at(-1)?.how}\n${bot.output().slice(-4000)}`).toBeUndefined();
  expect(await bot.healthz(), `/healthz after ${done} requests`).toBe(200);
}

async function run<T extends { how: string }>(cases: T[], send: (c: T) => Promise<number>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (let i = 0; i < cases.length; i += 1) {
    const c = cases[i]!;
    try {
      outcomes.push({ how: c.how, status: await send(c) });
    } catch (error) {
      outcomes.push({ how: c.how, status: 0, error: String((error as Error).cause ?? error) });
    }
    if ((i + 1) % BATCH === 0 || i === cases.length - 1) await expectAlive(i + 1, outcomes);
  }
  return outcomes;
}

/** 501 is botbuilder's deliberate answer to an invoke it has no handler for (e.g. an empty name). */
function expectAnswered(outcomes: Outcome[]): void {
  if (process.env.FUZZ_DEBUG) console.log(JSON.stringify(outcomes.reduce<Record<number, number>>((acc, o) => ({ ...acc, [o.status]: (acc[o.status] ?? 0) + 1 }), {})));
  const bad = outcomes.filter((o) => o.status === 0 || (o.status >= 500 && o.status !== 501));
  expect(bad.slice(0, 5), `${bad.length} requests without a proper answer`).toEqual([]);
}

function expectNoProcessLevelErrors(): void {
  const lines = bot.output().split('\n').filter((l) => /unhandled ?rejection|uncaught ?exception/i.test(l));
  expect(lines.slice(0, 3)).toEqual([]);
}

describe('the bot process survives fuzzed input', () => {
  beforeAll(async () => {
    slack = await startSlackStub();
    connector = await startConnectorStub();
    bot = await startBotProcess({ SLACK_SIGNING_SECRET: SECRET, SLACK_BOT_TOKEN: 'xoxb-fuzz', SLACK_API_URL: slack.apiUrl });
  }, 40_000);

  afterAll(async () => {
    await bot?.stop();
    await slack?.close();
    await connector?.close();
  });

  it('signed Slack bodies: slash commands, interaction payloads, Events API JSON', async () => {
    const cases: SlackCase[] = [
      // The two bodies from the attack run first.
      { body: 'payload=null', how: 'payload=null' },
      { body: 'null', contentType: 'application/json', how: 'JSON null' },
      ...fc.sample(slashCases, { numRuns: 40, seed: SEED }),
      ...fc.sample(payloadCases, { numRuns: 80, seed: SEED }),
      ...fc.sample(jsonCases, { numRuns: 30, seed: SEED }),
    ];
    const outcomes = await run(cases, async (c) => (await postSigned(`${bot.url}/slack/events`, c.body, { secret: SECRET, contentType: c.contentType })).status);
    expectAnswered(outcomes);
    expectNoProcessLevelErrors();
  }, 120_000);

  it('Teams activities (local mode, loopback serviceUrl)', async () => {
    const cases = fc.sample(teamsCases, { numRuns: 140, seed: SEED });
    const outcomes = await run(cases, async (c) => (await postActivity(`${bot.url}/api/messages`, undefined, { rawBody: c.body })).status);
    expectAnswered(outcomes);
    expectNoProcessLevelErrors();
  }, 120_000);
});

describe('process-level handlers (src/main.ts)', () => {
  const faulty = (fault: 'rejection' | 'exception') =>
    startBotProcess({ FIXTURE_FAULT: fault }, { nodeArgs: ['--import', join(REPO_ROOT, 'test/fixtures/process-faults.ts')] });

  it('an unhandled rejection is logged and the bot carries on', async () => {
    const faulted = await faulty('rejection');
    try {
      faulted.child.kill('SIGUSR2');
      await expect.poll(() => faulted.output(), { timeout: 5000 }).toMatch(/unhandled rejection/);
      await new Promise((r) => setTimeout(r, 300));
      expect(faulted.exited(), faulted.output().slice(-2000)).toBeUndefined();
      expect(await faulted.healthz()).toBe(200);
      const line = faulted.output().split('\n').find((l) => l.includes('unhandled rejection'))!;
      expect(JSON.parse(line)).toMatchObject({ level: 50, err: { name: 'Error', message: 'fixture: a rejection nobody handles' } });
    } finally {
      await faulted.stop();
    }
  }, 40_000);

  it('an uncaught exception is logged, then the bot shuts down with exit code 1', async () => {
    const faulted = await faulty('exception');
    try {
      faulted.child.kill('SIGUSR2');
      await expect.poll(() => faulted.exited(), { timeout: 15_000 }).toEqual({ code: 1, signal: null });
      const line = faulted.output().split('\n').find((l) => l.includes('uncaught exception'));
      expect(line && JSON.parse(line)).toMatchObject({ level: 60, err: { message: 'fixture: an exception nobody catches' } });
      expect(faulted.output()).toMatch(/shutting down/);
    } finally {
      await faulted.stop();
    }
  }, 40_000);
});
