import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger('trace', stream), text: () => lines.join('') };
}

describe('log redaction', () => {
  it('redacts every secret-bearing field at any depth it is logged at', () => {
    const { log, text } = capture();
    const marker = 'Leak-Marker-8812';
    log.info({ authorization: `Bearer ${marker}`, clientSecret: marker }, 'top level');
    log.info({ request: { headers: { authorization: marker } } }, 'nested');
    log.info({ operation: { kind: 'scans.create', auth: { '@odata.type': 'x', communityString: marker } } }, 'operation');
    log.info({ detail: [{ scanAuthenticationParams: { authPassword: marker, privPassword: marker } }] }, 'array');
    log.info({ body: { scanAuthenticationParams: { authPassword: marker } } }, 'body');
    log.info({ env: { MDE_CLIENT_SECRET: marker, SLACK_BOT_TOKEN: marker, MicrosoftAppPassword: marker } }, 'env');
    expect(text()).toContain('[redacted]');
    expect(text()).not.toContain(marker);
  });
});
