/**
 * Configuration: the environment, read once and validated with zod. A half-configured
 * platform stops start-up with a message naming the variable. Secrets stay in this
 * object and are never logged (see log.ts for the redaction list).
 */
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import type { ApprovalPolicy } from './core/approval-policy.js';
import { createRolePolicy, parseRoleList } from './core/roles.js';
import { DEMO_ROLES, DEMO_USERS } from './demo.js';
import { loadPolicyFile } from './policy-file.js';
import { ConfigError } from './errors.js';
import type { MsalTokenOptions } from './mde/token.js';

export { ConfigError };

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalText = z.preprocess(blankToUndefined, z.string().trim().optional());
const httpsUrl = (name: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .url({ protocol: /^https?$/, error: `${name} must be an http(s) URL` })
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
  );
const isLoopback = (host: string) => /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i.test(host);
const positiveInt = (name: string, fallback: number) =>
  z.preprocess(blankToUndefined, z.coerce.number({ error: `${name} must be a number` }).int({ error: `${name} must be a whole number` }).positive({ error: `${name} must be positive` }).default(fallback));

export const envSchema = z.object({
  PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(65535, { error: 'PORT must be 0-65535' }).default(3978)),
  HOST: z.preprocess(blankToUndefined, z.string().default('127.0.0.1')),
  MDE_API_URL: httpsUrl('MDE_API_URL'),
  MDE_TENANT_ID: optionalText,
  MDE_CLIENT_ID: optionalText,
  MDE_CLIENT_SECRET: optionalText,
  MDE_CLIENT_CERT_PATH: optionalText,
  MDE_AUTHORITY_HOST: z.preprocess(
    blankToUndefined,
    z.url({ protocol: /^https$/, error: 'MDE_AUTHORITY_HOST must be an https URL' }).transform((v) => v.replace(/\/+$/, '')).default('https://login.microsoftonline.com'),
  ),
  MDE_SCOPE: z.preprocess(blankToUndefined, z.string().default('https://api.securitycenter.microsoft.com/.default')),
  MDE_RATE_PER_MINUTE: positiveInt('MDE_RATE_PER_MINUTE', 100),
  MDE_RATE_PER_HOUR: positiveInt('MDE_RATE_PER_HOUR', 1500),
  MDE_TOKEN_TIMEOUT_SECONDS: positiveInt('MDE_TOKEN_TIMEOUT_SECONDS', 20),
  /** The rolling windows' lengths: only tests and benchmarks against an emulator shrink them (MDE's are a minute and an hour). */
  MDE_RATE_MINUTE_WINDOW_MS: positiveInt('MDE_RATE_MINUTE_WINDOW_MS', 60_000),
  MDE_RATE_HOUR_WINDOW_MS: positiveInt('MDE_RATE_HOUR_WINDOW_MS', 3_600_000),
  /** How often a running AV scan's MachineAction is read; default 10 (demo mode 1). */
  AV_SCAN_POLL_SECONDS: z.preprocess(blankToUndefined, z.coerce.number({ error: 'AV_SCAN_POLL_SECONDS must be a number' }).min(0.05, { error: 'AV_SCAN_POLL_SECONDS must be at least 0.05' }).max(3600, { error: 'AV_SCAN_POLL_SECONDS must be at most 3600' }).optional()),
  MDE_PROBE_IDLE_MINUTES: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: 'MDE_PROBE_IDLE_MINUTES must be a number' })
      .int({ error: 'MDE_PROBE_IDLE_MINUTES must be a whole number of minutes' })
      .min(1, { error: 'MDE_PROBE_IDLE_MINUTES must be at least 1' })
      .max(1440, { error: 'MDE_PROBE_IDLE_MINUTES must be at most 1440 (a day)' })
      .default(10),
  ),
  /** How often the scan watcher checks definitions and scanner agents (only while a conversation watches). */
  WATCH_INTERVAL_MINUTES: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: 'WATCH_INTERVAL_MINUTES must be a number' })
      .int({ error: 'WATCH_INTERVAL_MINUTES must be a whole number of minutes' })
      .min(1, { error: 'WATCH_INTERVAL_MINUTES must be at least 1' })
      .max(1440, { error: 'WATCH_INTERVAL_MINUTES must be at most 1440 (a day)' })
      .default(10),
  ),
  /** The share of the hourly MDE quota the watcher may spend; checks are spaced out to stay within it. */
  WATCH_QUOTA_PERCENT: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: 'WATCH_QUOTA_PERCENT must be a number' })
      .min(0.1, { error: 'WATCH_QUOTA_PERCENT must be at least 0.1' })
      .max(50, { error: 'WATCH_QUOTA_PERCENT must be at most 50 (interactive commands need the rest)' })
      .default(5),
  ),
  GRAPH_API_URL: z.preprocess(
    blankToUndefined,
    z
      .url({ protocol: /^https?$/, error: 'GRAPH_API_URL must be an https URL' })
      .refine((v) => v.startsWith('https:') || isLoopback(new URL(v).hostname), { error: 'GRAPH_API_URL must be https (http only on this machine: localhost, 127.0.0.1, ::1)' })
      .transform((v) => v.replace(/\/+$/, ''))
      .optional(),
  ),
  DIRECTORY_CACHE_SECONDS: positiveInt('DIRECTORY_CACHE_SECONDS', 300),
  SLACK_SIGNING_SECRET: optionalText,
  SLACK_BOT_TOKEN: optionalText,
  SLACK_APP_TOKEN: optionalText,
  SLACK_API_URL: httpsUrl('SLACK_API_URL'),
  SLACK_APPROVAL_CHANNEL: optionalText,
  MicrosoftAppId: optionalText,
  MicrosoftAppPassword: optionalText,
  MicrosoftAppType: z.preprocess(blankToUndefined, z.enum(['MultiTenant', 'SingleTenant', 'UserAssignedMSI'], { error: 'MicrosoftAppType must be SingleTenant, MultiTenant or UserAssignedMSI' }).optional()),
  MicrosoftAppTenantId: optionalText,
  BOT_VIEWERS: z.preprocess(blankToUndefined, z.string().default('')),
  BOT_OPERATORS: z.preprocess(blankToUndefined, z.string().default('')),
  BOT_APPROVERS: z.preprocess(blankToUndefined, z.string().default('')),
  APPROVAL_TTL_MINUTES: positiveInt('APPROVAL_TTL_MINUTES', 60),
  /** The most devices one AV scan request may cover (a policy file's rules.av-scan.bulk.max_devices overrides it). */
  AV_SCAN_MAX_DEVICES: z.preprocess(
    blankToUndefined,
    z.coerce.number({ error: 'AV_SCAN_MAX_DEVICES must be a number' }).int({ error: 'AV_SCAN_MAX_DEVICES must be a whole number' }).min(1, { error: 'AV_SCAN_MAX_DEVICES must be at least 1' }).max(10_000, { error: 'AV_SCAN_MAX_DEVICES must be at most 10000' }).default(500),
  ),
  /** The share of each minute's (and hour's) MDE calls a multi-device AV scan leaves to interactive commands. */
  AV_SCAN_INTERACTIVE_SHARE: z.preprocess(
    blankToUndefined,
    z.coerce.number({ error: 'AV_SCAN_INTERACTIVE_SHARE must be a number between 0.1 and 0.9' }).min(0.1, { error: 'AV_SCAN_INTERACTIVE_SHARE must be at least 0.1 (commands need some of the quota)' }).max(0.9, { error: 'AV_SCAN_INTERACTIVE_SHARE must be at most 0.9 (scans need some of the quota)' }).default(0.4),
  ),
  POLICY_FILE: optionalText,
  APPROVAL_KEY: optionalText,
  APPROVAL_KEY_FILE: optionalText,
  STORE_URL: z.preprocess(blankToUndefined, z.string().default('sqlite:./data/mde-chatops.db')),
  METRICS: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['on', 'off'], { error: 'METRICS must be on or off' }).default('on'),
  ),
  METRICS_PORT: z.preprocess(blankToUndefined, z.coerce.number({ error: 'METRICS_PORT must be a number' }).int({ error: 'METRICS_PORT must be a whole number' }).min(0).max(65535, { error: 'METRICS_PORT must be 0-65535' }).optional()),
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt('SHUTDOWN_TIMEOUT_SECONDS', 10),
  AUDIT_FILE: optionalText,
  PUBLIC_URL: httpsUrl('PUBLIC_URL'),
  LOG_LEVEL: z.preprocess(blankToUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' }).default('info')),
});

