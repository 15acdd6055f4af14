// The soak's verdict: what the corpus says must have happened against what the boards, the store,
// the quarantine, the queues, the logs and the SMTP server show. Pure: no I/O, unit-tested.
import type { Expectation, ItemKind } from './corpus.js';

/** One email the soak appended, as reconciliation needs it. */
export interface ExpectedItem {
  readonly id: string;
  readonly kind: ItemKind;
  readonly variant: string;
  /** The pipeline's email id (and quarantine key) of the bytes. */
  readonly emailId: string;
  readonly expect: Expectation;
}

/** A post found on a board. */
export interface ObservedPost {
  /** `file` or `rhymix`. */
  readonly target: string;
  /** The report id the post is for (from the post key `isw-ko-<reportId>`); null when unreadable. */
  readonly reportId: string | null;
  readonly title: string;
  readonly html: string;
  /** Where it was found (a file name, a document_srl), for the findings. */
  readonly where: string;
}

export interface ObservedRejection {
  readonly emailId: string;
  readonly code: string;
  readonly reason: string;
}

export interface ObservedHeld {
  /** The quarantine's id: the message key, which is the email id. */
  readonly id: string;
  readonly code: string;
  readonly reason: string;
}

/** A job left in BullMQ's failed set after the retry. */
export interface ObservedFailedJob {
  readonly queue: string;
  readonly jobId: string;
  readonly emailId: string | null;
  readonly reportId: string | null;
  readonly reason: string;
}

/** One email the SMTP server accepted from the bot. */
export interface ObservedMail {
  /** Lower-case recipient. */
  readonly to: string;
  /** Message-ID without brackets (`notify-<digestId>-<subscriberId>@domain`), or null. */
  readonly messageId: string | null;
  /** Reports the email is about (found by their post URLs in its text). */
  readonly reportIds: readonly string[];
  /** The HTML part, to check for scripts. */
  readonly html: string;
}

export interface ExpectedSubscriber {
  readonly id: string;
  readonly address: string;
  readonly mode: 'immediate' | 'daily';
}

/** What the notify part of the soak expects and saw; absent when notify is not part of the run. */
export interface NotifyFacts {
  readonly subscribers: readonly ExpectedSubscriber[];
  readonly mails: readonly ObservedMail[];
}

/** A secret the bot was given: it must appear in no log line. */
export interface Secret {
  readonly name: string;
  readonly value: string;
}

export interface LogFile {
  readonly name: string;
  readonly text: string;
}

/** A bot process that exited without being told to. */
export interface Crash {
  readonly role: string;
  readonly code: number | null;
  readonly signal: string | null;
  readonly tail: string;
}

export interface Observed {
  readonly posts: readonly ObservedPost[];
  /** Report id → the email id it was first stored from (the store's report record). */
  readonly reportEmail: Readonly<Record<string, string>>;
  /** Email id → report id, from completed `ingest` jobs' return values. */
  readonly ingested: Readonly<Record<string, string>>;
  readonly rejections: readonly ObservedRejection[];
  readonly held: readonly ObservedHeld[];
  readonly failedJobs: readonly ObservedFailedJob[];
  /** Jobs still waiting, active or delayed, per queue and state: the queues did not drain. */
  readonly pendingJobs: Readonly<Record<string, number>>;
  /** Email ids the watcher has not handled (appended after its last recorded UID). */
  readonly unread: number;
  readonly logs: readonly LogFile[];
  readonly secrets: readonly Secret[];
  readonly crashes: readonly Crash[];
  /** Boards every report goes to. */
  readonly targets: readonly string[];
  /**
   * The post ids the file board's index.html links to (`posts/<id>.html`): a post missing there
   * exists, but no reader finds it. Null when the file board is not a target.
   */
  readonly fileIndex: readonly string[] | null;
  readonly notify: NotifyFacts | null;
}

/** Why the run fails (the first four) or what is worth a look (`note`). */
export type FindingKind = 'duplicate' | 'lost' | 'leak' | 'crash' | 'not-drained' | 'note';
export const FATAL_KINDS: readonly FindingKind[] = ['duplicate', 'lost', 'leak', 'crash', 'not-drained'];

export interface Finding {
  readonly kind: FindingKind;
  readonly subject: string;
  readonly detail: string;
}

/** How one email ended, for the table. */
export type Outcome = 'posted' | 'deduplicated' | 'rejected' | 'held' | 'ignored' | 'failed' | 'unaccounted';

