import type { Report } from '../parse/index.js';
import type { JobRow, ReprocessResult, ReprocessStage } from './operations.js';
import { formatKst } from '../publish/index.js';
import type { PostRecord, StageName, StageStatus } from '../queue/store.js';
import type { SummaryRecord } from '../summarize/summary.js';

/**
 * The views the admin templates see, built here from stored records by pure functions (tested
 * without a server). Templates escape every value; nothing here is pre-rendered HTML.
 */

/**
 * How one stage of a report stands. `pending`: nothing recorded yet; `waiting`: its job waits to
 * try again, and the stage says why and when (see `StageStatus`).
 */
export type StageState = 'done' | 'failed' | 'pending' | 'waiting' | 'held' | 'off';

/** What the notify stage says about a report's email, when notify is wired in. */
export interface MailStatus {
  readonly state: 'done' | 'failed' | 'pending';
  readonly detail: string | null;
  readonly at: string | null;
}

export interface StageView {
  readonly key: 'parsed' | 'summarized' | 'posted' | 'mailed';
  /** 파싱, 요약, 게시, 발송. */
  readonly label: string;
  readonly state: StageState;
  /** 완료, 실패, 대기, 재시도 대기, 보류, 꺼짐. */
  readonly stateLabel: string;
  readonly detail: string | null;
  readonly at: string | null;
  /** A waiting stage: when it tries again ("다음 시도 2025년 3월 3일 09:47 KST (2분 뒤)"), else null. */
  readonly next: string | null;
}

const STATE_LABELS: Record<StageState, string> = {
  done: '완료',
  failed: '실패',
  pending: '대기',
  waiting: '재시도 대기',
  held: '보류',
  off: '꺼짐',
};

/** A link for an `href`: only http(s) URLs are clickable (a file board's file:// URL is shown as text). */
export interface LinkView {
  readonly text: string;
  readonly href: string | null;
}

