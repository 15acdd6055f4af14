// Covers the soak's verdict (soak/reconcile.ts): it passes a clean run and fails on a duplicate, a loss, a leak, a crash or a queue left undrained; and the soak's seeded plans.
import { describe, expect, it } from 'vitest';
import { corpusMix } from '../../soak/corpus.js';
import { FAULT_KINDS, planFaults } from '../../soak/faults.js';
import { Random } from '../../soak/random.js';
import {
  executableMarkup,
  reconcile,
  type ExpectedItem,
  type Observed,
  type ObservedPost,
} from '../../soak/reconcile.js';

// Two genuine reports (g1 also forwarded and re-delivered), a spoofed email, another newsletter,
// a malformed email and a hostile-but-valid one.
const ITEMS: ExpectedItem[] = [
  { id: 'e1', kind: 'genuine', variant: 'roca', emailId: 'mA', expect: { kind: 'post', report: 'g1' } },
  { id: 'e2', kind: 'genuine', variant: 'iran', emailId: 'mB', expect: { kind: 'post', report: 'g2' } },
  { id: 'e3', kind: 'duplicate', variant: 'exact', emailId: 'mA', expect: { kind: 'post', report: 'g1' } },
  { id: 'e4', kind: 'forward', variant: 'gmail', emailId: 'mF', expect: { kind: 'post', report: 'g1' } },
  {
    id: 'e5',
    kind: 'spoofed',
    variant: 'auth-fail',
    emailId: 'mS',
    expect: { kind: 'held', codes: ['AUTH_FAILED'] },
  },
  { id: 'e6', kind: 'non-isw', variant: 'plain', emailId: 'mN', expect: { kind: 'ignored' } },
  {
    id: 'e7',
    kind: 'malformed',
    variant: 'empty-body',
    emailId: 'mM',
    expect: { kind: 'rejected', codes: ['NO_TEXT'] },
  },
  {
    id: 'e8',
    kind: 'malformed',
    variant: 'script-style',
    emailId: 'mX',
    expect: { kind: 'posted-clean', report: 'm-script-style' },
  },
];

function post(target: string, reportId: string, html = '<p>요약</p>'): ObservedPost {
  return { target, reportId, title: `[ISW] ${reportId}`, html, where: `${target}:${reportId}` };
}

/** What a run without any problem leaves behind. */
function clean(): Observed {
  return {
    posts: ['file', 'rhymix'].flatMap((t) => [post(t, 'rA'), post(t, 'rB'), post(t, 'rX')]),
    reportEmail: { rA: 'mA', rB: 'mB', rX: 'mX' },
    // The inline forward lost its Message-ID: the fingerprint made it report rA.
    ingested: { mA: 'rA', mB: 'rB', mF: 'rA', mX: 'rX' },
    rejections: [{ emailId: 'mM', code: 'NO_TEXT', reason: 'the message has no readable text' }],
    held: [{ id: 'mS', code: 'AUTH_FAILED', reason: 'dmarc=fail' }],
    failedJobs: [{ queue: 'ingest', jobId: 'ingest-mM', emailId: 'mM', reportId: null, reason: 'NO_TEXT' }],
    pendingJobs: {},
    unread: 0,
    logs: [{ name: 'run.log', text: '{"msg":"post published"}\n{"msg":"stopped"}\n' }],
    secrets: [{ name: 'OPENAI_API_KEY', value: 'sk-soak-0123456789' }],
    crashes: [],
    targets: ['file', 'rhymix'],
    fileIndex: ['file:rA', 'file:rB', 'file:rX'],
    notify: null,
  };
}

function kinds(observed: Observed): string[] {
  return reconcile(ITEMS, observed)
    .findings.filter((f) => f.kind !== 'note')
    .map((f) => `${f.kind} ${f.subject}`);
}

