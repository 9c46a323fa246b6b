/**
 * The Teams adapter: botbuilder (`CloudAdapter` + `ConfigurationBotFrameworkAuthentication`)
 * on `/api/messages`. All botbuilder imports stay in this folder.
 *
 * Local mode (no app id): botbuilder checks no tokens, so this handler answers only
 * loopback peers that send JSON to a loopback `Host` without browser or proxy headers,
 * and whose activity's `serviceUrl` is on loopback (local-mode.ts); anything else gets 401.
 * With an app id, botbuilder validates the JWT of every request.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type Activity, type ConfigurationBotFrameworkAuthenticationOptions } from 'botbuilder';
import type { Logger } from 'pino';
import type { TeamsConfig } from '../../src/config.js';
import type { Directory } from '../../src/core/directory.js';
import type { Engine } from '../../src/core/engine-api.js';
import { BOT_FAILURE_TEXT } from '../../src/errors.js';
import type { HttpAdapter } from '../../src/http-adapter.js';
import type { Store } from '../../src/store/types.js';
import { TeamsBot } from './bot.js';
import { createTeamsDirectory } from './directory.js';
import { checkActivityEnvelope } from './envelope.js';
import { MAX_BODY_BYTES, readJsonBody, requestShim, responseShim, sendJson } from './http.js';
import { DEFAULT_INVOKE_BUDGET_MS } from './invokes.js';
import { checkLocalHeaders, checkLocalRequest, isLoopbackAddress } from './local-mode.js';
import { createLateReplies, replyActivity } from './messages.js';
import { createTeamsPublisher, type TeamsPublisher } from './proactive.js';

export { checkLocalHeaders, checkLocalRequest, isJsonContentType, isLoopbackAddress, isLoopbackHostHeader, isLoopbackServiceUrl, REFUSED_LOCAL_HEADERS } from './local-mode.js';
export { cardKind, renderApproval, renderForm, renderReply, attachment } from './render.js';
export { commandText } from './messages.js';
export { APPROVALS_HERE_SETTING, type CardMode, type TeamsPublisher } from './proactive.js';

export interface TeamsAdapterDeps {
  engine: Engine;
  store: Store;
  log: Logger;
  config: TeamsConfig;
  /** Given the Teams member lookup (e-mail links); the core caches it. */
  directory?: Directory;
  /** How long a card action may take before it is answered "working on it" (default 4 s). */
  invokeBudgetMs?: number;
  /** Request body limit (default 256 KiB). */
  maxBodyBytes?: number;
  /** How long a message's reply may take before a typing indicator is shown (default 400 ms). */
  typingAfterMs?: number;
}

export interface TeamsHttpAdapter extends HttpAdapter {
  readonly name: 'teams';
  readonly path: '/api/messages';
  readonly publisher: TeamsPublisher;
  /** True without an app id. */
  readonly localMode: boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  stop(): Promise<void>;
}

