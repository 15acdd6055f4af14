// An OpenAI-compatible HTTP server on loopback for tests: scripted behaviours, real OpenAI JSON.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';
import { z } from 'zod';

/**
 * What the server does with one request (consumed in order; 'good' when the queue is empty):
 * - 'good': a valid Korean summary computed from the request (takeaway count read from the report
 *   JSON between the report tags, categories from the schema's enum); a request without
 *   response_format (a probe) gets a one-word answer, a summary request without a report block 400;
 * - `{ slow: ms }`: the same, after `ms` milliseconds;
 * - `{ status, retryAfterSeconds?, retryAfterMs? }`: an OpenAI-style error with that status;
 * - 'invalid-json': content that is not JSON;
 * - 'invalid-summary': JSON with one takeaway too many, in English;
 * - 'markdown-fence': the good JSON wrapped in a ```json fence;
 * - 'hang': never answers (until the client gives up or the server closes).
 */
export type LlmBehaviour =
  | 'good'
  | 'invalid-json'
  | 'invalid-summary'
  | 'markdown-fence'
  | 'hang'
  | { readonly slow: number }
  | { readonly status: number; readonly retryAfterSeconds?: number; readonly retryAfterMs?: number };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The parsed JSON body (null for GET). */
  readonly body: unknown;
}

export interface LlmServer {
  /** Base URL for the SDK, ending in /v1. */
  readonly url: string;
  /** Queue behaviours for the next requests, one per request. */
  enqueue(...behaviours: LlmBehaviour[]): void;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** Stop listening and drop open connections (hanging requests included). Safe to call twice. */
  close(): Promise<void>;
}

export interface LlmServerOptions {
  /** Models listed by GET /v1/models and accepted by chat completions (others get 404). */
  readonly models?: readonly string[];
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401). */
  readonly apiKey?: string;
}

const messageSchema = z.object({
  role: z.string(),
  content: z.union([
    z.string(),
    z.array(z.object({ type: z.string(), text: z.string().optional() })),
    z.null(),
  ]),
});
const chatRequestSchema = z.object({
  model: z.string(),
  messages: z.array(messageSchema).min(1),
  response_format: z
    .object({
      type: z.string(),
      json_schema: z
        .object({
          name: z.string(),
          strict: z.boolean().optional(),
          schema: z
            .object({
              properties: z
                .object({
                  categories: z
                    .object({ items: z.object({ enum: z.array(z.string()).optional() }) })
                    .optional(),
                })
                .optional(),
            })
            .optional(),
        })
        .optional(),
    })
    .optional(),
});
type ChatRequest = z.infer<typeof chatRequestSchema>;

const reportSchema = z.object({
  key_takeaways: z.array(z.object({ n: z.number(), text: z.string() })),
});

// The same shape the summarizer writes: the report JSON alone on the lines between the tags.
const REPORT_BLOCK = /<report>\n([\s\S]*?)\n<\/report>/;

