import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

export interface LoggerSettings {
  readonly level: string;
  readonly format: LogFormat;
  /** Extra strings (secret values) that must never appear in a log line. */
  readonly secrets?: readonly string[];
}

/**
 * Paths redacted wherever they appear in a logged object. Values of secret settings are also
 * scrubbed from messages by {@link createLogger}'s hooks, so a secret pasted into an error message
 * (a URL with a password, say) does not leak either.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  'pass',
  'apiKey',
  'token',
  'accessToken',
  'secret',
  'authorization',
  '*.password',
  '*.pass',
  '*.apiKey',
  '*.token',
  '*.accessToken',
  '*.secret',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers.cookie',
];

const REDACTED = '[redacted]';

/** Replace every occurrence of a secret value in a string. Secrets shorter than 4 chars are ignored. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 4) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/**
 * The one root logger: JSON lines in production, colourised readable lines in a terminal.
 * Stages take children of it with stable keys (`stage`, `reportId`, `jobId`, `messageId`, `uid`).
 */
export function createLogger(settings: LoggerSettings, destination?: pino.DestinationStream): Logger {
  const secrets = (settings.secrets ?? []).filter((s) => s.length >= 4);
  const options: LoggerOptions = {
    level: settings.level,
    base: { app: 'isw-ko' },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    hooks: {
      // Scrub secret values from the message and from serialised errors before they are written.
      streamWrite: secrets.length === 0 ? (line) => line : (line) => scrubSecrets(line, secrets),
    },
    serializers: { err: pino.stdSerializers.errWithCause },
  };
  if (settings.format === 'pretty' && destination === undefined) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss', destination: 2 },
      },
    });
  }
  // Logs go to stderr: stdout is the output of CLI commands (`preview`, `jobs list`), pipeable as is.
  return pino(options, destination ?? pino.destination({ dest: 2, sync: true }));
}
