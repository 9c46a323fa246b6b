/**
 * The bot's error vocabulary. Every error a caller may want to tell apart carries a
 * `code`; the families below are matched with `instanceof`, never by name.
 *
 * - `ConfigError`: the configuration is wrong; start-up stops and prints the message.
 * - `UserError`: a mistake the user can fix; its message goes to chat as it is.
 * - anything else is the bot's own failure: users see `BOT_FAILURE_TEXT`, the log the rest.
 */

/** What a user sees when something fails on the bot's side. */
export const BOT_FAILURE_TEXT = 'Something went wrong on the bot side; the details are in its log.';

export class CodedError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A bad or missing setting. Subclasses name the part (roles, store, Teams…). */
export class ConfigError extends CodedError {
  constructor(message: string, code = 'config') {
    super(code, message);
  }
}

/** A mistake the user can fix; its message goes to chat as it is, with the usage line when known. */
export class UserError extends CodedError {
  constructor(
    message: string,
    readonly usage?: string,
    code = 'user',
  ) {
    super(code, message);
  }
}

/** What a user sees when the shared store (Redis) cannot be reached. */
export const STORE_UNAVAILABLE_TEXT = "The bot's store is unavailable; try again shortly.";

/**
 * The store (or the shared rate limiter, which lives in it) did not answer: nothing was
 * done. Users see `STORE_UNAVAILABLE_TEXT`; the cause goes to the log.
 */
export class StoreUnavailableError extends CodedError {
  constructor(override readonly cause?: unknown) {
    super('store_unavailable', STORE_UNAVAILABLE_TEXT);
  }
}