/** Start the server on 127.0.0.1 at a port the OS picks. */
export async function startLlmServer(options: LlmServerOptions = {}): Promise<LlmServer> {
  const models = options.models ?? ['test-model'];
  const queue: LlmBehaviour[] = [];
  const requests: RecordedRequest[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  let counter = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      counter += 1;
      const id = counter;
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = null;
      if (raw !== '') {
        try {
          body = JSON.parse(raw);
        } catch {
          // A non-JSON body is a bug in the client under test: answer 400 so the test sees it.
          sendError(res, id, 400, 'request body is not JSON', 'invalid_request_error');
          return;
        }
      }
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      const behaviour = queue.shift() ?? 'good';
      handle(req.method ?? 'GET', path, req.headers, body, behaviour, res, id);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function handle(
    method: string,
    path: string,
    headers: http.IncomingHttpHeaders,
    body: unknown,
    behaviour: LlmBehaviour,
    res: http.ServerResponse,
    id: number,
  ): void {
    if (behaviour === 'hang') return;
    if (typeof behaviour === 'object' && 'status' in behaviour) {
      const extra: Record<string, string> = {};
      if (behaviour.retryAfterSeconds !== undefined)
        extra['retry-after'] = String(behaviour.retryAfterSeconds);
      if (behaviour.retryAfterMs !== undefined) extra['retry-after-ms'] = String(behaviour.retryAfterMs);
      const type =
        behaviour.status === 429
          ? 'requests'
          : behaviour.status >= 500
            ? 'server_error'
            : 'invalid_request_error';
      sendError(res, id, behaviour.status, `scripted ${behaviour.status} (test server)`, type, extra);
      return;
    }
    if (options.apiKey !== undefined && headers.authorization !== `Bearer ${options.apiKey}`) {
      sendError(
        res,
        id,
        401,
        'Incorrect API key provided (test server)',
        'invalid_request_error',
        {},
        'invalid_api_key',
      );
      return;
    }
    if (method === 'GET' && path === '/v1/models') {
      sendJson(res, id, 200, {
        object: 'list',
        data: models.map((m) => ({ id: m, object: 'model', created: 1_700_000_000, owned_by: 'test' })),
      });
      return;
    }
    if (method !== 'POST' || path !== '/v1/chat/completions') {
      sendError(res, id, 404, `no route ${method} ${path} (test server)`, 'invalid_request_error');
      return;
    }
    const parsed = chatRequestSchema.safeParse(body);
    if (!parsed.success) {
      sendError(res, id, 400, `bad chat request: ${parsed.error.message}`, 'invalid_request_error');
      return;
    }
    const request = parsed.data;
    if (!models.includes(request.model)) {
      sendError(
        res,
        id,
        404,
        `The model \`${request.model}\` does not exist (test server)`,
        'invalid_request_error',
        {},
        'model_not_found',
      );
      return;
    }
    const answer = () => {
      const content = contentFor(request, behaviour);
      if (content instanceof Error) {
        sendError(res, id, 400, content.message, 'invalid_request_error');
        return;
      }
      sendJson(res, id, 200, completion(request, content, id));
    };
    if (typeof behaviour === 'object') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        answer();
      }, behaviour.slow);
      timers.add(timer);
    } else {
      answer();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    enqueue: (...behaviours) => {
      queue.push(...behaviours);
    },
    close: () => {
      closing ??= new Promise<void>((resolve, reject) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        server.close((err) => {
          if (err === undefined) resolve();
          else reject(err);
        });
        // Hanging and keep-alive connections would hold close() open forever.
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}

/** The assistant content for a behaviour, or an Error when the request has no report block. */
function contentFor(request: ChatRequest, behaviour: LlmBehaviour): string | Error {
  // A plain chat call (doctor's 1-token probe) gets a plain answer; summary requests carry a schema.
  if (request.response_format === undefined) return '네';
  if (behaviour === 'invalid-json') return '죄송합니다. 요약을 준비하는 중입니다: {"title_ko": "잘린';
  const good = goodSummary(request);
  if (good instanceof Error) return good;
  if (behaviour === 'invalid-summary') {
    return JSON.stringify({
      ...good,
      key_takeaways_ko: [
        ...good.key_takeaways_ko,
        'Russian forces recently advanced near Toretsk and Pokrovsk.',
      ],
    });
  }
  if (behaviour === 'markdown-fence') return `\`\`\`json\n${JSON.stringify(good, null, 2)}\n\`\`\``;
  return JSON.stringify(good);
}

interface GoodSummary {
  title_ko: string;
  key_takeaways_ko: string[];
  categories: string[];
  countries: { iso2: string; note: string | null }[];
  outlook_ko: string;
}

/** A valid summary for the report found in the request's messages. */
function goodSummary(request: ChatRequest): GoodSummary | Error {
  const texts = request.messages.map((m) => (typeof m.content === 'string' ? m.content : ''));
  const block = texts.map((t) => REPORT_BLOCK.exec(t)).find((m) => m !== null);
  if (block?.[1] === undefined) return new Error('no report block (<report> … </report>) in any message');
  let report: z.infer<typeof reportSchema>;
  try {
    report = reportSchema.parse(JSON.parse(block[1]));
  } catch (err) {
    return new Error(`the report block is not the expected JSON: ${String(err)}`);
  }
  // A report without takeaways gets four main points (within the 3–7 asked for).
  const count = report.key_takeaways.length > 0 ? report.key_takeaways.length : 4;
  const categories = request.response_format?.json_schema?.schema?.properties?.categories?.items.enum ?? [
    '전황',
  ];
  return {
    title_ko: '시험용 보고서의 한국어 제목',
    key_takeaways_ko: Array.from(
      { length: count },
      (_, i) => `${i + 1}번째 핵심 요점을 한국어로 옮긴 문장입니다.`,
    ),
    categories: categories.slice(0, 2),
    countries: [
      { iso2: 'UA', note: '보고서의 주요 무대입니다.' },
      { iso2: 'RU', note: null },
      { iso2: 'TR', note: '협상 장소를 제공했습니다.' },
    ],
    outlook_ko: '앞으로도 비슷한 흐름이 이어질 것으로 보입니다. 협상의 향방이 주목됩니다.',
  };
}

function completion(request: ChatRequest, content: string, id: number): Record<string, unknown> {
  const promptChars = request.messages.reduce(
    (n, m) => n + (typeof m.content === 'string' ? m.content.length : 0),
    0,
  );
  // Roughly four characters a token: deterministic, so tests can compare sums.
  const promptTokens = Math.ceil(promptChars / 4);
  const completionTokens = Math.ceil(content.length / 4);
  return {
    id: `chatcmpl-test-${id}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

function sendJson(
  res: http.ServerResponse,
  id: number,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  // The client may have timed out and gone while a slow answer was pending.
  if (res.destroyed || res.writableEnded) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    'x-request-id': `req_test_${id}`,
    ...extra,
  });
  res.end(payload);
}

function sendError(
  res: http.ServerResponse,
  id: number,
  status: number,
  message: string,
  type: string,
  extra: Record<string, string> = {},
  code: string | null = null,
): void {
  sendJson(res, id, status, { error: { message, type, param: null, code } }, extra);
}
