/**
 * Slack's Web API (and response_urls) and the Bot Framework connector, as their own process
 * for `npm run bench` (`node --import tsx`), so the replies the bot sends do not load the
 * process that measures it. Prints `STUBS <slack api url> <connector url> <control url>`.
 * The control server answers `GET /responses?from=N` and `GET /connector?from=N` with what
 * was received since index N: `{ id, at, text }`. Not shipped.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cardsOf, cardText, startConnectorStub } from '../test/helpers/teams-connector.js';
import { startSlackStub } from '../test/helpers/slack-stub.js';

const slack = await startSlackStub();
const connector = await startConnectorStub();

const control = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://stubs');
  const from = Number(url.searchParams.get('from') ?? 0);
  let items: unknown[] = [];
  if (url.pathname === '/responses') {
    items = slack.responses.slice(from).map((r) => ({ id: r.id, at: r.at, text: JSON.stringify(r.body).slice(0, 400) }));
  } else if (url.pathname === '/connector') {
    items = connector.calls.slice(from).map((c) => ({ kind: c.kind, id: c.activityId, at: c.at, text: c.kind === 'reply' || c.kind === 'send' ? cardText(cardsOf(c)[0]).slice(0, 400) : '' }));
  } else if (url.pathname === '/response-url') {
    items = [slack.responseUrl()];
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(items));
});
await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()));
console.log(`STUBS ${slack.apiUrl} ${connector.url} http://127.0.0.1:${(control.address() as AddressInfo).port}`);
process.on('SIGTERM', () => process.exit(0));
