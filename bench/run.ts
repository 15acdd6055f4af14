// `npm run bench`: runs each bench section in turn and prints its table. Add a section by adding
// one entry to SECTIONS.
import { runParseBench, type BenchSectionResult } from './parse.js';
import { runImapBench } from './imap.js';
import { runNotifyBench } from './notify.js';
import { runPipelineBench } from './pipeline.js';

const SECTIONS: readonly (() => Promise<BenchSectionResult>)[] = [
  () => runParseBench(),
  () => runPipelineBench(),
  () => runImapBench(),
  () => runNotifyBench(),
];

process.stdout.write(`isw-ko bench — Node ${process.version}, ${new Date().toISOString()}\n`);
let failed = false;
for (const section of SECTIONS) {
  const result = await section();
  process.stdout.write(`\n${result.title}\n\n${result.table}\n\n${result.summary}\n`);
  if (!result.pass) failed = true;
}
// A missed goal shows in the exit code too, so CI can notice; every table is printed either way.
process.exitCode = failed ? 1 : 0;
