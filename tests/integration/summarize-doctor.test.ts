// Covers checkLlm (isw-ko doctor's LLM check) through the real openai SDK against the test server, and the doctor binary's exit code.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/shared/redis-server.js';
import { checkLlm, createLlmClient } from '../../src/summarize/index.js';
import { REPO_ROOT } from '../support/fixtures.js';
import { startLlmServer, type LlmServer } from '../support/llm-server.js';

let server: LlmServer;

beforeEach(async () => {
  server = await startLlmServer({ models: ['test-model', 'qwen2.5:7b-instruct', 'llama3:latest'] });
});
afterEach(async () => {
  await server.close();
});

const client = (url: string) => createLlmClient({ baseURL: url, apiKey: 'k', timeoutMs: 2000 });

describe('checkLlm', () => {
  it('is ok when the server lists the model (Ollama-style ":latest" included)', async () => {
    expect(await checkLlm(client(server.url), 'test-model')).toEqual({
      ok: true,
      message: `LLM server at ${server.url} is up and has model "test-model"`,
      hint: null,
    });
    expect((await checkLlm(client(server.url), 'llama3')).ok).toBe(true);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/models', 'GET /v1/models']);
  });

  it('names the models it has when ours is missing', async () => {
    const result = await checkLlm(client(server.url), 'gpt-4o-mini');
    expect(result.ok).toBe(false);
    expect(result.message).toContain('does not list model "gpt-4o-mini"');
    expect(result.hint).toBe('set LLM_MODEL to one of: test-model, qwen2.5:7b-instruct, llama3:latest');
  });

  it('falls back to a 1-token chat call when /models is not implemented', async () => {
    server.enqueue({ status: 404 });
    const result = await checkLlm(client(server.url), 'test-model');
    expect(result.ok).toBe(true);
    const chat = server.requests[1];
    expect(chat?.path).toBe('/v1/chat/completions');
    expect(chat?.body).toMatchObject({ max_completion_tokens: 1 });
  });

  it('reports an unreachable server with what to configure', async () => {
    const url = server.url;
    await server.close();
    const result = await checkLlm(client(url), 'qwen2.5:7b-instruct', { usingLocalOllamaDefault: true });
    expect(result.ok).toBe(false);
    expect(result.message).toContain(url);
    expect(result.message).toContain('ollama serve');
    expect(result.message).toContain('OPENAI_BASE_URL');
    expect(result.hint).toContain('summaries wait in the queue');
  });
});

describe('isw-ko doctor (the binary)', () => {
  /** Run `isw-ko doctor` with the given settings: its exit code and what it printed. */
  async function doctor(vars: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'isw-ko-doctor-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, DATA_DIR: path.join(dir, 'data'), ...vars };
      delete env['REDIS_URL'];
      const child = spawn(process.execPath, [path.join(REPO_ROOT, 'bin/isw-ko.js'), 'doctor'], {
        cwd: dir,
        env: { ...env, INBOX_DIR: path.join(dir, 'inbox'), ADMIN_LISTEN: '127.0.0.1:0' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      return { code, stdout };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('exits 0 when every check passes, and 1 when one says FAIL (scripts and monitoring read the code)', async () => {
    const ok = await doctor({ OPENAI_BASE_URL: server.url, OPENAI_API_KEY: 'k', LLM_MODEL: 'test-model' });
    expect(ok.stdout).not.toContain('FAIL');
    expect(ok.code, ok.stdout).toBe(0);
    const down = await doctor({
      OPENAI_BASE_URL: `http://127.0.0.1:${await freePort()}/v1`,
      OPENAI_API_KEY: 'k',
      LLM_MODEL: 'test-model',
    });
    expect(down.stdout).toMatch(/^FAIL {2}llm/m);
    expect(down.code).toBe(1);
  });
});