export type Env = z.output<typeof envSchema>;

/** The quota the limiter keeps: calls per rolling minute and hour (window lengths shrink only against an emulator). */
export interface RateConfig {
  perMinute: number;
  perHour: number;
  minuteMs: number;
  hourMs: number;
  /** The share of each window that background work (multi-device AV scans) leaves to commands. */
  interactiveShare: number;
}

export type MdeConfig =
  | { mode: 'demo'; rate: RateConfig }
  | ({ mode: 'live'; apiUrl: string; rate: RateConfig } & MsalTokenOptions);

/** Slack over HTTP (signing secret) or Socket Mode (app token); absent when Slack is off. */
export interface SlackConfig {
  botToken: string;
  /** Set over HTTP: request signatures are checked with it. */
  signingSecret?: string;
  /** Set for Socket Mode (no public URL). */
  appToken?: string;
  apiUrl?: string;
  approvalChannel?: string;
}

/** Teams: local mode (no MicrosoftAppId: loopback only, no inbound auth) or a registered bot. */
export type TeamsConfig =
  | { mode: 'local' }
  | { mode: 'app'; appId: string; appType: 'SingleTenant' | 'MultiTenant' | 'UserAssignedMSI'; appPassword?: string; tenantId?: string };

export interface Config {
  env: Env;
  port: number;
  host: string;
  demo: boolean;
  mde: MdeConfig;
  slack?: SlackConfig;
  teams: TeamsConfig;
  /** Who holds which role (the BOT_* lists, plus the demo users in demo mode). */
  roles: ApprovalPolicy;
  store: { url: string };
  /** How often a running AV scan is polled (ms). */
  pollMs: number;
  approvals: { ttlMinutes: number };
  /** Multi-device AV scans: the most devices one request may cover. */
  avScan: { maxDevices: number };
  /** `/metrics`: off, on the main port (`port` undefined), or on its own port. */
  metrics: { enabled: boolean; port?: number };
  /** How long a SIGTERM/SIGINT shutdown may take before the process exits non-zero. */
  shutdownTimeoutMs: number;
  /** `/readyz`: MDE is probed only after this long without an MDE call (MDE_PROBE_IDLE_MINUTES). */
  health: { probeIdleMs: number };
  /** The scan watcher: its interval, and the share of the hourly quota it may use (0-0.5). */
  watch: { intervalMs: number; quotaShare: number };
  /**
   * Directory groups and e-mail links: how long answers are kept (DIRECTORY_CACHE_SECONDS),
   * and Microsoft Graph for Entra groups (demo mode without GRAPH_API_URL: the emulator's).
   */
  directory: { cacheMs: number; graph: { mode: 'emulator' } | { mode: 'live'; apiUrl: string; scope: string } };
  /** AUDIT_FILE: every new audit entry as a JSON line, appended to a file or written to standard output. */
  auditStream?: { kind: 'stdout' } | { kind: 'file'; path: string };
  /** PUBLIC_URL: the bot's address as users reach it (download links); default the server's own. */
  publicUrl?: string;
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const env = parsed.data;
  const mde = mdeConfig(env);
  const demo = mde.mode === 'demo';
  const slack = slackConfig(env);
  return {
    env,
    port: env.PORT,
    host: env.HOST,
    demo,
    mde,
    ...(slack ? { slack } : {}),
    teams: teamsConfig(env),
    roles: rolesConfig(env, demo),
    store: { url: env.STORE_URL },
    pollMs: env.AV_SCAN_POLL_SECONDS !== undefined ? Math.round(env.AV_SCAN_POLL_SECONDS * 1000) : demo ? 1000 : 10_000,
    approvals: { ttlMinutes: env.APPROVAL_TTL_MINUTES },
    avScan: { maxDevices: env.AV_SCAN_MAX_DEVICES },
    metrics: metricsConfig(env),
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    health: { probeIdleMs: env.MDE_PROBE_IDLE_MINUTES * 60_000 },
    watch: { intervalMs: env.WATCH_INTERVAL_MINUTES * 60_000, quotaShare: env.WATCH_QUOTA_PERCENT / 100 },
    directory: { cacheMs: env.DIRECTORY_CACHE_SECONDS * 1000, graph: graphConfig(env, demo) },
    ...auditStreamConfig(env.AUDIT_FILE),
    ...(env.PUBLIC_URL ? { publicUrl: env.PUBLIC_URL } : {}),
  };
}

