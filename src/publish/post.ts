/**
 * A post ready for any board: rendered once, published by every adapter unchanged. Plain JSON, so
 * the queue can store it and the admin pages can show it.
 */
export interface Post {
  /** Stable machine key, `isw-ko-<reportId>`: how an adapter finds a post it already published. */
  readonly key: string;
  readonly reportId: string;
  /** Plain text (not HTML): `[ISW] 러시아의 공세 캠페인 평가, 2025년 3월 2일`. Adapters escape it. */
  readonly title: string;
  /**
   * The body as an HTML fragment of simple tags only (h2, h3, p, ul, ol, li, a, strong, br), no
   * attributes but `href`, no class, no script: what a non-admin Rhymix member may post. Checked by
   * `assertSafePostHtml` before it leaves the renderer.
   */
  readonly html: string;
  /** The same post as plain text, for boards or digests that take no HTML. Not escaped. */
  readonly text: string;
  /** The full report on the publisher's site (resolved, never a tracking link), when known. */
  readonly sourceUrl: string | null;
  /** The summary's categories, then its countries' Korean names. */
  readonly tags: readonly string[];
  /** When the report was published (ISO 8601 with offset), copied from the report. */
  readonly publishedAt: string;
}

/** What a board link is made of, once its tracking redirect is resolved. */
export interface ResolvedLink {
  readonly kind: 'full-report' | 'interactive-map' | 'related';
  /** The line the link stands in, as the email shows it. */
  readonly text: string;
  /** The target on the publisher's site: never a tracking URL, tracking parameters removed. */
  readonly url: string;
  /** `redirect`: the email's link was followed to its end; `fallback`: built from product and date. */
  readonly resolvedBy: 'redirect' | 'fallback';
}

/** The stable key of the post of a report. */
export function postKey(reportId: string): string {
  return `isw-ko-${reportId}`;
}
