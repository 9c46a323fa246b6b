/**
 * Modal submissions. The values go to the core (secrets included, and nowhere else: they
 * are never logged). Field errors come back beside their fields (`response_action:
 * errors`, block ids = field names); success closes the modal and the result is posted
 * where the form was asked for. Slack wants the ack within 3 s, and the ack carries the
 * errors, so the core gets `viewDeadlineMs`; if MDE is slower, the modal turns into a
 * "Working…" view that is replaced when the core answers.
 */
import type { FormOutcome } from '../../../src/core/engine-api.js';
import { errorReply } from '../../../src/core/reply.js';
import { respondVia, sendReply } from '../deliver.js';
import { actorOf, originOf } from '../identity.js';
import { buildFormModal, decodeMeta, loadingModal, messageModal, placeErrors, readFormValues, type FlatValues, type ModalMeta, type StateValue } from '../modal.js';
import { claimDelivery, slackErrorCode, within, type SlackRuntime } from '../runtime.js';
import { submissionFingerprint } from '../../../src/core/forms.js';
import { BOT_FAILURE_TEXT } from '../../../src/errors.js';

export interface ViewSubmissionInput {
  user: { id: string; name?: string; username?: string };
  team?: { id: string } | null;
  view: {
    id: string;
    /** Changes whenever the modal is updated (a re-render with field errors is a new one). */
    hash?: string;
    private_metadata?: string;
    blocks?: Array<{ type: string; block_id?: string }>;
    state?: { values: Record<string, Record<string, StateValue>> };
  };
}

export type ViewAck = (response?: { response_action: 'errors'; errors: Record<string, string> } | { response_action: 'update'; view: ReturnType<typeof buildFormModal> }) => Promise<void>;

export interface ViewSubmissionArgs {
  body: ViewSubmissionInput;
  ack: ViewAck;
  retryNum?: number;
}

function inputBlockIds(view: ViewSubmissionInput['view']): Set<string> {
  return new Set((view.blocks ?? []).filter((b) => b.type === 'input' && b.block_id).map((b) => b.block_id as string));
}

/** The modal to show again after a refusal, with what could not go beside a field on top. */
function refusedModal(rt: SlackRuntime, outcome: Extract<FormOutcome, { ok: false }>, meta: ModalMeta, values: FlatValues) {
  const labels = new Map(outcome.form.fields.map((f) => [f.name, f.label]));
  const fieldLines = Object.entries(outcome.errors).map(([name, message]) => `${labels.get(name) ?? name}: ${message}`);
  const note = [outcome.message, ...fieldLines].filter(Boolean).join('\n');
  return buildFormModal(outcome.form, meta, values, note || undefined, rt.log);
}

export async function handleFormSubmission(rt: SlackRuntime, args: ViewSubmissionArgs): Promise<void> {
  const { body } = args;
  const meta = decodeMeta(body.view.private_metadata);
  if (!meta) {
    await args.ack();
    rt.log.warn({ viewId: body.view.id }, 'slack modal submission without our metadata: ignored');
    return;
  }
  const values = readFormValues(body.view.state?.values);
  const actor = actorOf(body.user.id, body.user.username ?? body.user.name);
  const origin = originOf({ channelId: meta.channel, teamId: meta.team ?? body.team?.id, userId: body.user.id, scope: meta.scope });
  // Field names only: the values may hold secrets.
  rt.log.info({ actor: actor.id, form: meta.kind, fields: Object.keys(values), retryNum: args.retryNum }, 'slack form submitted');
  // The baseline (update forms) is what the form showed: only what differs from it is sent.
  const submission = { kind: meta.kind, definitionId: meta.definitionId, values, ...(meta.baseline ? { baseline: meta.baseline } : {}) };
  // One modal state, one run: a replay, a retry or a concurrent copy of the same submission is acked and dropped.
  if (!(await claimDelivery(rt, `form:${body.view.id}:${body.view.hash ?? ''}:${submissionFingerprint(submission)}`))) {
    await args.ack();
    return;
  }
  const work = rt.engine.handleForm(actor, origin, submission).catch(
    (error: unknown): FormOutcome => {
      rt.log.error({ err: (error as Error).message }, 'engine.handleForm failed');
      return { ok: true, reply: errorReply(BOT_FAILURE_TEXT) };
    },
  );
  const target = { respond: respondVia(meta.responseUrl), channel: meta.channel, user: body.user.id };

  const early = await within(work, rt.timing.viewDeadlineMs);
  if (early) {
    const outcome = early.value;
    if (outcome.ok) {
      await args.ack();
      await sendReply(rt, target, outcome.reply);
      return;
    }
    const { placed, unplaced } = placeErrors(outcome.errors, inputBlockIds(body.view));
    if (Object.keys(placed).length > 0 && unplaced.length === 0) {
      await args.ack({ response_action: 'errors', errors: placed });
    } else {
      await args.ack({ response_action: 'update', view: refusedModal(rt, outcome, meta, values) });
    }
    rt.forms.set(body.view.id, outcome.form);
    return;
  }

  // MDE is slow: keep the modal open with a notice, and finish when the core answers.
  await args.ack({ response_action: 'update', view: loadingModal('MDE', 'Working on it: Defender is answering slowly. This dialog changes when it is done.') });
  const outcome = await work;
  try {
    if (outcome.ok) {
      await rt.client.views.update({ view_id: body.view.id, view: messageModal(outcome.reply, 'Done') });
    } else {
      await rt.client.views.update({ view_id: body.view.id, view: refusedModal(rt, outcome, meta, values) });
      rt.forms.set(body.view.id, outcome.form);
    }
  } catch (error) {
    rt.log.warn({ err: slackErrorCode(error) }, 'could not update the modal after a slow submission');
  }
  if (outcome.ok) await sendReply(rt, target, outcome.reply);
}
