/**
 * The three kinds of failure isw-ko distinguishes (see STYLE.md, after n8n):
 * - `operational`: transient (network, a server down, a 4xx SMTP reply) — retry with backoff;
 * - `user`: bad input or bad configuration — retrying cannot help, tell the operator what to fix;
 * - `bug`: something we did not expect — log it loudly.
 */
export type ErrorKind = 'operational' | 'user' | 'bug';

export interface AppErrorOptions {
  /** What the operator can do about it, phrased as an instruction. */
  readonly hint?: string;
  readonly cause?: unknown;
  /** Extra machine-readable facts (never secrets): shown in logs and on admin pages. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * Base class of every error isw-ko raises on purpose. Classify by `code`, never by message text.
 */
export class AppError extends Error {
  override readonly name: string = 'AppError';
  readonly code: string;
  readonly kind: ErrorKind;
  readonly hint: string | undefined;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, kind: ErrorKind, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.kind = kind;
    this.hint = options.hint;
    this.details = options.details ?? {};
  }

  /** True when repeating the same work later may succeed. */
  get retriable(): boolean {
    return this.kind === 'operational';
  }

  /** One line for people: the message and, when there is one, what to do. */
  describe(): string {
    return this.hint === undefined ? this.message : `${this.message} — ${this.hint}`;
  }
}

/** Narrow an unknown thrown value to an AppError with the given code. */
export function isAppError(value: unknown, code?: string): value is AppError {
  return value instanceof AppError && (code === undefined || value.code === code);
}
