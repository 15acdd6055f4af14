import { Command, CommanderError } from 'commander';
import { configTableMarkdown, describeEnv, loadEnv, type Env } from '../config/index.js';
import { AppError } from '../shared/app-error.js';
import { parseOptionsFrom } from './context.js';
import { previewCommand } from './preview.js';

/** Build the `isw-ko` command line. Commands stay thin: parse arguments, call a stage, print. */
export function buildProgram(env: () => Env): Command {
  const program = new Command('isw-ko')
    .description('ISW newsletter emails → Korean board posts and digests')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('preview')
    .description('parse an .eml file and print the report (JSON, or readable text with --text)')
    .argument('<file>', 'an RFC 5322 email file (.eml)')
    .option('--text', 'print readable text instead of JSON')
    .action(async (file: string, opts: { text?: boolean }) => {
      process.stdout.write(`${await previewCommand(file, opts, parseOptionsFrom(env()))}\n`);
    });

  program
    .command('config')
    .description('print the effective configuration (secrets hidden), or with --markdown the table of all settings')
    .option('--markdown', 'print the README configuration table')
    .action((opts: { markdown?: boolean }) => {
      if (opts.markdown === true) {
        process.stdout.write(`${configTableMarkdown()}\n`);
        return;
      }
      for (const row of describeEnv(env())) process.stdout.write(`${row.variable.padEnd(28)} ${row.value}\n`);
    });

  return program;
}

/** Run the CLI; turns every known error into one clear line and an exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  let cached: Env | undefined;
  const env = (): Env => (cached ??= loadEnv());
  try {
    await buildProgram(env).parseAsync([...argv]);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof AppError) {
      process.stderr.write(`isw-ko: ${err.name} ${err.code}: ${err.describe()}\n`);
      return 1;
    }
    process.stderr.write(
      `isw-ko: unexpected error (a bug — please report it):\n${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 70;
  }
}
