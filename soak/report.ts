// The soak's printed result: one plain-text page of tables (bench/table.ts style), then findings.
import { formatNumber, formatTable } from '../bench/table.js';
import { ITEM_KINDS, type CorpusMix } from './corpus.js';
import type { FaultKind, FaultRecord } from './faults.js';
import type { Outcome, Verdict } from './reconcile.js';

export interface RunSummary {
  readonly header: string;
  readonly mix: CorpusMix;
  /** APPENDs that succeeded (a retried APPEND after a server restart may store a message twice). */
  readonly appended: number;
  readonly verdict: Verdict;
  readonly faults: readonly FaultRecord[];
  readonly faultKinds: readonly FaultKind[];
  readonly retries: Readonly<Record<string, number>>;
  /** What `isw-ko jobs retry --all` said it retried. */
  readonly retriedByCommand: number;
  readonly peaks: ReadonlyMap<string, number>;
  readonly wallMs: number;
}

const OUTCOME_COLUMNS: readonly Outcome[] = [
  'posted',
  'deduplicated',
  'rejected',
  'held',
  'ignored',
  'failed',
  'unaccounted',
];

/** The whole report, ready to print. */
export function formatSummary(s: RunSummary): string {
  const v = s.verdict;
  const out: string[] = [s.header, ''];

  const emailRows = ITEM_KINDS.map((kind) => [
    kind,
    String(s.mix[kind]),
    ...OUTCOME_COLUMNS.map((o) => String(v.outcomes[kind][o] ?? 0)),
  ]);
  const total = (i: number): string => String(emailRows.reduce((n, row) => n + Number(row[i] ?? 0), 0));
  emailRows.push([
    'total',
    ...OUTCOME_COLUMNS.map((_, i) => total(i + 1)),
    total(OUTCOME_COLUMNS.length + 1),
  ]);
  out.push(
    formatTable(
      [
        { title: 'emails in' },
        { title: 'n', align: 'right' },
        ...OUTCOME_COLUMNS.map((o) => ({ title: o, align: 'right' as const })),
      ],
      emailRows,
    ),
    `(${s.appended} APPENDs; "deduplicated": a copy of a report that was posted from another email)`,
    '',
  );

  const targets = Object.entries(v.postsPerTarget)
    .sort()
    .map(([t, n]) => [`posts on ${t}`, String(n)]);
  out.push(
    formatTable(
      [{ title: 'reconciliation' }, { title: 'n', align: 'right' }],
      [
        ['genuine reports expected', String(v.genuineExpected)],
        ['posted once on every board', String(v.genuinePosted)],
        ...targets,
        ['duplicates', String(v.counts.duplicate)],
        ['lost', String(v.counts.lost)],
        ['let in / leaked', String(v.counts.leak)],
        ['crashes', String(v.counts.crash)],
        ['not drained', String(v.counts['not-drained'])],
        ...(v.mailed === null
          ? [['emails to subscribers', 'notify not in this run']]
          : [
              ['emails to immediate subscribers', String(v.mailed.immediate)],
              ['emails to daily subscribers', String(v.mailed.daily)],
            ]),
      ],
    ),
    '',
  );

  const reasons = [
    ...Object.entries(v.rejectedByCode).map(([code, n]) => ['rejected', code, String(n)]),
    ...Object.entries(v.heldByCode).map(([code, n]) => ['held', code, String(n)]),
  ];
  out.push(
    formatTable(
      [{ title: 'rejected with reason' }, { title: 'code' }, { title: 'n', align: 'right' }],
      reasons,
    ),
    '',
  );

  const byKind = new Map<FaultKind, FaultRecord[]>();
  for (const f of s.faults) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  out.push(
    formatTable(
      [{ title: 'faults injected' }, { title: 'n', align: 'right' }, { title: 'e.g.' }],
      s.faultKinds.map((kind) => {
        const list = byKind.get(kind) ?? [];
        return [kind, String(list.length), list[0]?.detail ?? '—'];
      }),
    ),
    '',
  );

  out.push(
    formatTable(
      [{ title: 'retries' }, { title: 'n', align: 'right' }],
      [
        ...Object.entries(s.retries).map(([queue, n]) => [`${queue} attempts beyond the first`, String(n)]),
        ['failed jobs retried by `jobs retry --all`', String(s.retriedByCommand)],
      ],
    ),
    '',
  );

  out.push(
    formatTable(
      [{ title: 'process' }, { title: 'peak RSS (VmHWM), MiB', align: 'right' }],
      [...s.peaks].map(([role, bytes]) => [role, formatNumber(bytes / 1024 / 1024, 1)]),
    ),
    '',
  );

  const fatal = v.findings.filter((f) => f.kind !== 'note');
  const notes = v.findings.filter((f) => f.kind === 'note');
  if (fatal.length > 0) {
    out.push(`findings (${fatal.length}):`);
    for (const f of fatal.slice(0, 60)) out.push(`  ${f.kind.toUpperCase()} ${f.subject}: ${f.detail}`);
    if (fatal.length > 60) out.push(`  … and ${fatal.length - 60} more`);
    out.push('');
  }
  if (notes.length > 0) {
    out.push(`notes (${notes.length}, not failures):`);
    for (const f of notes.slice(0, 20)) out.push(`  ${f.subject}: ${f.detail}`);
    if (notes.length > 20) out.push(`  … and ${notes.length - 20} more`);
    out.push('');
  }
  const missing = s.faultKinds.filter((k) => !byKind.has(k));
  out.push(
    `${v.ok ? 'PASS' : 'FAIL'}: ${v.counts.lost} lost, ${v.counts.duplicate} duplicated, ${v.counts.leak} let in or leaked, ` +
      `${v.counts.crash} crashed, ${v.counts['not-drained']} not drained; ` +
      `${s.faults.length} faults (${missing.length === 0 ? 'every kind' : `missing: ${missing.join(', ')}`}); ` +
      `${formatNumber(s.wallMs / 1000, 0)} s`,
  );
  return out.join('\n');
}
