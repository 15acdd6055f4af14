import {
  LinkResolver,
  renderBoardPage,
  preparePost,
  formatKst,
  type Post,
  type PostTemplates,
} from '../publish/index.js';
import { shortNamesFrom } from '../queue/board-target.js';
import type { Pipeline } from '../queue/pipeline.js';
import type { PostRecord, StageName, StageStatus } from '../queue/store.js';
import type { Report } from '../parse/index.js';
import type { SummaryRecord } from '../summarize/summary.js';
import { AdminError } from './admin-error.js';
import { reportJobs, stateLabel } from './operations.js';
import type { AdminProviders } from './providers.js';
import {
  jobRowView,
  linkTo,
  prettyJson,
  reportRowView,
  stageViews,
  usageView,
  type JobRowView,
  type LinkView,
  type MailStatus,
  type ReportRowView,
  type StageView,
  type UsageView,
} from './views.js';

/** Reports per page of the list. */
export const REPORTS_PER_PAGE = 50;

/** Everything the report page shows about one report. */
export interface ReportDetail {
  readonly report: {
    readonly id: string;
    readonly title: string;
    readonly source: string;
    readonly product: string | null;
    readonly publishedKst: string;
    readonly from: string;
    readonly subject: string;
    readonly origin: string;
    /** The full report on ISW's site, as the post links it (never a tracking link). */
    readonly sourceUrl: LinkView;
    /** What the parser found odd (no Key Takeaways, no date line…): worth a look before it is posted. */
    readonly warnings: readonly string[];
  };
  readonly stages: readonly StageView[];
  /** The admin's hold on the report (see `Holds`), or null. */
  readonly hold: { readonly by: string; readonly reason: string; readonly heldKst: string } | null;
  readonly hasSummary: boolean;
  readonly usage: UsageView | null;
  readonly summaryJson: string | null;
  readonly posts: readonly {
    readonly target: string;
    readonly link: LinkView;
    readonly revisions: number;
    readonly updatedKst: string;
  }[];
  /** The post as the board will show it: a whole page for a sandboxed iframe, or why there is none. */
  readonly preview: {
    readonly title: string | null;
    readonly srcdoc: string | null;
    readonly why: string | null;
  };
  /**
   * The report's summarize and publish jobs that are not over yet (running, waiting, delayed): why
   * they wait, when they run, and whether the worker of a running one is gone.
   */
  readonly jobs: readonly JobRowView[];
  /** The same post, for the JSON API. */
  readonly post: Post | null;
  readonly summary: SummaryRecord | null;
}

/**
 * Reads reports for the admin pages. The post preview is rendered exactly as the publish stage
 * renders it, except that tracking links are not followed (no network from a page view): the full
 * report links to ISW's own URL for the product and date, as it does when resolution fails.
 */
export class ReportData {
  private readonly pipeline: Pipeline;
  private readonly templates: PostTemplates;
  private readonly providers: AdminProviders;
  private readonly resolver = new LinkResolver({ timeoutMs: 1_000, followRedirects: false });
  private readonly shortNameFor: (report: Report) => string | undefined;

  constructor(deps: {
    pipeline: Pipeline;
    postTemplates: PostTemplates;
    providers: AdminProviders;
    genericSourceNames: string;
  }) {
    this.pipeline = deps.pipeline;
    this.templates = deps.postTemplates;
    this.providers = deps.providers;
    this.shortNameFor = shortNamesFrom(deps.genericSourceNames);
  }

  /** One page of reports, newest first, and whether there is a next page. */
  async list(page: number): Promise<{ rows: ReportRowView[]; hasNext: boolean }> {
    const store = this.pipeline.store;
    const ids = await store.listReports(REPORTS_PER_PAGE + 1, page * REPORTS_PER_PAGE);
    const rows: ReportRowView[] = [];
    for (const id of ids.slice(0, REPORTS_PER_PAGE)) {
      const stored = await store.getReport(id);
      if (stored === null) continue;
      const [stages, summary, posts, mail] = await Promise.all([
        store.getStages(id),
        store.getSummary(id),
        this.posts(id),
        this.mail(id),
      ]);
      rows.push(reportRowView({ id, report: stored.report, stages, summary, posts, mail }));
    }
    return { rows, hasNext: ids.length > REPORTS_PER_PAGE };
  }

