/**
 * The one base of every Deltaflow error: a stable string `code` that callers match on (never
 * the text), a message for humans, and whether trying again can help. Each library declares
 * its own codes in its errors.ts as a subclass of this.
 */
export interface CodedErrorOptions {
  readonly cause?: unknown;
  /** true when the same operation may succeed later without any change (a transient fault) */
  readonly retriable?: boolean;
}

export class CodedError<C extends string = string> extends Error {
  readonly retriable: boolean;

  constructor(
    readonly code: C,
    message: string,
    options: CodedErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}
