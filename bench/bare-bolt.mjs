/**
 * The yardstick for `npm run bench`: a minimal Bolt app (HTTPReceiver, signatures checked,
 * `/mde` acked and nothing else), run as its own process in the same tree and under the
 * same load as the bot. Plain JavaScript, so no TypeScript loader sits in its process.
 * Prints `BARE <url>` when it listens. Not shipped.
 */
import bolt from '@slack/bolt';

const { App, HTTPReceiver, LogLevel } = bolt;
const receiver = new HTTPReceiver({ signingSecret: process.env.SLACK_SIGNING_SECRET, endpoints: '/slack/events', processBeforeResponse: false });
const app = new App({ token: 'xoxb-bench', botId: 'B0BENCH', botUserId: 'U0BENCH', receiver, logLevel: LogLevel.ERROR, tokenVerificationEnabled: false });
app.command('/mde', async ({ ack }) => {
  await ack();
});
const server = await receiver.start({ port: 0, host: '127.0.0.1' });
console.log(`BARE http://127.0.0.1:${server.address().port}`);
process.on('SIGTERM', () => process.exit(0));
