/**
 * What adapters call. An adapter turns a platform event into one of these calls and
 * renders the Reply it gets back; approval cards reach adapters through the
 * ApprovalPublisher each one registers.
 */
import type { ApprovalPublisher, Actor, Origin } from './context.js';
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

export interface Engine {
  /** A chat command (without `/mde` or the bot mention). Never throws: errors come back as replies. */
  handleText(actor: Actor, origin: Origin, text: string): Promise<Reply>;
  /** A button press. Approval decisions also re-render every card of the request. */
  handleButton(actor: Actor, origin: Origin, action: ButtonAction): Promise<Reply>;
  handleForm(actor: Actor, origin: Origin, submission: FormSubmission): Promise<FormOutcome>;
  /** The current view of an approval request's card (for refreshes), or null if unknown. */
  approvalCard(approvalId: string): Promise<Reply | null>;
  addPublisher(publisher: ApprovalPublisher): void;
}