describe('reconcile', () => {
  it('passes a clean run and accounts for every email', () => {
    const v = reconcile(ITEMS, clean());
    expect(v.findings.filter((f) => f.kind !== 'note')).toEqual([]);
    expect(v.ok).toBe(true);
    expect(v.genuineExpected).toBe(2);
    expect(v.genuinePosted).toBe(2);
    expect(v.outcomes.genuine).toEqual({ posted: 2 });
    expect(v.outcomes.duplicate).toEqual({ deduplicated: 1 });
    expect(v.outcomes.forward).toEqual({ deduplicated: 1 });
    expect(v.outcomes.spoofed).toEqual({ held: 1 });
    expect(v.outcomes['non-isw']).toEqual({ ignored: 1 });
    expect(v.outcomes.malformed).toEqual({ rejected: 1, posted: 1 });
    expect(v.rejectedByCode).toEqual({ NO_TEXT: 1 });
    expect(v.postsPerTarget).toEqual({ file: 3, rhymix: 3 });
  });

  it('fails on a report posted twice on one board', () => {
    const o = clean();
    const v = reconcile(ITEMS, { ...o, posts: [...o.posts, post('rhymix', 'rA')] });
    expect(v.ok).toBe(false);
    expect(kinds({ ...o, posts: [...o.posts, post('rhymix', 'rA')] })).toEqual(['duplicate report g1']);
  });

  it('fails on a forward that became a second report (two posts of one report)', () => {
    const o = clean();
    // The forward's content fingerprint did not match: it got its own report id rF and a post.
    const observed: Observed = {
      ...o,
      ingested: { ...o.ingested, mF: 'rF' },
      reportEmail: { ...o.reportEmail, rF: 'mF' },
      posts: [...o.posts, post('file', 'rF'), post('rhymix', 'rF')],
      fileIndex: [...(o.fileIndex ?? []), 'file:rF'],
    };
    expect(kinds(observed)).toEqual(['duplicate report g1', 'duplicate report g1']);
  });

  it('fails on a report missing from one board', () => {
    const o = clean();
    const observed = { ...o, posts: o.posts.filter((p) => !(p.target === 'rhymix' && p.reportId === 'rB')) };
    expect(kinds(observed)).toEqual(['lost report g2']);
    expect(reconcile(ITEMS, observed).genuinePosted).toBe(1);
  });

  it('fails when a post is missing from the file board index page', () => {
    expect(kinds({ ...clean(), fileIndex: ['file:rA', 'file:rX'] })).toEqual(['lost file board index']);
  });

  it('fails when two distinct reports are merged into one', () => {
    const o = clean();
    // g2's email was taken for a copy of g1 (a fingerprint clash): one post for both.
    const observed: Observed = {
      ...o,
      ingested: { ...o.ingested, mB: 'rA' },
      reportEmail: { rA: 'mA', rX: 'mX' },
      posts: o.posts.filter((p) => p.reportId !== 'rB'),
    };
    // One finding for the merge: the shared post counts for both keys, so no separate "never posted".
    expect(kinds(observed)).toEqual(['lost report rA']);
  });

  it('fails when spoofed mail is posted (let in)', () => {
    const o = clean();
    const observed: Observed = {
      ...o,
      held: [],
      ingested: { ...o.ingested, mS: 'rS' },
      reportEmail: { ...o.reportEmail, rS: 'mS' },
      posts: [...o.posts, post('file', 'rS')],
      fileIndex: [...(o.fileIndex ?? []), 'file:rS'],
    };
    expect(kinds(observed)).toEqual(['leak file post file:rS', 'lost email e5']);
  });

  it('fails on a post of a report no email became', () => {
    const o = clean();
    const observed = {
      ...o,
      posts: [...o.posts, post('file', 'rZ')],
      fileIndex: [...(o.fileIndex ?? []), 'file:rZ'],
    };
    expect(kinds(observed)).toEqual(['leak file post file:rZ']);
  });

  it('fails when a script, an event handler or a javascript: URL reaches a post', () => {
    const o = clean();
    const posts = o.posts.map((p) =>
      p.reportId === 'rX' && p.target === 'file' ? { ...p, html: '<p>a<script>alert(1)</script></p>' } : p,
    );
    expect(kinds({ ...o, posts })).toEqual(['leak file post file:rX']);
    expect(executableMarkup('<img src=x onerror="alert(1)">')).toEqual(['an on…= event handler']);
    expect(executableMarkup('<a href="javascript:alert(1)">x</a>')).toEqual(['a javascript: URL']);
    // Escaped markup is text, not markup.
    expect(executableMarkup('<p>&lt;script&gt;alert(1)&lt;/script&gt; onerror=x</p>')).toEqual([]);
  });

  it('fails when a secret appears in a log, naming the variable but not printing the value', () => {
    const o = clean();
    const v = reconcile(ITEMS, {
      ...o,
      logs: [
        { name: 'worker-a.log', text: '{"msg":"ok"}\n{"apiKey":"sk-soak-0123456789","msg":"calling"}\n' },
      ],
    });
    expect(v.ok).toBe(false);
    const leak = v.findings.find((f) => f.kind === 'leak');
    expect(leak?.detail).toContain('OPENAI_API_KEY');
    expect(leak?.detail).not.toContain('sk-soak-0123456789');
  });

  it('fails when malformed mail has no reason recorded, or held mail is missing', () => {
    const o = clean();
    expect(kinds({ ...o, rejections: [], failedJobs: [] })).toEqual(['lost email e7']);
    expect(kinds({ ...o, held: [] })).toEqual(['lost email e5']);
  });

  it('fails when genuine mail is held or rejected even if a copy got it posted', () => {
    const o = clean();
    expect(kinds({ ...o, held: [...o.held, { id: 'mF', code: 'NO_TRUSTED_HEADER', reason: 'x' }] })).toEqual([
      'lost email e4',
    ]);
  });

  it('fails on queues left undrained, unread mail and crashed processes', () => {
    const o = clean();
    expect(
      kinds({
        ...o,
        pendingJobs: { 'publish delayed': 2 },
        unread: 1,
        crashes: [{ role: 'worker-a', code: 1, signal: null, tail: 'TypeError' }],
      }),
    ).toEqual(['not-drained publish delayed', 'not-drained inbox', 'crash worker-a']);
  });

  it('notes, without failing, an outcome other than the one expected', () => {
    const o = clean();
    const v = reconcile(ITEMS, {
      ...o,
      rejections: [{ emailId: 'mM', code: 'MALFORMED_MIME', reason: 'x' }],
    });
    expect(v.ok).toBe(true);
    expect(v.findings.map((f) => f.kind)).toContain('note');
  });
});

