/**
 * What adapters call. An adapter turns a platform event into one of these calls and
 * renders the Reply it gets back; approval cards reach adapters through the
 * ApprovalPublisher each one registers.
 */
import type { ApprovalPost, ApprovalPublisher, Actor, Origin } from './context.js';
import type { ButtonAction, FormKind, FormSpec, Reply } from './reply.js';

export type FormOutcome =
  | { ok: true; reply: Reply }
  /** Field errors keyed by form field name, and the form to show again with them. */
  | { ok: false; errors: Record<string, string>; form: FormSpec; message: string };

export interface FormSubmission {
  kind: FormKind;
  /** For update forms: the definition being changed. */
  definitionId?: string;
  values: Record<string, unknown>;
  /** For update forms: the form's `FormSpec.baseline`, as the adapter carried it back (untrusted). */
  baseline?: Record<string, string>;
}

/** What pressing a button led to. */
export type ButtonOutcome =
  /** A command or form button: show the reply. */
  | { type: 'reply'; reply: Reply }
  /** An approval decision was taken; `card` is the request's card as it now stands (every posted card is re-rendered too). */
  | { type: 'decided'; approvalId: string; card: Reply }
  /** The decision was not taken; `reason` says why and `card` shows the request as it stands. */
  | { type: 'refused'; approvalId: string; reason: string; card: Reply }
  /** No such approval request. */
  | { type: 'unknown'; approvalId: string; reason: string };

export interface Engine {
  /** A chat command (without `/mde` or the bot mention). Never throws: errors come back as replies. */
  handleText(actor: Actor, origin: Origin, text: string): Promise<Reply>;
  /** A button press. Never throws. */
  handleButton(actor: Actor, origin: Origin, action: ButtonAction): Promise<ButtonOutcome>;
  handleForm(actor: Actor, origin: Origin, submission: FormSubmission): Promise<FormOutcome>;
  /** An approval request as adapters see it (for card refreshes), or null if unknown. */
  approval(approvalId: string): Promise<ApprovalPost | null>;
  addPublisher(publisher: ApprovalPublisher): void;
}
