// LinkResolver against a real HTTP server on 127.0.0.1: redirect chains, loops, timeouts, cookies, tracking hosts, fallback, cache.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReportLink } from '../../src/parse/report.js';
import { FALLBACK_FULL_REPORT_TEXT, isTrackingHost, LinkResolver } from '../../src/publish/index.js';

/**
 * The server plays both Constant Contact (requests to `*.rs6.net` are sent to `/cc/<host>/…` by the
 * fetch below, because a real tracking host cannot be served from 127.0.0.1) and the public sites
 * links lead to (plain `http://127.0.0.1:<port>/pub/…` URLs).
 */
let server: Server;
let base: string;
/** Every request the server saw: path and the Cookie header it carried. */
let seen: { path: string; method: string; cookie: string | undefined }[] = [];
const held = new Set<ServerResponse>();

const ROCA = { product: 'Russian Offensive Campaign Assessment', publishedAt: '2025-03-02T19:45:00-05:00' };
const ROCA_URL =
  'https://understandingwar.org/research/russia-ukraine/russian-offensive-campaign-assessment-march-2-2025/';

const cc = (f: string, host = 'qtk4ncjab.cc.rs6.net'): string =>
  `https://${host}/tn.jsp?f=${f}&c=subscriber&ch=id`;
const link = (
  url: string,
  kind: ReportLink['kind'] = 'full-report',
  text = 'Click Here to Read the Full Report',
): ReportLink => ({
  kind,
  text,
  url,
});

/** What the server answers: a status with headers and body, or nothing at all (`hold`). */
type Reply = { status: number; headers?: Record<string, string>; body?: string } | 'hold';

const redirect = (location: string, status = 302, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { location, ...headers },
});
const html = (body: string): Reply => ({ status: 200, headers: { 'content-type': 'text/html' }, body });

/** Constant Contact's side: `f` names the scenario. */
function trackingReply(url: URL): Reply {
  switch (url.searchParams.get('f') ?? '') {
    case 'chain':
      return redirect(cc('chain2', 'r20.rs6.net'));
    case 'chain2':
      return redirect(`${base}/pub/hop`, 301);
    case 'direct':
      return redirect(`${base}/pub/report?utm_source=cc&utm_medium=email&utm_campaign=roca&mc_eid=x&id=7`);
    case 'loopA':
      return redirect(cc('loopB'));
    case 'loopB':
      return redirect(cc('loopA'));
    case 'long':
      return redirect(`${cc('long')}&n=${Number(url.searchParams.get('n') ?? '0') + 1}`);
    case 'slow':
      return 'hold'; // never answered: the resolver's timeout must end it
    case 'cookie':
      return redirect(cc('cookie2', 'r20.rs6.net'), 302, { 'set-cookie': 'sid=subscriber-secret; Path=/' });
    case 'cookie2':
      return redirect(`${base}/pub/landing`, 302, { 'set-cookie': 'sid2=more; Path=/' });
    case 'expired':
      return html('<html><body>This link has expired.</body></html>');
    case 'meta':
      return html(
        `<html><head><meta http-equiv="refresh" content="0; url=${base}/pub/meta-target?utm_source=x"></head></html>`,
      );
    case 'unavailable':
      return { status: 503 };
    case 'to-public-slow':
      return redirect(`${base}/pub/slow`);
    case 'to-blocked':
      return redirect(`${base}/pub/blocked?fbclid=abc`);
    case 'to-public-loop':
      return redirect(`${base}/pub/loop`);
    case 'to-javascript':
      return redirect('javascript:alert(1)');
    case 'relative':
      return redirect('/cc/qtk4ncjab.cc.rs6.net/tn.jsp?f=direct');
    default:
      return { status: 404 };
  }
}

/** The public sites' side. */
function publicReply(url: URL): Reply {
  switch (url.pathname) {
    case '/pub/hop':
      return redirect('/pub/final?utm_source=cc&x=1', 307);
    case '/pub/loop':
      // A site that sets a cookie and bounces until it sees it back: we never send it.
      return redirect(url.search === '' ? '/pub/loop?check=1' : '/pub/loop', 302, { 'set-cookie': 'seen=1' });
    case '/pub/slow':
      return 'hold';
    case '/pub/blocked':
      return { status: 403, body: 'bot protection' };
    case '/pub/to-tracking':
      return redirect(cc('expired'));
    default:
      return html('<html><body>report</body></html>');
  }
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', base);
  seen.push({ path: `${url.pathname}${url.search}`, method: req.method ?? '', cookie: req.headers.cookie });
  const reply = url.pathname.startsWith('/cc/') ? trackingReply(url) : publicReply(url);
  if (reply === 'hold') {
    held.add(res);
    return;
  }
  res.writeHead(reply.status, reply.headers).end(reply.body);
}