export async function createTeamsAdapter(deps: TeamsAdapterDeps): Promise<TeamsHttpAdapter> {
  const localMode = deps.config.mode === 'local';
  const appId = deps.config.mode === 'app' ? deps.config.appId : '';
  const log = deps.log.child({ adapter: 'teams' });

  const auth: ConfigurationBotFrameworkAuthenticationOptions = deps.config.mode === 'app' ? authOptions(deps.config) : {};
  const botAuth = new ConfigurationBotFrameworkAuthentication(auth);
  const adapter = new CloudAdapter(botAuth);
  adapter.onTurnError = async (context, error) => {
    log.error({ err: error instanceof Error ? error.message : String(error), activityType: context.activity.type }, 'teams: turn failed');
    if (context.activity.type === 'message') {
      await context
        .sendActivity(replyActivity({ visibility: 'private', blocks: [{ type: 'text', text: BOT_FAILURE_TEXT, tone: 'error' }], summary: 'Something went wrong' }))
        .catch(() => undefined);
    }
  };

  const publisher = createTeamsPublisher({ adapter, appId, store: deps.store, log, localMode });
  const teamsDirectory = createTeamsDirectory({ store: deps.store, publisher });
  deps.directory?.provide({ teamsEmail: (objectId) => teamsDirectory.teamsEmail(objectId) });
  const replies = createLateReplies({ publisher, log, typingAfterMs: deps.typingAfterMs });
  const bot = new TeamsBot({ engine: deps.engine, store: deps.store, log, publisher, budgetMs: deps.invokeBudgetMs ?? DEFAULT_INVOKE_BUDGET_MS, replies });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'POST only' });
    if (localMode && !isLoopbackAddress(req.socket.remoteAddress)) {
      // Refused before the body is read.
      req.resume();
      log.warn({ peer: req.socket.remoteAddress }, 'teams local mode: refused a request from another machine');
      return sendJson(res, 401, { error: 'Teams local mode (no MicrosoftAppId) answers only requests from this machine' });
    }
    if (localMode) {
      const headers = checkLocalHeaders(req.headers);
      if (!headers.ok) {
        req.resume();
        log.warn(
          { peer: req.socket.remoteAddress, host: String(req.headers.host ?? '').slice(0, 200), contentType: String(req.headers['content-type'] ?? '').slice(0, 100), origin: String(req.headers.origin ?? '').slice(0, 200) || undefined },
          `teams local mode: refused (${headers.reason})`,
        );
        return sendJson(res, 401, { error: headers.reason });
      }
    }
    const read = await readJsonBody(req, deps.maxBodyBytes ?? MAX_BODY_BYTES);
    if (!read.ok) return sendJson(res, read.status, { error: read.message });
    if (localMode) {
      const check = checkLocalRequest(req.socket.remoteAddress, read.body);
      if (!check.ok) {
        log.warn({ peer: req.socket.remoteAddress, serviceUrl: String(read.body.serviceUrl ?? '').slice(0, 200) }, `teams local mode: refused (${check.reason})`);
        return sendJson(res, 401, { error: check.reason });
      }
    }
    const envelope = checkActivityEnvelope(read.body);
    if (!envelope.ok) {
      log.warn({ peer: req.socket.remoteAddress }, `teams: refused (${envelope.reason})`);
      return sendJson(res, 400, { error: envelope.reason });
    }
    if (!localMode) {
      // Checked here first so that a refused token is one log line: botbuilder's own
      // refusal prints the whole error with its stack to the console.
      const authorization = req.headers.authorization ?? '';
      try {
        await botAuth.authenticateRequest(read.body as Partial<Activity> as Activity, authorization);
      } catch (error) {
        const err = String((error as Error)?.message ?? error).slice(0, 200);
        // botbuilder's AuthenticationError carries a statusCode; anything else (the token
        // keys could not be fetched, …) is the bot's failure, not the caller's.
        if (typeof (error as { statusCode?: unknown })?.statusCode !== 'number') {
          log.error({ peer: req.socket.remoteAddress, err }, 'teams: could not check the Bot Framework token');
          return sendJson(res, 500, { error: 'could not check the request token' });
        }
        log.warn({ peer: req.socket.remoteAddress, err }, 'teams: refused a request whose Bot Framework token did not validate');
        return sendJson(res, 401, { error: 'Unauthorized' });
      }
    }
    teamsDirectory.saw(read.body as Partial<Activity>);
    await adapter.process(requestShim(req, read.body, { dropAuthorization: localMode }), responseShim(res), (context) => bot.run(context));
  }

  return {
    name: 'teams',
    path: '/api/messages',
    publisher,
    localMode,
    handle,
    // Replies begun before shutdown are posted, briefly.
    stop: () => replies.settled(5000),
  };
}

/** botbuilder's settings from the validated Teams section of the configuration. */
function authOptions(config: Extract<TeamsConfig, { mode: 'app' }>): ConfigurationBotFrameworkAuthenticationOptions {
  return {
    MicrosoftAppId: config.appId,
    MicrosoftAppType: config.appType,
    ...(config.appPassword ? { MicrosoftAppPassword: config.appPassword } : {}),
    ...(config.tenantId ? { MicrosoftAppTenantId: config.tenantId } : {}),
  };
}
