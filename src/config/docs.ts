import { SETTINGS, type SettingName } from './settings.js';

/** The configuration table of the README, made from the settings themselves so it cannot drift. */
export function configTableMarkdown(): string {
  const rows = ['| Variable | Default | Expects | What it does |', '|---|---|---|---|'];
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const spec = SETTINGS[name];
    const parsed = spec.schema.safeParse(undefined);
    const def = parsed.success && parsed.data !== undefined ? formatDefault(parsed.data) : '—';
    const secret = spec.secret === true ? ' (secret: never logged)' : '';
    rows.push(`| \`${name}\` | ${def} | ${escape(spec.expects)} | ${escape(spec.description)}${secret} |`);
  }
  return rows.join('\n');
}

function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return `\`${value.join(',')}\``;
  return `\`${String(value)}\``;
}

function escape(text: string): string {
  return text.replace(/\|/g, '\\|');
}