describe('reconcile with notify', () => {
  const subscribers = [
    { id: 's1', address: 'a@example.org', mode: 'immediate' as const },
    { id: 's2', address: 'b@example.org', mode: 'daily' as const },
  ];
  const mail = (to: string, messageId: string, reportIds: string[] = [], html = '<p>x</p>') => ({
    to,
    messageId,
    reportIds,
    html,
  });
  const allMailed = [
    mail('a@example.org', 'notify-rrA-s1@isw-ko.example'),
    mail('a@example.org', 'notify-rrB-s1@isw-ko.example'),
    mail('a@example.org', 'notify-rrX-s1@isw-ko.example'),
    mail('b@example.org', 'notify-d202503030800-s2@isw-ko.example', ['rA', 'rB']),
    mail('b@example.org', 'notify-d202503040800-s2@isw-ko.example', ['rX']),
  ];

  it('passes when every subscriber got each report once in their mode', () => {
    const v = reconcile(ITEMS, { ...clean(), notify: { subscribers, mails: allMailed } });
    expect(v.findings.filter((f) => f.kind !== 'note')).toEqual([]);
    expect(v.mailed).toEqual({ immediate: 3, daily: 2 });
  });

  it('fails on a report never mailed, one mailed twice, and a script in an email', () => {
    const missing = allMailed.filter((m) => m.messageId !== 'notify-rrB-s1@isw-ko.example');
    expect(kinds({ ...clean(), notify: { subscribers, mails: missing } })).toEqual([
      'lost subscriber a@example.org',
    ]);
    const twice = [...allMailed, allMailed[0] ?? mail('', '')];
    expect(kinds({ ...clean(), notify: { subscribers, mails: twice } })).toEqual([
      'duplicate email notify-rrA-s1@isw-ko.example',
      'duplicate subscriber a@example.org',
    ]);
    const inTwoDigests = [
      ...allMailed,
      mail('b@example.org', 'notify-d202503050800-s2@isw-ko.example', ['rX']),
    ];
    expect(kinds({ ...clean(), notify: { subscribers, mails: inTwoDigests } })).toEqual([
      'duplicate subscriber b@example.org',
    ]);
    const script = allMailed.map((m, i) => (i === 0 ? { ...m, html: '<script>x</script>' } : m));
    expect(kinds({ ...clean(), notify: { subscribers, mails: script } })).toEqual([
      'leak email to a@example.org',
    ]);
  });
});

describe('soak plans', () => {
  it('splits the emails into every kind and uses them all', () => {
    for (const n of [12, 40, 300]) {
      const mix = corpusMix(n);
      expect(Object.values(mix).reduce((a, b) => a + b, 0)).toBe(n);
      expect(Math.min(...Object.values(mix))).toBeGreaterThan(0);
    }
  });

  it('plans every fault kind at least once, in time order, the same for the same seed', () => {
    const plan = (seed: number) =>
      planFaults(new Random(seed), { startMs: 1_000, endMs: 60_000, count: 12, kinds: FAULT_KINDS });
    const a = plan(7);
    expect(new Set(a.map((f) => f.kind))).toEqual(new Set(FAULT_KINDS));
    expect(a.map((f) => f.atMs)).toEqual([...a.map((f) => f.atMs)].sort((x, y) => x - y));
    expect(a.every((f) => f.atMs >= 1_000 && f.atMs < 60_000)).toBe(true);
    expect(plan(7)).toEqual(a);
    expect(plan(8)).not.toEqual(a);
  });
});