export interface Verdict {
  readonly ok: boolean;
  readonly findings: readonly Finding[];
  /** Emails per kind and outcome. */
  readonly outcomes: Readonly<Record<ItemKind, Partial<Record<Outcome, number>>>>;
  /** Posts per target. */
  readonly postsPerTarget: Readonly<Record<string, number>>;
  /** Genuine reports expected / posted on every board. */
  readonly genuineExpected: number;
  readonly genuinePosted: number;
  readonly rejectedByCode: Readonly<Record<string, number>>;
  readonly heldByCode: Readonly<Record<string, number>>;
  readonly counts: Readonly<Record<Exclude<FindingKind, 'note'>, number>>;
  /** Emails mailed per mode (notify), when notify was part of the run. */
  readonly mailed: { readonly immediate: number; readonly daily: number } | null;
}

/** Markup that must never reach a reader: a script element, an event handler, a javascript: URL. */
const EXECUTABLE: readonly (readonly [RegExp, string])[] = [
  [/<\s*script/i, '<script>'],
  [/<[^>]*\son[a-z]+\s*=/i, 'an on…= event handler'],
  [/(?:href|src)\s*=\s*["']?\s*javascript:/i, 'a javascript: URL'],
  [/<\s*iframe/i, '<iframe>'],
];

/** What executable markup `html` holds (empty when none). */
export function executableMarkup(html: string): string[] {
  return EXECUTABLE.filter(([re]) => re.test(html)).map(([, what]) => what);
}

function bump<K extends string>(map: Partial<Record<K, number>>, key: K, by = 1): void {
  map[key] = (map[key] ?? 0) + by;
}

/** The logical report (`g0001`, `m-script-style`) an item belongs to, when it is one. */
function logicalReport(expect: Expectation): string | null {
  return expect.kind === 'post' || expect.kind === 'posted-clean' ? expect.report : null;
}

/**
 * Reconcile expected against observed:
 * - every genuine report posted exactly once on every board (`lost`, `duplicate`);
 * - nothing from a spoofed, non-allowed or malformed-and-rejected email posted, and no post of a
 *   report nobody sent (`leak`);
 * - every held-expected email in the quarantine, every malformed email rejected with a reason
 *   (or posted clean, for the hostile-but-valid ones) — otherwise `lost`;
 * - no executable markup in a post or an email, no secret in a log line (`leak`);
 * - queues drained and every appended email read (`not-drained`), no bot process crashed (`crash`);
 * - with notify: every active subscriber mailed each posted report exactly once in their mode.
 */
export function reconcile(items: readonly ExpectedItem[], observed: Observed): Verdict {
  const findings: Finding[] = [];
  const add = (kind: FindingKind, subject: string, detail: string): void => {
    findings.push({ kind, subject, detail });
  };

  // ---- which logical report each report id stands for --------------------------------------
  const itemsByEmail = new Map<string, ExpectedItem[]>();
  for (const item of items) {
    const list = itemsByEmail.get(item.emailId) ?? [];
    list.push(item);
    itemsByEmail.set(item.emailId, list);
  }
  // Report id → the logical reports (`g0001`) or, for mail that must not become one, `kind:itemId`.
  const keysOfReport = new Map<string, Set<string>>();
  const link = (reportId: string, emailId: string): void => {
    for (const item of itemsByEmail.get(emailId) ?? []) {
      const keys = keysOfReport.get(reportId) ?? new Set<string>();
      keys.add(logicalReport(item.expect) ?? `${item.kind}:${item.id}`);
      keysOfReport.set(reportId, keys);
    }
  };
  for (const [emailId, reportId] of Object.entries(observed.ingested)) link(reportId, emailId);
  for (const [reportId, emailId] of Object.entries(observed.reportEmail)) link(reportId, emailId);
  for (const [reportId, keys] of keysOfReport) {
    const logical = [...keys].filter((k) => !k.includes(':'));
    if (logical.length > 1) {
      add(
        'lost',
        `report ${reportId}`,
        `distinct reports were merged into one: ${logical.sort().join(', ')} (all but one of them never get a post)`,
      );
    }
  }

  // ---- posts: once per logical report and board, nothing else -------------------------------
  const postsPerTarget: Record<string, number> = {};
  const postsOf = new Map<string, ObservedPost[]>(); // `${key}\n${target}` → posts
  for (const post of observed.posts) {
    bump(postsPerTarget, post.target);
    for (const what of executableMarkup(post.html)) {
      add(
        'leak',
        `${post.target} post ${post.where}`,
        `${what} reached a post (report ${post.reportId ?? '?'})`,
      );
    }
    const keys = post.reportId === null ? undefined : keysOfReport.get(post.reportId);
    if (keys === undefined || keys.size === 0) {
      add(
        'leak',
        `${post.target} post ${post.where}`,
        `a post of report ${post.reportId ?? '(no key)'}, which no email of the corpus became ("${post.title}")`,
      );
      continue;
    }
    for (const key of keys) {
      if (key.includes(':')) {
        add(
          'leak',
          `${post.target} post ${post.where}`,
          `${key.split(':')[0] ?? 'non-genuine'} email ${key.split(':')[1] ?? ''} was posted ("${post.title}")`,
        );
        continue;
      }
      const slot = `${key}\n${post.target}`;
      postsOf.set(slot, [...(postsOf.get(slot) ?? []), post]);
    }
  }

  const genuineKeys = new Set<string>();
  const cleanKeys = new Set<string>();
  for (const item of items) {
    if (item.expect.kind === 'post') genuineKeys.add(item.expect.report);
    if (item.expect.kind === 'posted-clean') cleanKeys.add(item.expect.report);
  }
  let genuinePosted = 0;
  for (const key of [...genuineKeys].sort()) {
    let everywhere = true;
    for (const target of observed.targets) {
      const n = postsOf.get(`${key}\n${target}`)?.length ?? 0;
      if (n === 0) {
        everywhere = false;
        add('lost', `report ${key}`, `never posted on ${target}${failureHint(key, items, observed)}`);
      } else if (n > 1) {
        add(
          'duplicate',
          `report ${key}`,
          `posted ${n} times on ${target}: ${whereOf(postsOf.get(`${key}\n${target}`))}`,
        );
      }
    }
    if (everywhere) genuinePosted += 1;
  }
  for (const key of [...cleanKeys].sort()) {
    for (const target of observed.targets) {
      const n = postsOf.get(`${key}\n${target}`)?.length ?? 0;
      if (n > 1)
        add(
          'duplicate',
          `report ${key}`,
          `posted ${n} times on ${target}: ${whereOf(postsOf.get(`${key}\n${target}`))}`,
        );
    }
  }

  // The file board's index page must list every post it has (readers start there).
  if (observed.fileIndex !== null) {
    const listed = new Set(observed.fileIndex);
    for (const post of observed.posts) {
      const id = post.where.replace(/\.json$/, '');
      if (post.target === 'file' && !listed.has(id)) {
        add(
          'lost',
          `file board index`,
          `post ${id} (report ${post.reportId ?? '?'}) is missing from index.html`,
        );
      }
    }
  }

  // ---- each email's outcome ----------------------------------------------------------------
  const rejectionOf = new Map(observed.rejections.map((r) => [r.emailId, r]));
  const heldOf = new Map(observed.held.map((h) => [h.id, h]));
  const failedIngest = new Map(
    observed.failedJobs.filter((j) => j.emailId !== null).map((j) => [j.emailId ?? '', j]),
  );
  const postedKeys = new Set([...postsOf.keys()].map((slot) => slot.split('\n')[0] ?? ''));
  const outcomes = Object.fromEntries(
    (['genuine', 'duplicate', 'forward', 'non-isw', 'spoofed', 'malformed'] as const).map((k) => [k, {}]),
  ) as Record<ItemKind, Partial<Record<Outcome, number>>>;
  const firstOfReport = new Set<string>();

  for (const item of items) {
    const e = item.expect;
    const held = heldOf.get(item.emailId);
    const rejection = rejectionOf.get(item.emailId);
    const failed = failedIngest.get(item.emailId);
    let outcome: Outcome;
    switch (e.kind) {
      case 'post': {
        if (held !== undefined) {
          add(
            'lost',
            `email ${item.id}`,
            `genuine ${item.kind} email held for an admin: ${held.code} ${held.reason}`,
          );
        }
        if (rejection !== undefined) {
          add(
            'lost',
            `email ${item.id}`,
            `genuine ${item.kind} email rejected: ${rejection.code} ${rejection.reason}`,
          );
        }
        if (postedKeys.has(e.report)) {
          outcome = firstOfReport.has(e.report) ? 'deduplicated' : 'posted';
          firstOfReport.add(e.report);
        } else {
          outcome = held !== undefined ? 'held' : rejection !== undefined ? 'rejected' : 'unaccounted';
        }
        break;
      }
      case 'held':
        if (held !== undefined) {
          outcome = 'held';
          if (!e.codes.includes(held.code)) {
            add(
              'note',
              `email ${item.id}`,
              `${item.variant}: held as ${held.code}, expected ${e.codes.join(' or ')}`,
            );
          }
        } else {
          outcome = 'unaccounted';
          add('lost', `email ${item.id}`, `spoofed (${item.variant}) email is not in the quarantine`);
        }
        break;
      case 'ignored':
        outcome = held !== undefined ? 'held' : rejection !== undefined ? 'rejected' : 'ignored';
        if (held !== undefined)
          add('note', `email ${item.id}`, `${item.variant}: expected to be ignored, but held (${held.code})`);
        break;
      case 'rejected':
        if (rejection !== undefined) {
          outcome = 'rejected';
          if (!e.codes.includes(rejection.code)) {
            add(
              'note',
              `email ${item.id}`,
              `${item.variant}: rejected as ${rejection.code}, expected ${e.codes.join(' or ')}`,
            );
          }
        } else if (held !== undefined) {
          outcome = 'held';
        } else if (failed !== undefined) {
          outcome = 'failed';
          add(
            'note',
            `email ${item.id}`,
            `${item.variant}: no rejection record, but its ingest job failed: ${failed.reason}`,
          );
        } else {
          outcome = 'unaccounted';
          add(
            'lost',
            `email ${item.id}`,
            `malformed (${item.variant}) email has no rejection, hold or failure recorded`,
          );
        }
        break;
      case 'posted-clean':
        if (postedKeys.has(e.report)) {
          outcome = firstOfReport.has(e.report) ? 'deduplicated' : 'posted';
          firstOfReport.add(e.report);
        } else if (rejection !== undefined) {
          outcome = 'rejected';
        } else if (held !== undefined) {
          outcome = 'held';
        } else if (failed !== undefined) {
          outcome = 'failed';
        } else {
          outcome = 'unaccounted';
          add(
            'lost',
            `email ${item.id}`,
            `hostile (${item.variant}) email was neither posted nor rejected with a reason`,
          );
        }
        break;
    }
    bump(outcomes[item.kind], outcome);
  }

  const rejectedByCode: Record<string, number> = {};
  for (const r of observed.rejections) bump(rejectedByCode, r.code);
  const heldByCode: Record<string, number> = {};
  for (const h of observed.held) bump(heldByCode, h.code);

  // ---- queues, inbox, processes, logs ------------------------------------------------------
  for (const [what, n] of Object.entries(observed.pendingJobs)) {
    if (n > 0) add('not-drained', what, `${n} job(s) still pending at the end`);
  }
  if (observed.unread > 0)
    add('not-drained', 'inbox', `${observed.unread} appended email(s) were never read`);
  for (const job of observed.failedJobs) {
    if (job.queue === 'ingest' && job.emailId !== null && rejectionOf.has(job.emailId)) continue;
    add('note', `${job.queue}/${job.jobId}`, `still failed after the retry: ${job.reason}`);
  }
  for (const crash of observed.crashes) {
    add(
      'crash',
      crash.role,
      `exited by itself (code ${String(crash.code)}, signal ${String(crash.signal)}): ${crash.tail}`,
    );
  }
  for (const log of observed.logs) {
    for (const secret of observed.secrets) {
      // Short values would match by chance; every secret the soak hands out is longer.
      if (secret.value.length < 6 || !log.text.includes(secret.value)) continue;
      const line = log.text.split('\n').find((l) => l.includes(secret.value));
      if (line !== undefined) {
        add(
          'leak',
          `log ${log.name}`,
          `${secret.name} appears in the log: ${line.split(secret.value).join('«secret»').slice(0, 200)}`,
        );
      }
    }
  }

  // ---- notify ------------------------------------------------------------------------------
  let mailed: Verdict['mailed'] = null;
  if (observed.notify !== null) {
    const published = new Set<string>();
    for (const post of observed.posts) {
      const keys = post.reportId === null ? undefined : keysOfReport.get(post.reportId);
      if (post.reportId !== null && keys !== undefined && [...keys].some((k) => !k.includes(':'))) {
        published.add(post.reportId);
      }
    }
    mailed = reconcileNotify(observed.notify, published, add);
  }

  const counts = { duplicate: 0, lost: 0, leak: 0, crash: 0, 'not-drained': 0 };
  for (const f of findings) if (f.kind !== 'note') counts[f.kind] += 1;
  return {
    ok: findings.every((f) => !FATAL_KINDS.includes(f.kind)),
    findings,
    outcomes,
    postsPerTarget,
    genuineExpected: genuineKeys.size,
    genuinePosted,
    rejectedByCode,
    heldByCode,
    counts,
    mailed,
  };
}

function whereOf(posts: readonly ObservedPost[] | undefined): string {
  return (posts ?? []).map((p) => p.where).join(', ');
}

/** Why a report may be missing: a failed job or a hold of one of its emails. */
function failureHint(key: string, items: readonly ExpectedItem[], observed: Observed): string {
  const emails = new Set(items.filter((i) => logicalReport(i.expect) === key).map((i) => i.emailId));
  const reports = new Set(
    Object.entries(observed.ingested)
      .filter(([emailId]) => emails.has(emailId))
      .map(([, reportId]) => reportId),
  );
  const jobs = observed.failedJobs.filter(
    (j) => (j.emailId !== null && emails.has(j.emailId)) || (j.reportId !== null && reports.has(j.reportId)),
  );
  if (jobs.length > 0)
    return ` (failed: ${jobs.map((j) => `${j.queue}/${j.jobId}: ${j.reason}`).join('; ')})`;
  if (reports.size === 0) return ' (none of its emails was ingested)';
  return ` (report ${[...reports].join(', ')} was ingested)`;
}

/**
 * Every active subscriber gets each published report exactly once in their mode: immediate
 * subscribers one email per report (Message-ID `notify-r<reportId>-<subscriberId>@…`), daily
 * subscribers each report in exactly one of their daily digests.
 */
function reconcileNotify(
  facts: NotifyFacts,
  published: ReadonlySet<string>,
  add: (kind: FindingKind, subject: string, detail: string) => void,
): { immediate: number; daily: number } {
  const byAddress = new Map(facts.subscribers.map((s) => [s.address.toLowerCase(), s]));
  const seenIds = new Map<string, number>();
  // subscriber id → report id → how many emails carried it
  const got = new Map<string, Map<string, number>>();
  let immediate = 0;
  let daily = 0;
  for (const mail of facts.mails) {
    for (const what of executableMarkup(mail.html)) {
      add(
        'leak',
        `email to ${mail.to}`,
        `${what} reached a digest email (${mail.messageId ?? 'no Message-ID'})`,
      );
    }
    const subscriber = byAddress.get(mail.to);
    if (subscriber === undefined) {
      add('leak', `email to ${mail.to}`, 'an email to an address that is no subscriber');
      continue;
    }
    if (mail.messageId !== null) {
      const n = (seenIds.get(mail.messageId) ?? 0) + 1;
      seenIds.set(mail.messageId, n);
      if (n === 2) add('duplicate', `email ${mail.messageId}`, `accepted more than once for ${mail.to}`);
    }
    if (subscriber.mode === 'immediate') immediate += 1;
    else daily += 1;
    const m = /^notify-r(.+)-([^-@]+)@/.exec(mail.messageId ?? '');
    const reportIds = subscriber.mode === 'immediate' && m?.[1] !== undefined ? [m[1]] : mail.reportIds;
    const mine = got.get(subscriber.id) ?? new Map<string, number>();
    for (const reportId of reportIds) mine.set(reportId, (mine.get(reportId) ?? 0) + 1);
    got.set(subscriber.id, mine);
  }
  for (const s of facts.subscribers) {
    const mine = got.get(s.id) ?? new Map<string, number>();
    const missing = [...published].filter((r) => !mine.has(r));
    const twice = [...mine].filter(([r, n]) => published.has(r) && n > 1).map(([r]) => r);
    if (missing.length > 0) {
      add(
        'lost',
        `subscriber ${s.address}`,
        `${s.mode}: ${missing.length} report(s) never mailed, e.g. ${missing.slice(0, 3).join(', ')}`,
      );
    }
    if (twice.length > 0) {
      add(
        'duplicate',
        `subscriber ${s.address}`,
        `${s.mode}: ${twice.length} report(s) mailed more than once, e.g. ${twice.slice(0, 3).join(', ')}`,
      );
    }
  }
  return { immediate, daily };
}
