// The test LLM server in a process of its own, for the pipeline bench: in production the model runs
// on another machine, so its CPU is not the pipeline's overhead and must not share the bot's thread.
// Protocol on stdio, one JSON object a line: prints {"url"} once listening; answers each "cpu" line
// on stdin with {"cpuMs"} (this process's user + system time so far); exits when stdin closes.
import { createInterface } from 'node:readline';
import { startLlmServer } from '../tests/support/llm-server.js';

const server = await startLlmServer();
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line.trim() !== 'cpu') return;
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMs: (user + system) / 1000 })}\n`);
});
// The parent closing our stdin (or dying) is the signal to stop.
lines.on('close', () => {
  void server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`closing the test LLM server failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
});
