import { main } from './main.js';

const code = await main(process.argv);
process.exitCode = code;
// Every command closes what it opened before main() returns, and the process then ends by itself.
// Should a connection or timer be left open by mistake, a finished command must not hang a script
// or a cron job on it: once pending output has had a moment to drain, exit anyway, and say what
// was still open (a bug to report).
setTimeout(() => {
  process.stderr.write(
    `isw-ko: still running 5 s after finishing; exiting (open: ${process.getActiveResourcesInfo().join(', ')})\n`,
  );
  process.exit(code);
}, 5_000).unref();
