import type { Report } from '../parse/index.js';
import { formatKst } from '../publish/index.js';
import type { PostRecord, StageName, StageStatus } from '../queue/store.js';
import type { SummaryRecord } from '../summarize/summary.js';

/**
 * The views the admin templates see, built here from stored records by pure functions (tested
 * without a server). Templates escape every value; nothing here is pre-rendered HTML.
 */

/** How one stage of a report stands. */
export type StageState = 'done' | 'failed' | 'pending' | 'held' | 'off';

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
  /** 완료, 실패, 대기, 보류, 꺼짐. */
  readonly stateLabel: string;
  readonly detail: string | null;
  readonly at: string | null;
}

const STATE_LABELS: Record<StageState, string> = {
  done: '완료',
  failed: '실패',
  pending: '대기',
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
  pendingWhenMissing = true,
): StageView {
  const state: StageState =
    status === undefined
      ? pendingWhenMissing
        ? 'pending'
        : 'off'
      : status.state === 'failed' || status.state === 'held'
        ? status.state
        : 'done';
  return {
    key,
    label,
    state,
    stateLabel: status?.state === 'skipped' ? '건너뜀' : STATE_LABELS[state],
    detail: status?.detail ?? null,
    at: status === undefined ? null : formatKst(status.at),
  };
}

/**
 * The four stages of a report as the admin sees them: parsed, summarised, posted, mailed. `mail`
 * is null when this build does not send email (the stage is shown as off).
 */
export function stageViews(
  stages: Partial<Record<StageName, StageStatus>>,
  mail: MailStatus | null,
): StageView[] {
  return [
    stageView('parsed', '파싱', stages.ingest),
    stageView('summarized', '요약', stages.summarize),
    stageView('posted', '게시', stages.publish),
    mail === null
      ? stageView('mailed', '발송', undefined, false)
      : {
          key: 'mailed',
          label: '발송',
          state: mail.state,
          stateLabel: STATE_LABELS[mail.state],
          detail: mail.detail,
          at: mail.at === null ? null : formatKst(mail.at),
        },
  ];
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

/** "3m": a short age for the terminal (`isw-ko jobs list`). */
export function ageShort(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${s % 3600 >= 60 ? `${Math.floor((s % 3600) / 60)}m` : ''}`;
  return `${Math.floor(s / 86_400)}d`;
}

/** Pretty JSON for a `<pre>`: the template escapes it, so a `<script>` in a takeaway stays text. */
export function prettyJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Fixed notices after an action (a code in the query string, never text from the request). */
export const NOTICES = {
  resummarize: '요약을 다시 실행하도록 예약했습니다. 끝나면 게시글이 수정됩니다.',
  repost: '게시글을 다시 올리도록 예약했습니다. 기존 글이 수정됩니다.',
  retried: '작업을 다시 시도하도록 예약했습니다.',
  released: '격리된 이메일을 풀어 처리 대기열에 넣었습니다.',
  held: '보고서를 보류했습니다. 풀어 줄 때까지 게시하거나 메일로 보내지 않습니다.',
  unheld: '보류를 풀었습니다. 멈춰 있던 게시가 다시 예약되었습니다.',
  'logged-out': '로그아웃했습니다.',
} as const;

export type NoticeCode = keyof typeof NOTICES;

/** The notice for a `?notice=` code, or null for anything else. */
export function noticeFor(code: unknown): string | null {
  return typeof code === 'string' && Object.hasOwn(NOTICES, code) ? NOTICES[code as NoticeCode] : null;
}
