// `npm run bench`: runs each bench section in turn and prints its table. Add a section by adding
// one entry to SECTIONS. `npm run bench -- --only pipeline` runs one section (or a comma list).
import { runParseBench, type BenchSectionResult } from './parse.js';
import { runImapBench } from './imap.js';
import { runNotifyBench } from './notify.js';
import { runPipelineBench } from './pipeline.js';

const SECTIONS: Readonly<Record<string, () => Promise<BenchSectionResult>>> = {
  parse: () => runParseBench(),
  pipeline: () => runPipelineBench(),
  imap: () => runImapBench(),
  notify: () => runNotifyBench(),
};

function selectedSections(argv: readonly string[]): string[] {
  const i = argv.indexOf('--only');
  if (i === -1) return Object.keys(SECTIONS);
  const names = (argv[i + 1] ?? '').split(',').filter((n) => n !== '');
  const unknown = names.filter((n) => !(n in SECTIONS));
  if (names.length === 0 || unknown.length > 0)
    throw new Error(
      `--only takes section names separated by commas (${Object.keys(SECTIONS).join(', ')}); ` +
        `got ${JSON.stringify(argv[i + 1] ?? '')}`,
    );
  return names;
}

const names = selectedSections(process.argv.slice(2));
process.stdout.write(`isw-ko bench — Node ${process.version}, ${new Date().toISOString()}\n`);
let failed = false;
for (const name of names) {
  const section = SECTIONS[name];
  if (section === undefined) continue; // checked by selectedSections
  const result = await section();
  process.stdout.write(`\n${result.title}\n\n${result.table}\n\n${result.summary}\n`);
  if (!result.pass) failed = true;
}
// A missed goal shows in the exit code too, so CI can notice; every table is printed either way.
process.exitCode = failed ? 1 : 0;
