import type { Report } from '../parse/report.js';
import type { Summary } from '../summarize/summary.js';
import type { LinkResolver } from './link-resolver.js';
import type { Post } from './post.js';
import { renderPost } from './render-post.js';
import type { PostTemplates } from './templates.js';

/**
 * A report's post as every board gets it: its links resolved (tracking redirects followed or
 * replaced by ISW's own URL), then rendered. The publish worker and the admin preview both use it,
 * so the preview is the post.
 */
export async function preparePost(input: {
  readonly reportId: string;
  readonly report: Report;
  readonly summary: Summary;
  readonly resolver: LinkResolver;
  readonly templates: PostTemplates;
  readonly sourceShortName: string | undefined;
}): Promise<Post> {
  const { reportId, report, summary, resolver, templates, sourceShortName } = input;
  const links = await resolver.resolve(report.links, {
    product: report.product,
    publishedAt: report.publishedAt,
  });
  return renderPost(
    { reportId, report, summary, links, ...(sourceShortName === undefined ? {} : { sourceShortName }) },
    templates,
  );
}
