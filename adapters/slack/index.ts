/**
 * The Slack adapter: a Bolt app on our own HTTP server (`/slack/events`, signatures
 * checked by Bolt's HTTPReceiver) or in Socket Mode when an app token is given.
 *
 *   createSlackAdapter({ engine, store, log, config }) → HttpAdapter
 *
 * Platform types stop here: the rest of the bot sees the core's Actor, Origin, Reply.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, HTTPModuleFunctions, HTTPReceiver, isRawBodyError, type webApi } from '@slack/bolt';
import type { Logger } from 'pino';
import type { ApprovalPublisher } from '../../src/core/context.js';
import type { SlackConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import type { Directory } from '../../src/core/directory.js';
import type { Engine } from '../../src/core/engine-api.js';
import type { HttpAdapter } from '../../src/http-adapter.js';
import type { Store } from '../../src/store/types.js';
import { createSlackPublisher } from './approvals.js';
import { slackDirectory } from './directory.js';
import { checkSlackRequest } from './envelope.js';
import { registerListeners } from './listeners/index.js';
import { boltLogger } from './logger.js';
import { DEFAULT_TIMING, FormCache, slackErrorCode, type SlackRuntime, type Timing } from './runtime.js';

export const SLACK_PATH = '/slack/events';
export const SLACK_COMMAND = '/mde';
/** Bolt's own default body limit (4 MB); the body is read once, here, and Bolt reuses it. */
export const SLACK_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** The Slack section of the configuration (validated in src/config.ts), and knobs for tests. */
export interface SlackAdapterConfig extends SlackConfig {
  /** Skip `auth.test` at start-up when both are known. */
  botId?: string;
  botUserId?: string;
  /** The slash command as configured in the Slack app (default `/mde`). */
  command?: string;
  /** Web API retries on network errors, 5xx and 429 (default 2; never the SDK's 30-minute default). */
  retries?: number;
  /** Web API request timeout in ms (default 10 s). */
  timeoutMs?: number;
  timing?: Partial<Timing>;
}

export interface SlackAdapterDeps {
  engine: Engine;
  store: Store;
  log: Logger;
  config: SlackAdapterConfig;
  /** Given Slack's user groups and e-mail addresses; the core caches them. */
  directory?: Directory;
}

export interface SlackAdapter extends HttpAdapter {
  readonly name: 'slack';
  readonly publisher: ApprovalPublisher;
  readonly socketMode: boolean;
  /** The Bolt app (its `client` is the Web API client). */
  readonly app: App;
}


