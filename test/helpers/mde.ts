/** Builds a real MDE client against an emulator, with a token from its token endpoint. */
import { createMdeClient, type MdeClientOptions } from '../../src/mde/client.js';
import { createLimiter, type RateLimits } from '../../src/mde/limiter.js';
import { staticTokenProvider } from '../../src/mde/token.js';
import type { Emulator } from '../../src/emulator/index.js';

export async function emulatorToken(emulator: Emulator, tenant = 'test-tenant'): Promise<string> {
  const res = await fetch(`${emulator.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'test', client_secret: 'test', scope: 'https://api.securitycenter.microsoft.com/.default' }),
  });
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

export async function clientFor(emulator: Emulator, options: Partial<MdeClientOptions> & { limits?: RateLimits } = {}) {
  const limiter = options.limiter ?? createLimiter(options.limits ?? { perMinute: 1000, perHour: 10_000 });
  const client = createMdeClient({
    baseUrl: emulator.url,
    tokens: staticTokenProvider(await emulatorToken(emulator)),
    retry: { backoffMs: 20, ...options.retry },
    ...options,
    limiter,
  });
  return { client, limiter };
}
