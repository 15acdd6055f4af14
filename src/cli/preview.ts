import { readFile } from 'node:fs/promises';
import { parseEmail, type ParseOptions, type Report } from '../parse/index.js';

/** `isw-ko preview <file.eml>`: the report as JSON, or as readable text with `--text`. */
export async function previewCommand(
  file: string,
  opts: { text?: boolean },
  parseOptions: ParseOptions,
): Promise<string> {
  const raw = await readFile(file);
  const report = await parseEmail(raw, parseOptions);
  return opts.text === true ? reportAsText(report) : JSON.stringify(report, null, 2);
}

/** A report as a person would read it in a terminal. */
export function reportAsText(r: Report): string {
  const out: string[] = [];
  out.push(r.title, '='.repeat(Math.min(80, r.title.length)));
  out.push(`source:    ${r.source}${r.product === null ? '' : ` (${r.product})`}`);
  out.push(`published: ${r.publishedAt} (from the ${r.publishedAtSource})`);
  if (r.authors.length > 0) out.push(`authors:   ${r.authors.join('; ')}`);
  out.push(`from:      ${r.from.name} <${r.from.address}>`);
  if (r.forwardedBy !== null) out.push(`forwarded: by ${r.forwardedBy.name} <${r.forwardedBy.address}>`);
  out.push(`messageId: ${r.messageId ?? '(none)'}`, '');
  for (const p of r.preface) out.push(`  ${p}`);
  if (r.preface.length > 0) out.push('');
  for (const p of r.paragraphs) {
    if (p.type === 'text') out.push(p.text, '');
    else out.push(...p.items.map((item, i) => `  ${p.ordered ? `${i + 1}.` : '-'} ${item}`), '');
  }
  if (r.keyTakeaways.length > 0) {
    out.push(`Key Takeaways (${r.keyTakeaways.length}):`);
    r.keyTakeaways.forEach((t, i) => out.push(`  ${i + 1}. ${t}`));
    out.push('');
  }
  for (const l of r.links) out.push(`[${l.kind}] ${l.text}`, `    ${l.url}`);
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return out.join('\n');
}
