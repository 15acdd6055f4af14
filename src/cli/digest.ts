import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { subscriberIdOf } from '../notify/address.js';
import { composeDigestMail, type DigestSource } from '../notify/deliver.js';
import {
  DELIVERY_MODES,
  digestSubject,
  FIRST_DIGEST_LOOKBACK_MS,
  HTML_BUDGET_BYTES,
  orderEntries,
  type DeliveryMode,
} from '../notify/digest.js';
import { prepareDigest } from '../notify/encoded-body.js';
import { planFanOut, type DigestRequest } from '../notify/fan-out.js';
import { createLinks } from '../notify/links.js';
import { buildRawMessage } from '../notify/mailer.js';
import { NotifyError } from '../notify/notify-error.js';
import { resolveNotifySettings, type NotifySettings } from '../notify/notify-settings.js';
import { NotifyStore } from '../notify/notify-store.js';
import { renderDigest } from '../notify/render-digest.js';
import { SubscriberStore } from '../notify/subscribers.js';
import { loadNotifyTemplates } from '../notify/templates.js';
import { publishTargetNamesFrom } from '../publish/rhymix/rhymix-settings.js';
import { startNotifyWorkers, storeDigestSource } from '../queue/notify-worker.js';
import { Store } from '../queue/store.js';
import { loggerFor } from './app.js';
import { withConnection, type NotifyCliConnection, type NotifyCliContext } from './subscribers.js';

/** The address previews are made out to (never mailed: previews are written to files). */
export const PREVIEW_ADDRESS = 'preview@example.invalid';

/** How many of the latest published reports a daily preview shows when the last day had none. */
const PREVIEW_FALLBACK_REPORTS = 3;

interface DigestParts {
  readonly settings: NotifySettings;
  readonly notifyStore: NotifyStore;
  readonly subscribers: SubscriberStore;
  /** The pipeline's store: a report's stages. */
  readonly store: Store;
  readonly source: DigestSource;
}

async function partsFor(ctx: NotifyCliContext, c: NotifyCliConnection): Promise<DigestParts> {
  const env = ctx.env();
  const logger = (ctx.logger ?? (() => loggerFor(env, true)))();
  const store = new Store(c.redis, env.REDIS_PREFIX);
  return {
    settings: await resolveNotifySettings(env, logger),
    notifyStore: new NotifyStore(c.redis, env.REDIS_PREFIX),
    subscribers: new SubscriberStore(c.redis, env.REDIS_PREFIX, ctx.clock ?? Date.now),
    store,
    source: storeDigestSource(store, publishTargetNamesFrom(env)),
  };
}

/**
 * `digest send --report`: the report must be in the store with its summary (what `digest preview`
 * asks too) and published, as the admin's "reprocess --from notify" asks: subscribers are mailed
 * about what is on the boards, never about a report held back or not posted yet.
 *
 * @throws NotifyError `REPORT_NOT_FOUND`, `NOT_PUBLISHED`
 */
async function requireMailable(parts: DigestParts, reportId: string): Promise<void> {
  if ((await parts.source.entries([reportId])).length === 0) {
    throw new NotifyError('REPORT_NOT_FOUND', `no summarised report ${reportId}`, {
      details: { reportId },
    });
  }
  const publish = (await parts.store.getStages(reportId)).publish;
  if (publish?.state !== 'done') {
    throw new NotifyError(
      'NOT_PUBLISHED',
      publish?.state === 'held'
        ? `report ${reportId} is held, so it is not mailed`
        : `report ${reportId} has not been published yet, so there is nothing to mail`,
      { details: { reportId, publish: publish?.state ?? null } },
    );
  }
}

function parseAt(text: string | undefined, now: number): number {
  if (text === undefined) return now;
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    throw new NotifyError('SETTINGS_INVALID', `--at ${text} is not a date`, {
      hint: 'give an ISO 8601 time with its offset, e.g. 2025-03-03T08:00+09:00',
    });
  }
  return at;
}

