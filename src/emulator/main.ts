/**
 * Standalone MDE emulator (`npm run emulator`). Configured from the environment:
 * EMULATOR_PORT, EMULATOR_HOST, EMULATOR_TENANT_ID, EMULATOR_CLIENT_ID,
 * EMULATOR_CLIENT_SECRET, EMULATOR_TLS_CERT and EMULATOR_TLS_KEY (PEM file paths).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { describeIssues } from '../mde/requests.js';
import { startEmulator } from './server.js';
import type { EmulatorOptions } from './types.js';

const optionalText = z.string().trim().min(1).optional();

const envSchema = z.object({
    EMULATOR_PORT: z.coerce.number({ error: 'must be a port number' }).int({ error: 'must be a whole number' }).min(0, { error: 'must be 0-65535' }).max(65535, { error: 'must be 0-65535' }).default(4010),
    EMULATOR_HOST: z.string().trim().min(1, { error: 'must not be empty' }).default('127.0.0.1'),
    EMULATOR_TENANT_ID: z.string().trim().regex(/^[A-Za-z0-9._-]+$/, { error: 'must be a tenant id or domain (letters, digits, . _ -)' }).default('emulator-tenant'),
    EMULATOR_CLIENT_ID: optionalText,
    EMULATOR_CLIENT_SECRET: optionalText,
    EMULATOR_TLS_CERT: optionalText,
    EMULATOR_TLS_KEY: optionalText,
});

type Env = z.output<typeof envSchema>;

/** Empty variables count as unset. Every problem is reported at once. */
function readEnv(): Env {
  const present = Object.fromEntries(Object.entries(process.env).filter(([key, value]) => key.startsWith('EMULATOR_') && value !== ''));
  const parsed = envSchema.safeParse(present);
  const problems = parsed.success ? [] : describeIssues(parsed.error);
  const cert = 'EMULATOR_TLS_CERT' in present;
  if (cert !== ('EMULATOR_TLS_KEY' in present)) problems.push(`${cert ? 'EMULATOR_TLS_KEY' : 'EMULATOR_TLS_CERT'}: EMULATOR_TLS_CERT and EMULATOR_TLS_KEY go together`);
  if (!parsed.success || problems.length > 0) fail(`invalid emulator configuration:\n  ${problems.join('\n  ')}`);
  return parsed.data;
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    return fail(`${variable}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

function fail(message: string): never {
  console.error(`mde-emulator: ${message}`);
  process.exit(1);
}

function optionsFrom(env: Env): EmulatorOptions {
  const options: EmulatorOptions = { port: env.EMULATOR_PORT, host: env.EMULATOR_HOST, tenantId: env.EMULATOR_TENANT_ID };
  if (env.EMULATOR_CLIENT_ID !== undefined) options.clientId = env.EMULATOR_CLIENT_ID;
  if (env.EMULATOR_CLIENT_SECRET !== undefined) options.clientSecret = env.EMULATOR_CLIENT_SECRET;
  if (env.EMULATOR_TLS_CERT !== undefined && env.EMULATOR_TLS_KEY !== undefined) {
    options.tls = { cert: readPem('EMULATOR_TLS_CERT', env.EMULATOR_TLS_CERT), key: readPem('EMULATOR_TLS_KEY', env.EMULATOR_TLS_KEY) };
  }
  return options;
}

async function main(): Promise<void> {
  const env = readEnv();
  const emulator = await startEmulator(optionsFrom(env)).catch((error: unknown) => fail(`cannot start: ${(error as Error).message}`));
  const tenant = env.EMULATOR_TENANT_ID;
  console.log(`MDE emulator listening on ${emulator.url}`);
  console.log(`  API base URL (MDE_API_URL):       ${emulator.url}`);
  console.log(`  token endpoint:                   ${emulator.url}/${tenant}/oauth2/v2.0/token`);
  console.log(`  authority (MDE_AUTHORITY_HOST):   ${emulator.url}  tenant: any id works, e.g. MDE_TENANT_ID=${tenant}`);
  console.log(`  clients accepted:                 ${env.EMULATOR_CLIENT_ID ?? 'any client id'}${env.EMULATOR_CLIENT_SECRET ? ' with the configured secret' : ', any secret or certificate'}`);
  console.log(`  stats:                            ${emulator.url}/_emulator/stats`);
  if (!emulator.url.startsWith('https:')) console.log('  note: MSAL needs an https authority; set EMULATOR_TLS_CERT/EMULATOR_TLS_KEY to run the real token path.');
  const stop = (signal: string) => {
    console.log(`mde-emulator: ${signal}, stopping`);
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

void main();