/** A URL as a link, when it is safe to make one: http(s) only, never `javascript:` or `data:`. */
export function linkTo(url: string, text: string = url): LinkView {
  return { text, href: /^https?:\/\//i.test(url) ? url : null };
}

function stageView(
  key: StageView['key'],
  label: string,
  status: StageStatus | undefined,
  now: number,
  pendingWhenMissing = true,
): StageView {
  const state: StageState =
    status === undefined
      ? pendingWhenMissing
        ? 'pending'
        : 'off'
      : status.state === 'failed' || status.state === 'held' || status.state === 'waiting'
        ? status.state
        : 'done';
  return {
    key,
    label,
    state,
    stateLabel: status?.state === 'skipped' ? '건너뜀' : STATE_LABELS[state],
    detail: status?.detail ?? null,
    at: status === undefined ? null : formatKst(status.at),
    next:
      status?.state === 'waiting' && status.retryAt !== undefined
        ? nextTryKo(Date.parse(status.retryAt), now)
        : null,
  };
}

/** "다음 시도 2025년 3월 3일 09:47 KST (2분 뒤)", or "곧" once the time has come. */
function nextTryKo(at: number, now: number): string {
  if (Number.isNaN(at)) return '다음 시도 시각을 알 수 없음';
  return at <= now
    ? '다음 시도: 곧 (작업자가 가져가는 대로)'
    : `다음 시도 ${formatKst(new Date(at).toISOString())} (${inKo(at - now)})`;
}

/**
 * The four stages of a report as the admin sees them: parsed, summarised, posted, mailed. `mail`
 * is null when this build does not send email (the stage is shown as off).
 */
export function stageViews(
  stages: Partial<Record<StageName, StageStatus>>,
  mail: MailStatus | null,
  now: number = Date.now(),
): StageView[] {
  return [
    stageView('parsed', '파싱', stages.ingest, now),
    stageView('summarized', '요약', stages.summarize, now),
    stageView('posted', '게시', stages.publish, now),
    mail === null
      ? stageView('mailed', '발송', undefined, now, false)
      : {
          key: 'mailed',
          label: '발송',
          state: mail.state,
          stateLabel: STATE_LABELS[mail.state],
          detail: mail.detail,
          at: mail.at === null ? null : formatKst(mail.at),
          next: null,
        },
  ];
}

/** One job on the jobs page and the report page. */
export interface JobRowView extends JobRow {
  /** 실패, 대기, 우선 대기, 처리 중, 지연, 완료. */
  readonly stateLabel: string;
  /** "5/5", or "1/5 (재시도 안 함)" for a job that gave up early: no retry comes by itself. */
  readonly attemptsText: string;
  /** Why it waits, when that says more than the last error. */
  readonly waitText: string | null;
  /** What it did last and when: "끝남 5초 전", "시작 2분 전", "추가 1시간 전". */
  readonly lastActivity: string;
  /** A delayed or rate-limited job: when it runs ("다음 시도 25초 뒤"). */
  readonly next: string | null;
  /** An active job whose worker is gone: what happens to it. */
  readonly holderNote: string | null;
  readonly reportHref: string | null;
  /** The button: 다시 시도 (failed) or 지금 실행 (delayed), posting to the retry route; else null. */
  readonly action: {
    readonly href: string;
    readonly label: string;
    readonly kind: 'retry' | 'promote';
  } | null;
}

/** A job row for the admin pages, at `now`. */
export function jobRowView(row: JobRow, now: number, stateLabel: string): JobRowView {
  const href = `/admin/jobs/${encodeURIComponent(row.queue)}/${encodeURIComponent(row.id)}/retry`;
  return {
    ...row,
    stateLabel,
    attemptsText: `${row.attemptsMade}/${row.attempts}${row.gaveUp ? ' (재시도 안 함)' : ''}`,
    waitText: row.waitReason !== null && row.waitReason !== row.lastError ? row.waitReason : null,
    lastActivity: lastActivityKo(row, now),
    next:
      row.runAt === null
        ? null
        : row.runAt <= now
          ? '다음 시도: 곧'
          : `다음 시도 ${inKo(row.runAt - now)} (${formatKst(new Date(row.runAt).toISOString())})`,
    holderNote: row.holder === 'gone' ? holderGoneKo(row.lockTtlMs) : null,
    reportHref: row.reportId === null ? null : `/admin/reports/${encodeURIComponent(row.reportId)}`,
    action:
      row.state === 'failed'
        ? { href, label: '다시 시도', kind: 'retry' }
        : row.state === 'delayed'
          ? { href, label: '지금 실행', kind: 'promote' }
          : null,
  };
}

/** The latest thing that happened to a job, labelled: a retry clears BullMQ's start and end times. */
function lastActivityKo(row: JobRow, now: number): string {
  if (row.finishedAt !== null) return `끝남 ${agoKo(now - row.finishedAt)}`;
  if (row.startedAt !== null)
    return `${row.state === 'active' ? '시작' : '마지막 시도'} ${agoKo(now - row.startedAt)}`;
  return `추가 ${agoKo(now - row.createdAt)}`;
}

/** What becomes of an active job whose worker is gone (a forced exit, a kill). */
function holderGoneKo(lockTtlMs: number | null): string {
  const then =
    '실행 중인 작업자가 이 작업을 다시 가져가 처음부터 실행합니다 (작업자가 없으면 isw-ko run 또는 worker를 시작하세요).';
  return lockTtlMs === null
    ? `이 작업을 잡고 있던 작업자가 더 이상 연결되어 있지 않습니다 (강제 종료 등). 잠금은 이미 풀렸으므로 ${then}`
    : `이 작업을 잡고 있던 작업자가 더 이상 연결되어 있지 않습니다 (강제 종료 등). 잠금이 ${inKo(lockTtlMs)} 풀리면 ${then}`;
}

/** One line of the reports page. */
export interface ReportRowView {
  readonly id: string;
  readonly href: string;
  readonly title: string;
  readonly product: string | null;
  readonly publishedKst: string;
  readonly stages: readonly StageView[];
  readonly failed: boolean;
  readonly tokens: number | null;
  readonly posts: readonly LinkView[];
}

/** A report for the list. */
export function reportRowView(input: {
  readonly id: string;
  readonly report: Report;
  readonly stages: Partial<Record<StageName, StageStatus>>;
  readonly summary: SummaryRecord | null;
  readonly posts: readonly PostRecord[];
  readonly mail: MailStatus | null;
}): ReportRowView {
  const stages = stageViews(input.stages, input.mail);
  return {
    id: input.id,
    href: `/admin/reports/${encodeURIComponent(input.id)}`,
    title: input.report.title,
    // Only when the title does not already say it ("Russian Offensive Campaign Assessment, March 2").
    product:
      input.report.product !== null && !input.report.title.includes(input.report.product)
        ? input.report.product
        : null,
    publishedKst: formatKst(input.report.publishedAt),
    stages,
    failed: stages.some((s) => s.state === 'failed'),
    tokens: input.summary?.usage.totalTokens ?? null,
    posts: input.posts.map((p) => linkTo(p.url, `${p.target} (${p.revisions}판)`)),
  };
}

/** The token and cost facts of a summary, for the report page. */
export interface UsageView {
  readonly model: string;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly totalTokens: number;
  readonly costUsd: string;
  readonly requestId: string | null;
  readonly repairs: number;
  readonly createdKst: string;
  readonly promptVersion: string;
}

export function usageView(record: SummaryRecord): UsageView {
  return {
    model: record.model,
    promptTokens: record.usage.promptTokens,
    completionTokens: record.usage.completionTokens,
    totalTokens: record.usage.totalTokens,
    costUsd: `$${record.estimatedCostUsd.toFixed(4)}`,
    requestId: record.requestId,
    repairs: record.repairs,
    createdKst: formatKst(record.createdAt),
    promptVersion: record.promptVersion,
  };
}

/** "3분 전": how long ago, in Korean, for the pages. */
export function agoKo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}초 전`;
  if (s < 3600) return `${Math.floor(s / 60)}분 전`;
  if (s < 86_400) return `${Math.floor(s / 3600)}시간 전`;
  return `${Math.floor(s / 86_400)}일 전`;
}

/** "3분 뒤": how long until, in Korean, for the pages. */
export function inKo(ms: number): string {
  return agoKo(ms).replace(/ 전$/, ' 뒤');
}

/** "3m": a short age for the terminal (`isw-ko jobs list`). */
export function ageShort(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d`;
}

