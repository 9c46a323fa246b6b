/**
 * Configuration: the environment, read once and validated with zod. A half-configured
 * platform stops start-up with a message naming the variable. Secrets stay in this
 * object and are never logged (see log.ts for the redaction list).
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { MsalTokenOptions } from './mde/token.js';

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
  STORE_URL: z.preprocess(blankToUndefined, z.string().default('sqlite:./data/mde-chatops.db')),
  METRICS: z.preprocess(
    (v) => (typeof v === 'string' ? v.trim().toLowerCase() || undefined : v),
    z.enum(['on', 'off'], { error: 'METRICS must be on or off' }).default('on'),
  ),
  METRICS_PORT: z.preprocess(blankToUndefined, z.coerce.number({ error: 'METRICS_PORT must be a number' }).int({ error: 'METRICS_PORT must be a whole number' }).min(0).max(65535, { error: 'METRICS_PORT must be 0-65535' }).optional()),
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt('SHUTDOWN_TIMEOUT_SECONDS', 10),
  LOG_LEVEL: z.preprocess(blankToUndefined, z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent' }).default('info')),
});

export type Env = z.output<typeof envSchema>;

export type MdeConfig =
  | { mode: 'demo'; rate: { perMinute: number; perHour: number } }
  | ({ mode: 'live'; apiUrl: string; rate: { perMinute: number; perHour: number } } & MsalTokenOptions);

export interface Config {
  env: Env;
  port: number;
  host: string;
  mde: MdeConfig;
  demo: boolean;
  /** `/metrics`: off, on the main port (`port` undefined), or on its own port. */
  metrics: { enabled: boolean; port?: number };
  /** How long a SIGTERM/SIGINT shutdown may take before the process exits non-zero. */
  shutdownTimeoutMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || 'environment'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  const env = parsed.data;
  const mde = mdeConfig(env);
  checkSlack(env);
  return { env, port: env.PORT, host: env.HOST, mde, demo: mde.mode === 'demo', metrics: metricsConfig(env), shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_SECONDS * 1000 };
}

function mdeConfig(env: Env): MdeConfig {
  const rate = { perMinute: env.MDE_RATE_PER_MINUTE, perHour: env.MDE_RATE_PER_HOUR };
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

function checkSlack(env: Env) {
  if (env.SLACK_BOT_TOKEN && !env.SLACK_SIGNING_SECRET && !env.SLACK_APP_TOKEN) {
    throw new ConfigError('SLACK_SIGNING_SECRET is missing: it is needed with SLACK_BOT_TOKEN for Slack over HTTP (or set SLACK_APP_TOKEN for Socket Mode).');
  }
  if ((env.SLACK_SIGNING_SECRET || env.SLACK_APP_TOKEN) && !env.SLACK_BOT_TOKEN) {
    throw new ConfigError('SLACK_BOT_TOKEN is missing: Slack needs the bot token (xoxb-…) with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN.');
  }
  if (env.SLACK_APP_TOKEN && !env.SLACK_APP_TOKEN.startsWith('xapp-')) {
    throw new ConfigError('SLACK_APP_TOKEN must be an app-level token starting with xapp- (Socket Mode).');
  }
}