/** Graph's token scope is its own origin's `.default` (national clouds); a local stub takes the global one. */
function graphConfig(env: Env, demo: boolean): Config['directory']['graph'] {
  if (demo) {
    if (env.GRAPH_API_URL) throw new ConfigError('GRAPH_API_URL is set but MDE_CLIENT_ID is not: Graph is called with the MDE app registration; set it too, or unset GRAPH_API_URL for demo mode (the emulator serves Graph).');
    return { mode: 'emulator' };
  }
  const apiUrl = env.GRAPH_API_URL ?? 'https://graph.microsoft.com';
  const url = new URL(apiUrl);
  return { mode: 'live', apiUrl, scope: url.protocol === 'https:' && !isLoopback(url.hostname) ? `${url.origin}/.default` : 'https://graph.microsoft.com/.default' };
}

/** `-` or `stdout`: standard output; else a file whose folder exists (created on first entry, then appended to). */
function auditStreamConfig(value: string | undefined): Pick<Config, 'auditStream'> {
  if (value === undefined) return {};
  if (value === '-' || value.toLowerCase() === 'stdout') return { auditStream: { kind: 'stdout' } };
  const path = resolve(value);
  if (existsSync(path) && statSync(path).isDirectory()) throw new ConfigError(`AUDIT_FILE names a folder (${value}): give a file path, or - for standard output.`);
  if (!existsSync(dirname(path))) throw new ConfigError(`AUDIT_FILE: the folder ${dirname(value)} does not exist.`);
  try {
    accessSync(existsSync(path) ? path : dirname(path), constants.W_OK);
  } catch {
    throw new ConfigError(`AUDIT_FILE: ${value} cannot be written by this process.`);
  }
  return { auditStream: { kind: 'file', path } };
}

