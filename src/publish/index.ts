/**
 * The publish stage: renders a report and its summary into a board post, resolves the email's
 * tracking links to public URLs, and hands the post to a board adapter. Knows nothing of queues.
 */
export { postKey, type Post, type ResolvedLink } from './post.js';
export {
  renderPost,
  FULL_REPORT_LABEL,
  linkLabel,
  titleView,
  bodyView,
  dateAsWritten,
  cleanModelText,
  POST_HEADINGS,
  ISW_TITLE_PREFIX,
  type RenderPostInput,
  type PostBodyView,
  type PostTitleView,
  type ParagraphView,
  type ListView,
  type ListItemView,
  nestList,
} from './render-post.js';
export {
  loadPostTemplates,
  defaultTemplatesDir,
  TEMPLATE_FILES,
  type PostTemplates,
  type Renderer,
} from './templates.js';
export { assertSafePostHtml, assertSafePostText, findUnsafeContent, ALLOWED_TAGS } from './safety.js';
export {
  LinkResolver,
  FALLBACK_FULL_REPORT_TEXT,
  type LinkResolverOptions,
  type LinkContext,
} from './link-resolver.js';
export { iswReportUrl, findIswProduct, easternDate, ISW_PRODUCTS, type IswProduct } from './isw-products.js';
export {
  cleanPublicUrl,
  scrubText,
  isTrackingHost,
  isTrackingUrl,
  containsEmailAddress,
  TRACKING_HOSTS,
} from './tracking.js';
export type { BoardAdapter, PublishedRef } from './board-adapter.js';
export { FileBoard, type FileBoardOptions, type StoredPost } from './file-board.js';
export {
  renderBoardPage,
  renderBoardIndex,
  formatKst,
  READER_TIME_ZONE,
  type BoardIndexEntry,
  type BoardPageView,
  type BoardIndexView,
} from './board-pages.js';
export { writeFileAtomic } from './atomic-write.js';
export { PublishError, type PublishErrorCode } from './publish-error.js';
export { preparePost } from './prepare-post.js';