/**
 * fetch as the resolver would use it, except that tracking hosts are served by the local server.
 * Anything that is not 127.0.0.1 after that fails the test: no request may leave the machine.
 */
const localFetch: typeof fetch = (input, init) => {
  const url = new URL(input instanceof Request ? input.url : input.toString());
  const target = isTrackingHost(url.hostname)
    ? new URL(`/cc/${url.hostname}${url.pathname}${url.search}`, base)
    : url;
  if (target.hostname !== '127.0.0.1') throw new Error(`the test tried to reach ${url.hostname}`);
  return fetch(target, init);
};

function resolver(options: Partial<ConstructorParameters<typeof LinkResolver>[0]> = {}): LinkResolver {
  return new LinkResolver({ timeoutMs: 2000, fetch: localFetch, ...options });
}

beforeAll(async () => {
  server = createServer(handle);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

beforeEach(() => {
  seen = [];
});

describe('LinkResolver', () => {
  it('follows a redirect chain across hosts and strips tracking parameters', async () => {
    const [out] = await resolver().resolve([link(cc('chain'))], ROCA);
    expect(out).toEqual({
      kind: 'full-report',
      text: 'Click Here to Read the Full Report',
      url: `${base}/pub/final?x=1`,
      resolvedBy: 'redirect',
    });
    expect(seen.map((s) => s.path.split('?')[0])).toEqual([
      '/cc/qtk4ncjab.cc.rs6.net/tn.jsp',
      '/cc/r20.rs6.net/tn.jsp',
      '/pub/hop',
      '/pub/final',
    ]);
    expect(seen.every((s) => s.method === 'GET')).toBe(true);
  });

  it('removes utm_*, mc_* and the like from the target', async () => {
    const [out] = await resolver().resolve([link(cc('direct'), 'related', 'x')], ROCA);
    expect(out?.url).toBe(`${base}/pub/report?id=7`);
  });

  it('resolves a relative Location against the current URL', async () => {
    const [out] = await resolver().resolve([link(cc('relative'), 'related', 'x')], ROCA);
    expect(out?.url).toBe(`${base}/pub/report?id=7`);
  });

  it('never sends a cookie back, not even the one the tracking host just set', async () => {
    const [out] = await resolver().resolve([link(cc('cookie'), 'interactive-map', 'maps')], ROCA);
    expect(out?.url).toBe(`${base}/pub/landing`);
    expect(seen).toHaveLength(3);
    expect(seen.map((s) => s.cookie)).toEqual([undefined, undefined, undefined]);
  });

  it('falls back to ISW’s URL when the chain loops on the tracking host, and drops other links', async () => {
    const out = await resolver().resolve(
      [link(cc('loopA'), 'interactive-map', 'maps'), link(cc('loopB'))],
      ROCA,
    );
    expect(out).toEqual([
      {
        kind: 'full-report',
        text: 'Click Here to Read the Full Report',
        url: ROCA_URL,
        resolvedBy: 'fallback',
      },
    ]);
  });

  it('gives up after maxHops redirects', async () => {
    const out = await resolver({ maxHops: 3 }).resolve([link(cc('long'))], ROCA);
    expect(out).toEqual([expect.objectContaining({ url: ROCA_URL, resolvedBy: 'fallback' })]);
    // The first request and three redirects: never a fifth request.
    expect(seen).toHaveLength(4);
  });

  it('times out on a tracking host that does not answer, and falls back', async () => {
    const started = performance.now();
    const out = await resolver({ timeoutMs: 300 }).resolve(
      [link(cc('slow'), 'related', 'special report'), link(cc('slow') + '&x=2')],
      ROCA,
    );
    expect(performance.now() - started).toBeLessThan(2000);
    expect(out).toEqual([
      expect.objectContaining({ kind: 'full-report', url: ROCA_URL, resolvedBy: 'fallback' }),
    ]);
  });

  it('keeps the target a tracking host sent us to, even when that site is slow or refuses bots', async () => {
    const out = await resolver({ timeoutMs: 300 }).resolve(
      [link(cc('to-public-slow'), 'related', 'slow'), link(cc('to-blocked'), 'related', 'blocked')],
      ROCA,
    );
    expect(out.map((l) => l.url)).toEqual([
      `${base}/pub/slow`,
      `${base}/pub/blocked`,
      ROCA_URL, // no full-report link in the input: ISW's URL is added
    ]);
    expect(out.at(-1)).toEqual({
      kind: 'full-report',
      text: FALLBACK_FULL_REPORT_TEXT,
      url: ROCA_URL,
      resolvedBy: 'fallback',
    });
  });

  it('takes the first public address when a public site loops for a client without cookies', async () => {
    const [out] = await resolver().resolve([link(cc('to-public-loop'), 'related', 'x')], ROCA);
    expect(out?.url).toBe(`${base}/pub/loop`);
    expect(seen.every((s) => s.cookie === undefined)).toBe(true);
  });

  it('refuses a chain that ends on a tracking host (an expired link page)', async () => {
    const out = await resolver().resolve(
      [
        link(cc('expired'), 'related', 'x'),
        link(`${base}/pub/to-tracking`, 'related', 'y'),
        link(cc('expired')),
      ],
      ROCA,
    );
    expect(out).toEqual([
      expect.objectContaining({ kind: 'full-report', url: ROCA_URL, resolvedBy: 'fallback' }),
    ]);
  });

  it('follows a meta refresh on a tracking host page', async () => {
    const [out] = await resolver().resolve([link(cc('meta'))], ROCA);
    expect(out).toEqual(expect.objectContaining({ url: `${base}/pub/meta-target`, resolvedBy: 'redirect' }));
  });

  it('never follows a redirect to a non-http scheme', async () => {
    const out = await resolver().resolve([link(cc('to-javascript'))], ROCA);
    expect(out).toEqual([expect.objectContaining({ url: ROCA_URL, resolvedBy: 'fallback' })]);
  });

  it('never throws for a bad link', async () => {
    const out = await resolver().resolve(
      [
        link('not a url', 'related', 'a'),
        link('mailto:isw-inbox@example.com', 'related', 'b'),
        link('javascript:alert(1)', 'related', 'c'),
        link('not a url either'),
      ],
      ROCA,
    );
    expect(out).toEqual([
      expect.objectContaining({ kind: 'full-report', url: ROCA_URL, resolvedBy: 'fallback' }),
    ]);
  });

  it('leaves out a full-report link it cannot resolve when the product has no known URL', async () => {
    const out = await resolver().resolve([link(cc('expired'))], {
      product: 'The Eastern Europe Brief',
      publishedAt: '2025-05-02T07:05:12-04:00',
    });
    expect(out).toEqual([]);
  });

  it('caches by URL: the same link is fetched once, also across resolve calls and concurrent requests', async () => {
    const cache = new Map<string, string | null>();
    const r = resolver({ cache });
    const url = cc('direct') + '&cache=1';
    const [a, b] = await Promise.all([
      r.resolve([link(url, 'related', 'x'), link(url, 'related', 'y')], ROCA),
      r.resolve([link(url, 'related', 'z')], ROCA),
    ]);
    await resolver({ cache }).resolve([link(url, 'related', 'again')], ROCA);
    expect(seen.filter((s) => s.path.startsWith('/cc/'))).toHaveLength(1);
    expect(a.filter((l) => l.kind === 'related').map((l) => l.url)).toEqual([
      `${base}/pub/report?id=7`,
      `${base}/pub/report?id=7`,
    ]);
    expect(b[0]?.url).toBe(`${base}/pub/report?id=7`);
    expect(cache.get(url)).toBe(`${base}/pub/report?id=7`);
  });

  it('does not cache transient failures (timeouts, 503) but does cache permanent ones', async () => {
    const cache = new Map<string, string | null>();
    const r = resolver({ cache, timeoutMs: 300 });
    const slow = cc('slow') + '&c2=1';
    const unavailable = cc('unavailable');
    const expired = cc('expired') + '&c2=1';
    const links = [
      link(slow, 'related', 'a'),
      link(unavailable, 'related', 'b'),
      link(expired, 'related', 'c'),
    ];
    await r.resolve(links, ROCA);
    await r.resolve(links, ROCA);
    const hits = (f: string): number => seen.filter((s) => s.path.includes(`f=${f}`)).length;
    expect([hits('slow'), hits('unavailable'), hits('expired')]).toEqual([2, 2, 1]);
    expect(cache.has(slow)).toBe(false);
    expect(cache.has(unavailable)).toBe(false);
    expect(cache.get(expired)).toBeNull();
  });

  it('forgets its oldest entries beyond maxCacheEntries', async () => {
    const cache = new Map<string, string | null>();
    const r = resolver({ cache, maxCacheEntries: 2 });
    for (const n of [1, 2, 3]) await r.resolve([link(`${cc('direct')}&n=${n}`, 'related', 'x')], ROCA);
    expect([...cache.keys()]).toEqual([`${cc('direct')}&n=2`, `${cc('direct')}&n=3`]);
  });

  it('with followRedirects false: no request at all, public links kept, full report from ISW', async () => {
    const out = await resolver({ followRedirects: false }).resolve(
      [
        link(cc('direct'), 'related', 'tracking'),
        link('https://understandingwar.org/x/?utm_source=a', 'related', 'public'),
        link(cc('chain')),
      ],
      ROCA,
    );
    expect(seen).toHaveLength(0);
    expect(out).toEqual([
      { kind: 'related', text: 'public', url: 'https://understandingwar.org/x/', resolvedBy: 'redirect' },
      {
        kind: 'full-report',
        text: 'Click Here to Read the Full Report',
        url: ROCA_URL,
        resolvedBy: 'fallback',
      },
    ]);
  });
});
