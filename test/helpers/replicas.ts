/**
 * Several replicas of the bot as separate OS processes (`node dist/src/main.js`, each on
 * its own port), sharing one Redis (STORE_URL with a key prefix of their own) and one MDE:
 * the emulator, served over HTTPS from the test process, which the bots reach in live
 * mode (MSAL against the emulator's token endpoint as MDE_AUTHORITY_HOST, its self-signed
 * certificate trusted through NODE_EXTRA_CA_CERTS). Slack and Teams are local stubs.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { buildIfStale, spawnBot, type BotProcess } from './built-bot.js';
import { SlackDriver } from './slack-driver.js';
import { startSlackStub, type SlackStub } from './slack-stub.js';
import { startConnectorStub, type ConnectorStub } from './teams-connector.js';
import { TeamsDriver } from './teams-driver.js';
import type { TeamsUser } from './teams.js';

export const SLACK_SECRET = 'replicas-signing-secret';
export const APPROVALS = 'C0APPROVALS';
export const SLACK_OPERATOR = { id: 'UOPER', name: 'olivia' };
export const SLACK_APPROVER = { id: 'UAPPR', name: 'adam' };
export const TEAMS_OPERATOR: TeamsUser = { aad: '11111111-aaaa-4111-8111-111111111111', name: 'Tina Operator' };
export const TEAMS_APPROVER: TeamsUser = { aad: '22222222-aaaa-4222-8222-222222222222', name: 'Theo Approver' };
const CLIENT = { id: 'mde-chatops-replicas', secret: 'replicas-secret' };

export interface Replicas {
  emulator: Emulator;
  slack: SlackStub;
  teams: ConnectorStub;
  bots: BotProcess[];
  /** The environment every replica gets. */
  env: Record<string, string>;
  /** Slack as it would reach replica `i` (behind a load balancer, any replica). */
  slackTo(i: number): SlackDriver;
  teamsTo(i: number): TeamsDriver;
  /** Starts one more replica. */
  add(): Promise<BotProcess>;
  /** Output of every replica, for a failing test's message. */
  logs(): string;
  close(): Promise<void>;
}

export async function startReplicas(options: { count: number; storeUrl: string; env?: Record<string, string>; emulator?: EmulatorOptions }): Promise<Replicas> {
  buildIfStale();
  const dir = mkdtempSync(join(tmpdir(), 'mde-replicas-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const emulator = await startEmulator({ tls: { cert: readFileSync(cert), key: readFileSync(key) }, clientId: CLIENT.id, clientSecret: CLIENT.secret, ...options.emulator });
  const slack = await startSlackStub();
  const teams = await startConnectorStub();
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    STORE_URL: options.storeUrl,
    APPROVAL_KEY: randomBytes(32).toString('base64'),
    MDE_TENANT_ID: 'contoso-tenant',
    MDE_CLIENT_ID: CLIENT.id,
    MDE_CLIENT_SECRET: CLIENT.secret,
    MDE_API_URL: emulator.url,
    MDE_AUTHORITY_HOST: emulator.url,
    NODE_EXTRA_CA_CERTS: cert,
    SLACK_SIGNING_SECRET: SLACK_SECRET,
    SLACK_BOT_TOKEN: 'xoxb-replicas',
    SLACK_API_URL: slack.apiUrl,
    SLACK_APPROVAL_CHANNEL: APPROVALS,
    BOT_VIEWERS: '*',
    BOT_OPERATORS: `slack:${SLACK_OPERATOR.id},teams:${TEAMS_OPERATOR.aad}`,
    BOT_APPROVERS: `slack:${SLACK_APPROVER.id},teams:${TEAMS_APPROVER.aad}`,
    AV_SCAN_POLL_SECONDS: '0.5',
    SHUTDOWN_TIMEOUT_SECONDS: '5',
    ...options.env,
  };
  const bots: BotProcess[] = [];
  const add = async () => {
    const bot = await spawnBot({ cwd: dir, env });
    bots.push(bot);
    return bot;
  };
  try {
    // One after the other: on two cores, parallel start-ups only slow each other.
    for (let i = 0; i < options.count; i++) await add();
  } catch (error) {
    for (const bot of bots) bot.child.kill('SIGKILL');
    await Promise.all([emulator.close(), slack.close(), teams.close()]);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    emulator,
    slack,
    teams,
    bots,
    env,
    slackTo: (i) => new SlackDriver(`${bots[i]!.url}/slack/events`, slack, SLACK_SECRET, APPROVALS),
    teamsTo: (i) => new TeamsDriver(`${bots[i]!.url}/api/messages`, teams),
    add,
    logs: () => bots.map((b, i) => `--- replica ${i} ---\n${b.output().slice(-4000)}`).join('\n'),
    async close() {
      await Promise.all(
        bots.map(async (bot) => {
          if (bot.child.exitCode !== null || bot.child.signalCode !== null) return;
          bot.child.kill('SIGTERM');
          const timer = setTimeout(() => bot.child.kill('SIGKILL'), 8000);
          await bot.exited;
          clearTimeout(timer);
        }),
      );
      await Promise.all([emulator.close(), slack.close(), teams.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `read` until `done` holds. */
export async function until<T>(read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(value)?.slice(0, 300)})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
