/**
 * One fake engine for the adapter tests: it records what an adapter hands the core and
 * answers with plain text, so a test sees the adapter's own behaviour. Whole-bot tests use
 * the real engine (engine.ts helper, or startApp).
 */
import type { Actor, ApprovalPost, ApprovalPublisher, Origin } from '../../src/core/context.js';
import type { ButtonOutcome, Engine, FormOutcome, FormSubmission } from '../../src/core/engine-api.js';
import { textReply, type ButtonAction, type Reply } from '../../src/core/reply.js';
import type { ApprovalCard, PlatformLocation } from '../../src/core/records.js';
import type { ApprovalView } from '../../src/core/reply.js';

export class FakeEngine implements Engine {
  texts: Array<{ actor: Actor; origin: Origin; text: string }> = [];
  buttons: ButtonAction[] = [];
  forms: FormSubmission[] = [];
  publishers: ApprovalPublisher[] = [];
  buttonDelayMs = 0;
  constructor(private readonly answer: (text: string) => Promise<Reply> = async (text) => textReply(`echo: ${text}`)) {}
  async handleText(actor: Actor, origin: Origin, text: string): Promise<Reply> {
    this.texts.push({ actor, origin, text });
    return this.answer(text);
  }
  async handleButton(_actor: Actor, _origin: Origin, action: ButtonAction): Promise<ButtonOutcome> {
    this.buttons.push(action);
    await new Promise((r) => setTimeout(r, this.buttonDelayMs));
    return { type: 'reply', reply: textReply(`pressed ${JSON.stringify(action)}`) };
  }
  async handleForm(_actor: Actor, _origin: Origin, submission: FormSubmission): Promise<FormOutcome> {
    this.forms.push(submission);
    return { ok: true, reply: textReply(`form ${submission.kind}`) };
  }
  async approval(): Promise<ApprovalPost | null> {
    return null;
  }
  addPublisher(publisher: ApprovalPublisher): void {
    this.publishers.push(publisher);
  }
  /** The texts the adapter handed over, in order. */
  get seen(): string[] {
    return this.texts.map((t) => t.text);
  }
}

/** An approval request as the core hands it to publishers. */
export function approvalPost(over: { view?: Partial<ApprovalView>; origin?: PlatformLocation; cards?: ApprovalCard[]; card?: Reply; mayDecide?: (actorId: string) => boolean } = {}): ApprovalPost {
  const view: ApprovalView = {
    id: 'A234567',
    state: 'pending',
    stateLabel: 'Waiting for an approver',
    title: 'Approval request A234567: delete 1 scan definition',
    facts: [{ label: 'Definition ids', value: 'd1' }],
    requester: 'ann (slack:U1)',
    reason: 'r',
    createdAt: '2030-01-01 10:00 UTC',
    expiresAt: '2030-01-01 11:00 UTC',
    buttons: [],
    badge: { text: 'Waiting for an approver', kind: 'warning' },
    timeline: [{ text: 'Requested by ann', at: '2030-01-01 10:00 UTC', ago: '3 min ago' }, { text: 'Waiting for an approver (expires in 57 min)', pending: true }],
    ids: [],
    ...over.view,
  };
  return {
    view,
    card: over.card ?? { visibility: 'public', blocks: [{ type: 'approval', approval: view }], summary: view.title },
    origin: over.origin ?? { platform: 'slack', location: { channel: 'C0REQ', channelName: 'secops' } },
    cards: over.cards ?? [],
    mayDecide: over.mayDecide ?? (() => false),
  };
}
