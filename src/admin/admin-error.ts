import { AppError, type AppErrorOptions, type ErrorKind } from '../shared/app-error.js';

/** What can go wrong when an admin acts on jobs and reports (CLI or web). */
export type AdminErrorCode =
  | 'JOB_NOT_FOUND'
  | 'JOB_NOT_RETRIABLE'
  | 'REPORT_NOT_FOUND'
  | 'REPORT_NOT_HELD'
  | 'SUMMARY_MISSING'
  | 'NOTIFY_NOT_CONFIGURED'
  | 'QUARANTINE_NOT_CONFIGURED'
  | 'BAD_ARGUMENT';

/** An admin action that cannot be done as asked; `hint` says what to do instead. */
export class AdminError extends AppError {
  override readonly name = 'AdminError';
  declare readonly code: AdminErrorCode;

  constructor(code: AdminErrorCode, message: string, options: AppErrorOptions & { kind?: ErrorKind } = {}) {
    super(code, options.kind ?? 'user', message, options);
  }
}
