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

const START = '<!-- config-table:start -->';
const END = '<!-- config-table:end -->';

/** The README text with the table between its markers replaced by the current one. */
export function replaceConfigTable(readme: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} … ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n${configTableMarkdown()}\n${readme.slice(end)}`;
}
