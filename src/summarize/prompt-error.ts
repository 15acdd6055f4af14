import { AppError } from '../shared/app-error.js';

/** Why the prompt files could not be used. Both are operator errors: fix the files, then restart. */
export type PromptErrorCode = 'PROMPTS_MISSING' | 'PROMPTS_INVALID';

/** The prompts/ folder is missing a file, or a file is malformed (bad JSON, a contradictory glossary). */
export class PromptError extends AppError {
  override readonly name = 'PromptError';
  declare readonly code: PromptErrorCode;

  constructor(code: PromptErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(code, 'user', message, {
      ...options,
      hint: options.hint ?? 'fix the files under prompts/ (see the $comment at the top of each JSON file)',
    });
  }
}