/**
 * The policy file when POLICY_FILE is set (it replaces the BOT_* lists), else the BOT_*
 * lists (each entry checked, naming the variable), plus the demo users in demo mode.
 */
function rolesConfig(env: Env, demo: boolean): ApprovalPolicy {
  if (env.POLICY_FILE) {
    const set = (['BOT_VIEWERS', 'BOT_OPERATORS', 'BOT_APPROVERS'] as const).filter((v) => env[v] !== '');
    if (set.length > 0) throw new ConfigError(`POLICY_FILE replaces the BOT_* lists: remove ${set.join(', ')} (or unset POLICY_FILE).`);
    return loadPolicyFile(env.POLICY_FILE);
  }
  const lists = { viewer: env.BOT_VIEWERS, operator: env.BOT_OPERATORS, approver: env.BOT_APPROVERS };
  parseRoleList(lists.viewer, 'BOT_VIEWERS');
  parseRoleList(lists.operator, 'BOT_OPERATORS');
  parseRoleList(lists.approver, 'BOT_APPROVERS');
  const entries = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);
  const policy = createRolePolicy({
    viewer: [...entries(lists.viewer), ...(demo ? DEMO_ROLES.viewer : [])],
    operator: [...entries(lists.operator), ...(demo ? DEMO_ROLES.operator : [])],
    approver: [...entries(lists.approver), ...(demo ? DEMO_ROLES.approver : [])],
  });
  // The demo users' Slack and Teams accounts are one person each, as a policy file would say.
  return demo ? { ...policy, people: new Map(Object.values(DEMO_USERS).flatMap((u) => [[u.slack, u.name] as const, [u.teams, u.name] as const])) } : policy;
}

function teamsConfig(env: Env): TeamsConfig {
  const appId = env.MicrosoftAppId;
  if (!appId) return { mode: 'local' };
  const tenantId = env.MicrosoftAppTenantId;
  const appType = env.MicrosoftAppType ?? (tenantId ? 'SingleTenant' : 'MultiTenant');
  const appPassword = env.MicrosoftAppPassword;
  if (appType !== 'UserAssignedMSI' && !appPassword) {
    throw new ConfigError("MicrosoftAppPassword is missing: the client secret of the bot's app registration (MicrosoftAppId) is needed.");
  }
  if (appType !== 'MultiTenant' && !tenantId) {
    throw new ConfigError(`MicrosoftAppTenantId is missing: it is needed with MicrosoftAppType=${appType} (the tenant of the bot's app registration).`);
  }
  return { mode: 'app', appId, appType, ...(appPassword ? { appPassword } : {}), ...(tenantId ? { tenantId } : {}) };
}

