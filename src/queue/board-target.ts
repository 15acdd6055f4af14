import type { Report } from '../parse/index.js';
import {
  preparePost,
  type BoardAdapter,
  type LinkResolver,
  type Post,
  type PostTemplates,
  type PublishedRef,
} from '../publish/index.js';
import type { PublishTarget } from './publish-worker.js';
import type { PostRecord } from './store.js';
import type { Summary } from '../summarize/summary.js';

/**
 * An adapter that decides create-or-edit itself (Rhymix checks the stored document still exists
 * and searches by its machine tag; a webhook sends `post.updated`), and may want the summary too.
 */
export interface UpsertingAdapter extends BoardAdapter {
  upsert(
    post: Post,
    previous: PublishedRef | null,
    extras?: { summary?: Summary },
  ): Promise<{ readonly ref: PublishedRef; readonly created: boolean }>;
}

function upserts(adapter: BoardAdapter): adapter is UpsertingAdapter {
  return typeof (adapter as Partial<UpsertingAdapter>).upsert === 'function';
}

/**
 * A board as a publish target: resolve the links, render the post, then edit the post this target
 * already has (the stored ref, else the adapter's own search by key) or create it.
 */
export class BoardTarget implements PublishTarget {
  readonly name: string;
  private readonly adapter: BoardAdapter;
  private readonly templates: PostTemplates;
  private readonly resolver: LinkResolver;
  private readonly shortNameFor: (report: Report) => string | undefined;

  constructor(deps: {
    adapter: BoardAdapter;
    templates: PostTemplates;
    resolver: LinkResolver;
    shortNameFor: (report: Report) => string | undefined;
  }) {
    this.name = deps.adapter.name;
    this.adapter = deps.adapter;
    this.templates = deps.templates;
    this.resolver = deps.resolver;
    this.shortNameFor = deps.shortNameFor;
  }

  async publish(
    input: Parameters<PublishTarget['publish']>[0],
  ): Promise<Omit<PostRecord, 'updatedAt' | 'revisions'>> {
    const { reportId, report, summary, existing } = input;
    const post = await preparePost({
      reportId,
      report,
      summary: summary.summary,
      resolver: this.resolver,
      templates: this.templates,
      sourceShortName: this.shortNameFor(report),
    });
    const stored: PublishedRef | null = existing === null ? null : { id: existing.id, url: existing.url };
    let ref: PublishedRef;
    if (upserts(this.adapter)) {
      ref = (await this.adapter.upsert(post, stored, { summary: summary.summary })).ref;
    } else {
      const previous = stored ?? (await this.adapter.find(post));
      ref = previous === null ? await this.adapter.publish(post) : await this.adapter.update(previous, post);
    }
    return {
      reportId,
      target: this.name,
      id: ref.id,
      url: ref.url,
      key: post.key,
      title: post.title,
      publishedAt: post.publishedAt,
    };
  }
}

/** GENERIC_SOURCE_NAMES ("eebrief.example.org=EEB,kyivindependent.com=KI") as a lookup by sender domain. */
export function shortNamesFrom(setting: string): (report: Report) => string | undefined {
  const map = new Map<string, string>();
  for (const pair of setting.split(',')) {
    const [domain, name] = pair.split('=').map((s) => s.trim());
    if (domain !== undefined && domain !== '' && name !== undefined && name !== '')
      map.set(domain.toLowerCase(), name);
  }
  return (report) => {
    if (report.source !== 'generic') return undefined;
    const address = report.from.address;
    // Constant Contact rewrites unauthenticated senders to "<local>-<domain>@shared1.ccsend.com".
    const rewritten = /^[^@]*-([a-z0-9.-]+\.[a-z]{2,})@shared\d*\.ccsend\.com$/i.exec(address)?.[1];
    const domain = (rewritten ?? address.slice(address.lastIndexOf('@') + 1)).toLowerCase();
    for (const [d, name] of map) if (domain === d || domain.endsWith(`.${d}`)) return name;
    return undefined;
  };
}