  /**
   * One report with everything about it, as it stands at `now`.
   *
   * @throws AdminError `REPORT_NOT_FOUND`
   */
  async detail(id: string, now: number = Date.now()): Promise<ReportDetail> {
    const store = this.pipeline.store;
    const stored = await store.getReport(id);
    if (stored === null) {
      throw new AdminError('REPORT_NOT_FOUND', `no report with id ${id}`, {
        hint: 'pick a report from the reports page',
      });
    }
    const { report } = stored;
    const [stages, summary, posts, mail, email, hold, jobs] = await Promise.all([
      store.getStages(id),
      store.getSummary(id),
      this.posts(id),
      this.mail(id),
      store.getEmail(stored.emailId),
      this.pipeline.holds.get(id),
      reportJobs(this.pipeline, id),
    ]);
    const { post, preview } = await this.preview(id, report, summary);
    return {
      report: {
        id,
        title: report.title,
        source: report.source,
        product: report.product,
        publishedKst: formatKst(report.publishedAt),
        from: report.from.name === '' ? report.from.address : `${report.from.name} <${report.from.address}>`,
        subject: report.subject,
        origin: email === null ? '—' : `${email.origin.kind}: ${email.origin.ref}`,
        sourceUrl:
          post === null || post.sourceUrl === null ? { text: '', href: null } : linkTo(post.sourceUrl),
        warnings: report.warnings,
      },
      stages: stageViews(await this.withoutStaleWait(stages), mail, now),
      hold: hold === null ? null : { by: hold.by, reason: hold.reason, heldKst: formatKst(hold.at) },
      hasSummary: summary !== null,
      usage: summary === null ? null : usageView(summary),
      summaryJson: summary === null ? null : prettyJson(summary.summary),
      posts: posts.map((p) => ({
        target: p.target,
        link: linkTo(p.url, p.title),
        revisions: p.revisions,
        updatedKst: formatKst(p.updatedAt),
      })),
      preview,
      jobs: jobs.map((j) => jobRowView(j, now, stateLabel(j.state))),
      post,
      summary,
    };
  }

  private async preview(
    reportId: string,
    report: Report,
    summary: SummaryRecord | null,
  ): Promise<{ post: Post | null; preview: ReportDetail['preview'] }> {
    if (summary === null) {
      return {
        post: null,
        preview: { title: null, srcdoc: null, why: '요약이 생기면 게시글을 미리 볼 수 있습니다.' },
      };
    }
    try {
      const post = await preparePost({
        reportId,
        report,
        summary: summary.summary,
        resolver: this.resolver,
        templates: this.templates,
        sourceShortName: this.shortNameFor(report),
      });
      // The whole board page goes into an iframe's srcdoc: the template escapes it as an attribute,
      // and the iframe is sandboxed (no scripts, no same-origin), so even a renderer bug stays inert.
      return {
        post,
        preview: { title: post.title, srcdoc: renderBoardPage(post, this.templates, '#'), why: null },
      };
    } catch (err) {
      // The publish stage would fail the same way; the page says why instead of failing itself.
      return {
        post: null,
        preview: {
          title: null,
          srcdoc: null,
          why: `게시글을 만들 수 없습니다: ${err instanceof Error ? err.message : String(err)}`,
        },
      };
    }
  }

  private async posts(reportId: string): Promise<PostRecord[]> {
    const records = await Promise.all(
      this.pipeline.targetNames.map((target) => this.pipeline.store.getPost(reportId, target)),
    );
    return records.filter((r): r is PostRecord => r !== null);
  }

  /**
   * A summarize stage that says it waits for a job no longer in the queue (an admin removed it in
   * bull-board, say) says so, instead of promising a retry that will not come.
   */
  private async withoutStaleWait(
    stages: Partial<Record<StageName, StageStatus>>,
  ): Promise<Partial<Record<StageName, StageStatus>>> {
    const s = stages.summarize;
    if (s?.state !== 'waiting' || s.jobId === undefined) return stages;
    if ((await this.pipeline.queues.summarize.getJob(s.jobId)) !== undefined) return stages;
    // Without its retryAt: no next try is coming.
    return {
      ...stages,
      summarize: {
        state: 'waiting',
        at: s.at,
        detail:
          `${s.detail ?? ''} (이 작업은 더 이상 대기열에 없습니다: 요약 다시 실행으로 새로 시작하세요)`.trim(),
        jobId: s.jobId,
      },
    };
  }

  private async mail(reportId: string): Promise<MailStatus | null> {
    return this.providers.mailStatus === undefined ? null : this.providers.mailStatus(reportId);
  }
}