function mdeConfig(env: Env): MdeConfig {
  if (env.MDE_RATE_HOUR_WINDOW_MS < env.MDE_RATE_MINUTE_WINDOW_MS) throw new ConfigError('MDE_RATE_HOUR_WINDOW_MS must not be shorter than MDE_RATE_MINUTE_WINDOW_MS.');
  const rate = { perMinute: env.MDE_RATE_PER_MINUTE, perHour: env.MDE_RATE_PER_HOUR, minuteMs: env.MDE_RATE_MINUTE_WINDOW_MS, hourMs: env.MDE_RATE_HOUR_WINDOW_MS, interactiveShare: env.AV_SCAN_INTERACTIVE_SHARE };
  const shrunk = (['MDE_RATE_MINUTE_WINDOW_MS', 'MDE_RATE_HOUR_WINDOW_MS'] as const).filter((v) => env[v] < (v === 'MDE_RATE_MINUTE_WINDOW_MS' ? 60_000 : 3_600_000));
  const apiHost = env.MDE_API_URL ? new URL(env.MDE_API_URL).hostname : env.MDE_CLIENT_ID ? 'api.security.microsoft.com' : undefined;
  if (shrunk.length > 0 && apiHost && /(^|\.)microsoft\.(com|us)$/i.test(apiHost)) {
    throw new ConfigError(`${shrunk.join(' and ')} shrink the rate windows below MDE's own (a minute, an hour): that is for an emulator only; unset ${shrunk.length > 1 ? 'them' : 'it'} for ${apiHost}.`);
  }
  if (!env.MDE_CLIENT_ID) {
    if (env.MDE_TENANT_ID || env.MDE_CLIENT_SECRET || env.MDE_CLIENT_CERT_PATH) {
      throw new ConfigError('MDE_CLIENT_ID is missing: it is needed with MDE_TENANT_ID / MDE_CLIENT_SECRET / MDE_CLIENT_CERT_PATH (leave all unset for demo mode).');
    }
    if (env.MDE_API_URL) {
      throw new ConfigError('MDE_API_URL is set but MDE_CLIENT_ID is not: set the app registration too, or unset MDE_API_URL for demo mode (the in-process emulator).');
    }
    return { mode: 'demo', rate };
  }
  if (!env.MDE_TENANT_ID) throw new ConfigError('MDE_TENANT_ID is missing: the tenant of the app registration named by MDE_CLIENT_ID.');
  if (!env.MDE_CLIENT_SECRET && !env.MDE_CLIENT_CERT_PATH) {
    throw new ConfigError('MDE_CLIENT_SECRET or MDE_CLIENT_CERT_PATH is needed with MDE_CLIENT_ID.');
  }
  if (env.MDE_CLIENT_SECRET && env.MDE_CLIENT_CERT_PATH) {
    throw new ConfigError('Set only one of MDE_CLIENT_SECRET and MDE_CLIENT_CERT_PATH.');
  }
  if (env.MDE_CLIENT_CERT_PATH && !existsSync(env.MDE_CLIENT_CERT_PATH)) {
    throw new ConfigError(`MDE_CLIENT_CERT_PATH: the file ${env.MDE_CLIENT_CERT_PATH} does not exist.`);
  }
  return {
    mode: 'live',
    apiUrl: env.MDE_API_URL ?? 'https://api.security.microsoft.com',
    tenantId: env.MDE_TENANT_ID,
    clientId: env.MDE_CLIENT_ID,
    clientSecret: env.MDE_CLIENT_SECRET,
    certificatePath: env.MDE_CLIENT_CERT_PATH,
    authorityHost: env.MDE_AUTHORITY_HOST,
    scope: env.MDE_SCOPE,
    timeoutMs: env.MDE_TOKEN_TIMEOUT_SECONDS * 1000,
    rate,
  };
}

function metricsConfig(env: Env): Config['metrics'] {
  if (env.METRICS === 'off') {
    if (env.METRICS_PORT !== undefined) throw new ConfigError('METRICS_PORT is set but METRICS=off turns /metrics off: unset one of them.');
    return { enabled: false };
  }
  if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
    throw new ConfigError(`METRICS_PORT (${env.METRICS_PORT}) is the same as PORT: leave METRICS_PORT unset to serve /metrics on the main port, or pick another port.`);
  }
  return { enabled: true, port: env.METRICS_PORT };
}

function slackConfig(env: Env): SlackConfig | undefined {
  if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
    throw new ConfigError('SLACK_SIGNING_SECRET is missing: it is needed with SLACK_BOT_TOKEN for Slack over HTTP (or set SLACK_APP_TOKEN for Socket Mode).');
  }
  if ((env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN) && !env.SLACK_BOT_TOKEN) {
    throw new ConfigError('SLACK_BOT_TOKEN is missing: Slack needs the bot token (xoxb-…) with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN.');
  }
  if (env.SLACK_APP_TOKEN && !env.SLACK_APP_TOKEN.startsWith('xapp-')) {
    throw new ConfigError('SLACK_APP_TOKEN must be an app-level token starting with xapp- (Socket Mode).');
  }
  if (!env.SLACK_BOT_TOKEN) return undefined;
  return {
    botToken: env.SLACK_BOT_TOKEN,
    ...(env.SLACK_APP_TOKEN ? { appToken: env.SLACK_APP_TOKEN } : { signingSecret: env.SLACK_SIGNING_SECRET }),
    ...(env.SLACK_API_URL ? { apiUrl: env.SLACK_API_URL } : {}),
    ...(env.SLACK_APPROVAL_CHANNEL ? { approvalChannel: env.SLACK_APPROVAL_CHANNEL } : {}),
  };
}
