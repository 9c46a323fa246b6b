/**
 * Registration only: which Slack event goes to which handler. The handlers (command.ts,
 * actions.ts, views.ts) hold the logic and know nothing of Bolt's argument shapes beyond
 * the few fields they read.
 */
import type { App, BlockAction, ButtonAction as SlackButtonAction, SlashCommand, ViewSubmitAction } from '@slack/bolt';
import { ACTION_PATTERN } from '../render.js';
import { FIELD_ACTION_ID, FORM_CALLBACK_ID, MESSAGE_CALLBACK_ID } from '../modal.js';
import type { SlackRuntime } from '../runtime.js';
import { handleButton, handleFieldChange, type BlockActionInput } from './actions.js';
import { handleSlashCommand } from './command.js';
import { handleFormSubmission, type ViewAck, type ViewSubmissionInput } from './views.js';

export function registerListeners(app: App, rt: SlackRuntime, options: { command: string }): void {
  app.command(options.command, async ({ command, ack, respond, context }) => {
    await rt.track(handleSlashCommand(rt, { command: command as SlashCommand, ack: () => ack(), respond, retryNum: context.retryNum }));
  });

  const buttons = [ACTION_PATTERN.approval, ACTION_PATTERN.page, ACTION_PATTERN.command, ACTION_PATTERN.form];
  for (const pattern of buttons) {
    app.action<BlockAction<SlackButtonAction>>({ type: 'block_actions', action_id: pattern }, async ({ body, action, ack, respond, context }) => {
      await rt.track(handleButton(rt, { body: body as unknown as BlockActionInput, action, ack: () => ack(), respond, retryNum: context.retryNum }));
    });
  }

  // Controlling fields inside the form modal (dispatch_action).
  app.action({ type: 'block_actions', action_id: FIELD_ACTION_ID }, async ({ body, ack }) => {
    await rt.track(handleFieldChange(rt, { body: body as unknown as BlockActionInput, ack: () => ack() }));
  });

  app.view<ViewSubmitAction>({ callback_id: FORM_CALLBACK_ID, type: 'view_submission' }, async ({ body, ack, context }) => {
    await rt.track(handleFormSubmission(rt, { body: body as unknown as ViewSubmissionInput, ack: ack as ViewAck, retryNum: context.retryNum }));
  });

  // Message modals (loading, results) have no submit button; close events need nothing.
  app.view({ callback_id: MESSAGE_CALLBACK_ID, type: 'view_submission' }, async ({ ack }) => {
    await ack();
  });
}