/**
 * Add the digest commands to the program:
 * - `digest preview [--report ID…] [--mode daily]`: render the email as it would go out and write
 *   it as .html (open in a browser), .txt and .eml files;
 * - `digest send [--report ID] [--dry-run] [--at TIME]`: queue a daily digest now (or the email of
 *   one report, to immediate subscribers who have not had it); `--dry-run` lists who would get what
 *   and queues nothing.
 */
export function registerDigestCommands(program: Command, ctx: NotifyCliContext): void {
  const clock = ctx.clock ?? Date.now;
  const digest = program.command('digest').description('preview and send the Korean digest emails');

  digest
    .command('preview')
    .description('render a digest and write it to files (.html to open in a browser, .txt, .eml)')
    .option('--report <id...>', 'the report(s) to show (default: the latest; for daily, the last 24 hours)')
    .addOption(
      new Option('--mode <mode>', 'immediate (one report) or daily')
        .choices([...DELIVERY_MODES])
        .default('immediate'),
    )
    .option('--out <path>', 'file name without extension (default: DATA_DIR/preview/digest-<mode>)')
    .action((opts: { report?: string[]; mode: DeliveryMode; out?: string }) =>
      withConnection(ctx, async (c) => {
        const { settings, notifyStore, source } = await partsFor(ctx, c);
        const now = clock();
        let reportIds = opts.report ?? [];
        if (reportIds.length === 0 && opts.mode === 'daily') {
          reportIds = await notifyStore.publishedBetween(now - FIRST_DIGEST_LOOKBACK_MS, now);
        }
        if (reportIds.length === 0) {
          const latest = await notifyStore.latestPublished(
            opts.mode === 'daily' ? PREVIEW_FALLBACK_REPORTS : 1,
          );
          reportIds = latest.map((p) => p.reportId);
        }
        const entries = await source.entries(reportIds);
        if (entries.length === 0) {
          throw new NotifyError(
            'REPORT_NOT_FOUND',
            reportIds.length === 0
              ? 'no report has been published yet'
              : `no summarised report among ${reportIds.join(', ')}`,
          );
        }
        const rendered = renderDigest(await loadNotifyTemplates(), {
          entries,
          mode: opts.mode,
          sentAt: now,
          timeZone: settings.digestTimeZone,
        });
        const subscriber = {
          id: subscriberIdOf(PREVIEW_ADDRESS),
          address: PREVIEW_ADDRESS,
          name: '미리보기',
        };
        const links = createLinks({
          baseUrl: settings.publicBaseUrl,
          secret: settings.tokenSecret,
          mailto: settings.unsubscribeMailto,
        });
        const unsubscribe = links.unsubscribeLinks(subscriber, now);
        const mail = composeDigestMail(
          prepareDigest(rendered),
          subscriber,
          'preview',
          { unsubscribeUrl: unsubscribe.url, unsubscribeMailto: unsubscribe.mailto },
          settings.from,
        );
        const base = opts.out ?? path.join(ctx.env().DATA_DIR, 'preview', `digest-${opts.mode}`);
        await mkdir(path.dirname(path.resolve(base)), { recursive: true });
        await writeFile(`${base}.html`, mail.html, 'utf8');
        await writeFile(`${base}.txt`, mail.text, 'utf8');
        await writeFile(`${base}.eml`, await buildRawMessage(mail));
        ctx.write(
          [
            `subject: ${mail.subject}`,
            `reports: ${rendered.totalCount} (${rendered.fullCount} in full${rendered.totalCount > rendered.fullCount ? `, ${rendered.totalCount - rendered.fullCount} as links` : ''})`,
            `HTML: ${(rendered.htmlBytes / 1024).toFixed(1)} KB of the ${(HTML_BUDGET_BYTES / 1024).toFixed(0)} KB budget (Gmail clips at about 102 KB)`,
            `written: ${base}.html (open in a browser), ${base}.txt, ${base}.eml`,
            '',
          ].join('\n'),
        );
      }),
    );

  digest
    .command('send')
    .description(
      'queue the daily digest now (a running worker sends it), or with --report one report’s email',
    )
    .option('--report <id>', 'send this published report to immediate subscribers who have not had it')
    .option('--dry-run', 'list who would get what; queue nothing, change nothing')
    .option('--at <time>', 'for the daily digest: the run time to cover up to (ISO 8601; default now)')
    .action((opts: { report?: string; dryRun?: boolean; at?: string }) =>
      withConnection(ctx, async (c) => {
        const parts = await partsFor(ctx, c);
        const runAt = parseAt(opts.at, clock());
        const request: DigestRequest =
          opts.report === undefined ? { kind: 'daily', runAt } : { kind: 'report', reportId: opts.report };
        // Before anything is queued: a send job per subscriber that can only fail helps nobody.
        if (request.kind === 'report') await requireMailable(parts, request.reportId);
        if (opts.dryRun === true) {
          await dryRun(ctx, parts, request, clock);
          return;
        }
        const env = ctx.env();
        const notify = await startNotifyWorkers({
          redis: c.target,
          prefix: env.REDIS_PREFIX,
          logger: (ctx.logger ?? (() => loggerFor(env, true)))(),
          settings: parts.settings,
          source: parts.source,
          workers: { fanOut: false, send: false },
          clock,
        });
        try {
          if (request.kind === 'report') ctx.write(`${await notify.renotify(request.reportId)}\n`);
          else
            ctx.write(
              `queued daily digest ${await notify.sendDaily(runAt)}; a running worker (isw-ko run or worker) sends it\n`,
            );
        } finally {
          await notify.close();
        }
      }),
    );
}

