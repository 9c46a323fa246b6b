/**
 * Typed errors of the MDE layer. Each carries a message fit for a chat user; none
 * carries a token, a secret or a stack from a library.
 */
export type MdeErrorKind =
  | 'validation' // our own schema refused the request before it was sent
  | 'api' // MDE answered 4xx with its error body
  | 'not_found' // MDE answered 404
  | 'throttled' // 429 retries exhausted
  | 'unavailable' // 5xx or network errors, retries exhausted
  | 'auth' // no token could be had
  | 'bad_response'; // MDE answered something our schemas cannot read

export class MdeError extends Error {
  override readonly name = 'MdeError';
  constructor(
    readonly kind: MdeErrorKind,
    message: string,
    /** `message` is MDE's own message, as its error body said it. */
    readonly details: { status?: number; code?: string; message?: string; target?: string; problems?: string[] } = {},
  ) {
    super(message);
  }

  /** MDE's error code (e.g. `ActiveRequestAlreadyExists`), when MDE sent one. */
  get code(): string | undefined {
    return this.details.code;
  }

  get status(): number | undefined {
    return this.details.status;
  }
}

export function isMdeError(e: unknown, kind?: MdeErrorKind): e is MdeError {
  return e instanceof MdeError && (kind === undefined || e.kind === kind);
}
