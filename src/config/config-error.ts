import { AppError } from '../shared/app-error.js';

/** One problem with one environment variable. */
export interface ConfigProblem {
  readonly variable: string;
  readonly problem: string;
  readonly expected: string;
}

/** Start-up stops with this: it lists every bad variable at once, each with what it expects. */
export class ConfigError extends AppError {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.variable}: ${p.problem}; expected ${p.expected}`);
    super(
      'CONFIG_INVALID',
      'user',
      `Configuration is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`,
      { hint: 'fix these variables in the environment or in .env, then start again' },
    );
    this.problems = problems;
  }

  /**
   * The list, then what to do on a line of its own: after a list of several lines the usual
   * " — hint" would read as the end of its last problem.
   */
  override describe(): string {
    return this.hint === undefined ? this.message : `${this.message}\n  → ${this.hint}`;
  }
}