/**
 * `digest send --dry-run`: each subscriber and the subject they would get, then the totals. Counted
 * as the real send counts: a subscriber SMTP already accepted this digest for is skipped there (the
 * sent marker), so here too.
 */
async function dryRun(
  ctx: NotifyCliContext,
  parts: DigestParts,
  request: DigestRequest,
  clock: () => number,
): Promise<void> {
  const subjects = new Map<string, string>();
  const subjectOf = async (reportIds: readonly string[]): Promise<string> => {
    const key = reportIds.join(',');
    let subject = subjects.get(key);
    if (subject === undefined) {
      const entries = await parts.source.entries(reportIds);
      subject =
        entries.length === 0
          ? '(reports missing from the store: would fail)'
          : digestSubject(orderEntries(entries));
      subjects.set(key, subject);
    }
    return subject;
  };
  let mails = 0;
  let nothing = 0;
  let had = 0;
  for await (const page of planFanOut(request, null, {
    ...parts,
    timeZone: parts.settings.digestTimeZone,
    clock,
  })) {
    // Sent concurrently, so one round trip's wait for a page rather than one per subscriber.
    const sent = await Promise.all(
      page.orders.map((o) => parts.notifyStore.wasSent(o.digestId, o.subscriberId)),
    );
    const orders = page.orders.filter((_, i) => sent[i] !== true);
    const people = await parts.subscribers.getMany(orders.map((o) => o.subscriberId));
    for (const [i, order] of orders.entries()) {
      ctx.write(
        `${people[i]?.address ?? order.subscriberId}\t${order.reportIds.length} report(s)\t${await subjectOf(order.reportIds)}\n`,
      );
    }
    mails += orders.length;
    had += page.orders.length - orders.length;
    nothing += page.empty.length;
  }
  const what =
    request.kind === 'report' ? `report ${request.reportId} (immediate subscribers)` : 'the daily digest';
  ctx.write(
    `dry run of ${what}: ${mails} email(s) would be sent` +
      (had > 0 ? `, ${had} subscriber(s) already had it (skipped)` : '') +
      (request.kind === 'daily' ? `, ${nothing} daily subscriber(s) have nothing new (no email)` : '') +
      '\n',
  );
}
