/** The start-up banner: what runs where, which mode, which users, how to talk to it. */
import type { App } from './app.js';
import { DEMO_USERS } from './demo.js';
import { redactUrl } from './store/index.js';

export function banner(app: App): string {
  const { config } = app;
  const lines: string[] = [''];
  const rule = '='.repeat(72);
  lines.push(rule);
  if (config.demo) {
    lines.push('  mde-chatops: DEMO MODE. No MDE credentials are set: every command runs');
    lines.push(`  against the in-process MDE emulator (${app.emulator?.url ?? '?'}), with seeded data.`);
    lines.push('  Nothing reaches Microsoft Defender for Endpoint.');
  } else if (config.mde.mode === 'live') {
    lines.push(`  mde-chatops: live MDE at ${config.mde.apiUrl} (tenant ${config.mde.tenantId}).`);
  }
  lines.push(rule);
  lines.push(`  HTTP            ${app.url}  (probes: ${app.url}/healthz, ${app.url}/readyz)`);
  lines.push(`  Metrics         ${app.metricsUrl ? `${app.metricsUrl}/metrics` : 'off (METRICS=off)'}`);
  const teams = app.adapters.find((a) => a.name === 'teams');
  if (teams) {
    lines.push(`  Teams           ${app.url}/api/messages${config.env.MicrosoftAppId ? '' : '  LOCAL MODE: no MicrosoftAppId, loopback callers only'}`);
  }
  const slack = app.adapters.find((a) => a.name === 'slack');
  lines.push(`  Slack           ${slack ? (config.env.SLACK_APP_TOKEN ? 'Socket Mode' : `${app.url}/slack/events`) : 'off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET)'}`);
  lines.push(`  Store           ${redactUrl(config.env.STORE_URL)}`);
  lines.push(`  Approval TTL    ${config.env.APPROVAL_TTL_MINUTES} min`);
  if (config.demo) {
    lines.push('');
    lines.push('  Demo users (everyone else may look, not act):');
    lines.push(`    operator  ${DEMO_USERS.operator.name.padEnd(16)} ${DEMO_USERS.operator.teams}  ${DEMO_USERS.operator.slack}`);
    lines.push(`    approver  ${DEMO_USERS.approver.name.padEnd(16)} ${DEMO_USERS.approver.teams}  ${DEMO_USERS.approver.slack}`);
    lines.push('');
    lines.push('  Talk to it: in another terminal run `npm run playground`, then open');
    lines.push('    http://localhost:56150  as Olivia Operator (requests)');
    lines.push('    http://localhost:56151  as Adam Approver  (approves; say hello first)');
    lines.push('  Try: help · scans list · scans delete <id> --reason "test"');
  }
  lines.push(rule, '');
  return lines.join('\n');
}
