/**
 * pino, with every field that could carry a secret redacted wherever it appears.
 */
import { pino, type Logger } from 'pino';

const SECRET_KEYS = [
  'authorization',
  'password',
  'authPassword',
  'privPassword',
  'communityString',
  'clientSecret',
  'client_secret',
  'access_token',
  'token',
  'MDE_CLIENT_SECRET',
  'SLACK_SIGNING_SECRET',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'MicrosoftAppPassword',
  'APPROVAL_KEY',
  'scanAuthenticationParams',
  'auth',
];

export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { app: 'mde-chatops' } }, destination);
}

export type { Logger };