/** "4m10s": a wait to the second for the terminal (a lock, a rate limit); long ones as {@link ageShort}. */
export function durationShort(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60 || s >= 3600) return ageShort(ms);
  return `${Math.floor(s / 60)}m${s % 60 === 0 ? '' : `${s % 60}s`}`;
}

/** Pretty JSON for a `<pre>`: the template escapes it, so a `<script>` in a takeaway stays text. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/**
 * Fixed notices after an action: codes in the query string, never text from the request. A notice
 * may join several codes with `.` (`resummarize-promoted.then-post`), each shown in turn.
 */
export const NOTICES = {
  resummarize: '요약을 다시 실행하도록 예약했습니다.',
  'resummarize-retried': '실패했던 요약 작업을 다시 실행하도록 예약했습니다.',
  'resummarize-promoted':
    '이 보고서의 요약 작업이 이미 기다리고 있어 새 작업을 추가하지 않고, 기다리던 작업을 지금 실행하도록 했습니다.',
  'resummarize-queued': '이 보고서의 요약 작업이 이미 대기열에 있어 새 작업을 추가하지 않았습니다.',
  'resummarize-running': '이 보고서의 요약 작업이 이미 실행 중이라 새 작업을 추가하지 않았습니다.',
  repost: '게시글을 다시 올리도록 예약했습니다.',
  'repost-held': '보고서가 보류 중이라 지금은 게시하지 않습니다. 다시 게시는 보류를 풀 때 이루어집니다.',
  'then-edit': '끝나면 기존 게시글이 수정됩니다.',
  'then-post': '아직 게시글이 없으므로 끝나면 새로 게시됩니다.',
  'then-mixed': '끝나면 게시글이 있는 게시판에서는 수정되고, 없는 게시판에는 새로 게시됩니다.',
  'then-held': '보고서가 보류 중이라 보류를 풀 때까지 게시하거나 수정하지 않습니다.',
  retried: '작업을 다시 시도하도록 예약했습니다.',
  promoted: '기다리던 작업을 지금 실행하도록 했습니다.',
  released: '격리된 이메일을 풀어 처리 대기열에 넣었습니다.',
  held: '보고서를 보류했습니다. 풀어 줄 때까지 게시하거나 메일로 보내지 않습니다.',
  unheld: '보류를 풀었습니다. 멈춰 있던 게시가 다시 예약되었습니다.',
  'logged-out': '로그아웃했습니다.',
} as const;

export type NoticeCode = keyof typeof NOTICES;

/** The `?notice=` value for one or more codes. */
export function noticeParam(...codes: readonly NoticeCode[]): string {
  return codes.join('.');
}

/** The notice for a `?notice=` value, or null when any part of it is not a known code. */
export function noticeFor(code: unknown): string | null {
  if (typeof code !== 'string' || code === '') return null;
  const parts = code.split('.');
  if (parts.length > 4 || !parts.every((p) => Object.hasOwn(NOTICES, p))) return null;
  return parts.map((p) => NOTICES[p as NoticeCode]).join(' ');
}

/** The notice codes after 요약 다시 실행 / 다시 게시: what happened to the job, then to the post. */
export function reprocessNotice(
  from: Extract<ReprocessStage, 'summarize' | 'publish'>,
  result: Pick<ReprocessResult, 'job' | 'then'>,
): string {
  if (from === 'publish') {
    if (result.then === 'held') return noticeParam('repost-held');
    return result.then === null ? noticeParam('repost') : noticeParam('repost', `then-${result.then}`);
  }
  const first: NoticeCode =
    result.job === 'retried' ||
    result.job === 'promoted' ||
    result.job === 'queued' ||
    result.job === 'running'
      ? `resummarize-${result.job}`
      : 'resummarize';
  return result.then === null ? noticeParam(first) : noticeParam(first, `then-${result.then}`);
}
