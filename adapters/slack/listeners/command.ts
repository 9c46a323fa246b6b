/**
 * `/mde <text>`: ack at once (Slack wants it within 3 s), then run the command through
 * the core and answer through the response_url; a form opens as a modal. The work after
 * the ack yields to pending I/O first, so a burst of commands is acknowledged before any
 * reply is worked out.
 */
import { parseCommand } from '../../../src/core/parser.js';
import { errorReply, type Reply } from '../../../src/core/reply.js';
import { respondVia, showFormOrReply, type Respond } from '../deliver.js';
import { actorOf, originOf } from '../identity.js';
import { claimDelivery, type SlackRuntime } from '../runtime.js';
import { afterPendingIo } from '../../../src/after-io.js';
import { BOT_FAILURE_TEXT } from '../../../src/errors.js';

export interface SlashCommandInput {
  text?: string;
  user_id: string;
  user_name?: string;
  channel_id?: string;
  channel_name?: string;
  team_id?: string;
  trigger_id?: string;
  response_url?: string;
}

export interface SlashCommandArgs {
  command: SlashCommandInput;
  ack: () => Promise<void>;
  respond?: Respond;
  retryNum?: number;
}

/** Whether the text asks for a form (then the modal must open fast). */
export function isFormCommand(text: string): boolean {
  const parsed = parseCommand(text);
  return parsed.ok && (parsed.operation.kind === 'scans.createForm' || parsed.operation.kind === 'scans.updateForm');
}


export async function handleSlashCommand(rt: SlackRuntime, args: SlashCommandArgs): Promise<void> {
  const { command } = args;
  await args.ack();
  // The reply waits until the requests that arrived meanwhile are acknowledged too.
  await afterPendingIo();
  const key = `cmd:${command.trigger_id ?? `${command.user_id}:${command.response_url ?? ''}`}`;
  if (!(await claimDelivery(rt, key))) return;
  const text = command.text ?? '';
  const actor = actorOf(command.user_id, command.user_name);
  const origin = originOf({ channelId: command.channel_id, channelName: command.channel_name, teamId: command.team_id, userId: command.user_id });
  rt.log.info({ actor: actor.id, channel: command.channel_id, retryNum: args.retryNum }, 'slack /mde command');
  const reply: Promise<Reply> = rt.engine.handleText(actor, origin, text).catch((error: unknown) => {
    rt.log.error({ err: (error as Error).message }, 'engine.handleText failed');
    return errorReply(BOT_FAILURE_TEXT);
  });
  await showFormOrReply(rt, {
    triggerId: command.trigger_id,
    reply,
    expectForm: isFormCommand(text),
    meta: { kind: 'create', channel: command.channel_id, team: command.team_id, scope: origin.scope, responseUrl: command.response_url },
    target: { respond: args.respond ?? respondVia(command.response_url), channel: command.channel_id, user: command.user_id },
  });
}
