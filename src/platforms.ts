/**
 * The platform adapters the configuration turns on: Teams always (local mode without
 * MicrosoftAppId), Slack when its variables are set.
 */
import type { Logger } from 'pino';
import { createSlackAdapter } from '../adapters/slack/index.js';
import { createTeamsAdapter } from '../adapters/teams/index.js';
import type { Config } from './config.js';
import type { RunningEngine } from './core/engine.js';
import type { PolicySource } from './core/approval-policy.js';
import type { HttpAdapter } from './http-adapter.js';
import type { Store } from './store/types.js';

export interface AdapterDeps {
  engine: RunningEngine;
  store: Store;
  log: Logger;
  config: Config;
  policy: PolicySource;
}

export async function platformAdapters(deps: AdapterDeps): Promise<HttpAdapter[]> {
  const adapters: HttpAdapter[] = [await createTeamsAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: deps.config.teams })];
  const slack = deps.config.slack;
  if (slack) adapters.push(await createSlackAdapter({ engine: deps.engine, store: deps.store, log: deps.log, config: slack }));
  return adapters;
}