function webApiUrl(apiUrl: string | undefined): string | undefined {
  if (!apiUrl) return undefined;
  return apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`;
}

export async function createSlackAdapter(deps: SlackAdapterDeps): Promise<SlackAdapter> {
  const { config } = deps;
  const log = deps.log.child({ component: 'slack' });
  const socketMode = Boolean(config.appToken);

  const logger = boltLogger(log);
  const retryConfig: webApi.RetryOptions = { retries: config.retries ?? 2, factor: 2, minTimeout: 300, maxTimeout: 3000, randomize: true };
  const clientOptions: webApi.WebClientOptions = { retryConfig, timeout: config.timeoutMs ?? 10_000, rejectRateLimitedCalls: false };
  const slackApiUrl = webApiUrl(config.apiUrl);
  if (slackApiUrl) clientOptions.slackApiUrl = slackApiUrl;

  const receiver = socketMode
    ? undefined
    : new HTTPReceiver({
        signingSecret: config.signingSecret as string,
        endpoints: SLACK_PATH,
        // Ack first, work after: the HTTP answer goes out as soon as a listener calls ack().
        processBeforeResponse: false,
        // Bolt sees only requests handleWith() let through, whose signature and timestamp it
        // checked already (more strictly: future timestamps too); a second HMAC buys nothing.
        signatureVerification: false,
        bodyLimit: SLACK_MAX_BODY_BYTES,
        logger,
      });

  // With botId and botUserId known, Bolt needs no auth.test; otherwise it is run once here
  // (deferred initialization) so that a bad token fails start-up with a clear message.
  const knownBot = Boolean(config.botId && config.botUserId);
  const app = new App({
    token: config.botToken,
    botId: config.botId,
    botUserId: config.botUserId,
    ...(receiver ? { receiver } : { socketMode: true, appToken: config.appToken }),
    logger,
    clientOptions,
    convoStore: false,
    deferInitialization: !knownBot,
    extendedErrorHandler: true,
  });
  if (!knownBot) {
    try {
      await app.init();
    } catch (error) {
      throw new ConfigError(`Slack rejected the bot token (auth.test: ${slackErrorCode(error)}); check SLACK_BOT_TOKEN${config.apiUrl ? ' and SLACK_API_URL' : ''}.`);
    }
  }

  const inFlight = new Set<Promise<unknown>>();
  const rt: SlackRuntime = {
    engine: deps.engine,
    store: deps.store,
    log,
    client: app.client,
    timing: { ...DEFAULT_TIMING, ...config.timing },
    forms: new FormCache(),
    track<T>(work: Promise<T>): Promise<T> {
      const tracked = work.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      return work;
    },
  };
  registerListeners(app, rt, { command: config.command ?? SLACK_COMMAND });
  const onError = async ({ error }: { error: Error & { code?: string } }): Promise<void> => {
    log.error({ err: error.message, code: error.code }, 'slack listener failed');
  };
  app.error(onError);

  deps.directory?.provide(slackDirectory(app.client));
  const publisher = createSlackPublisher({ client: app.client, approvalChannel: config.approvalChannel, log, updateMinMs: rt.timing.cardUpdateMinMs });

  let started = false;
  const adapter: SlackAdapter = {
    name: 'slack',
    publisher,
    socketMode,
    app,
    ...(receiver
      ? {
          path: SLACK_PATH,
          handle: (req: IncomingMessage, res: ServerResponse) => handleWith(receiver, config.signingSecret as string, log, req, res),
        }
      : {}),
    async start() {
      if (socketMode && !started) await app.start();
      started = true;
      log.info({ mode: socketMode ? 'socket' : 'http', path: socketMode ? undefined : SLACK_PATH, approvalChannel: config.approvalChannel }, 'slack adapter ready');
    },
    async stop() {
      if (socketMode && started) await app.stop();
      started = false;
      // Work begun after ack() (MDE calls, replies): let it finish, briefly.
      const pending = Promise.allSettled([...inFlight]);
      await Promise.race([pending, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      rt.forms.clear();
    },
  };
  return adapter;
}

/**
 * Hands one request to Bolt's receiver and resolves when the HTTP answer has gone out.
 * The body is read here first (with Bolt's own reader, so the receiver reuses it) and
 * checked: signed, recent (5 minutes either way) and shaped like a Slack request the bot
 * reads (envelope.ts). Anything else is answered here and never reaches Bolt.
 */
function handleWith(receiver: HTTPReceiver, signingSecret: string, log: Logger, req: IncomingMessage, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    res.once('finish', () => resolve());
    res.once('close', () => resolve());
    const answer = (status: number) => {
      if (!res.headersSent) res.writeHead(status, status === 405 ? { allow: 'POST' } : {});
      res.end();
    };
    if ((req.method ?? '').toUpperCase() !== 'POST') return answer(405);
    void (async () => {
      let rawBody: Buffer;
      try {
        rawBody = (await HTTPModuleFunctions.bufferIncomingMessage(req, SLACK_MAX_BODY_BYTES)).rawBody;
      } catch (error) {
        const tooLarge = isRawBodyError(error) && (error as { statusCode?: number }).statusCode === 413;
        log.warn({ status: tooLarge ? 413 : 400 }, tooLarge ? `slack: refused a request over ${SLACK_MAX_BODY_BYTES} bytes` : 'slack: could not read the request body');
        return answer(tooLarge ? 413 : 400);
      }
      const check = checkSlackRequest({ rawBody, headers: req.headers, signingSecret });
      if (!check.ok) {
        log.warn({ status: check.status }, `slack: refused a request (${check.reason})`);
        return answer(check.status);
      }
      try {
        receiver.requestListener(req, res);
      } catch {
        // A path the receiver does not own (HTTPReceiverDeferredRequestError).
        answer(404);
      }
    })().catch((error: unknown) => {
      log.error({ err: (error as Error)?.message }, 'slack: request handling failed');
      answer(500);
    });
  });
}
