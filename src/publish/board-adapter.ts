import type { Post } from './post.js';

/** Where a post lives on a board. */
export interface PublishedRef {
  /** The board's own id of the post (a document number, a file name). */
  readonly id: string;
  /** Where a reader opens it. */
  readonly url: string;
}

/**
 * A place posts are published to (the local HTML board, a Rhymix/XE board, a webhook). Adapters
 * fail only with a `PublishError` whose code says whether a retry can help.
 *
 * Publishing is idempotent by `post.key`: the worker calls `find` first and `update`s what it
 * finds, and `publish` itself must not create a second post for a key it already has (a crash
 * between posting and recording the ref must not duplicate the post on the next attempt).
 */
export interface BoardAdapter {
  /** Short stable name, used in job ids and post records (`file`, `rhymix`, `webhook`). */
  readonly name: string;
  /** The post with this `post.key` on the board, or null when there is none. */
  find(post: Post): Promise<PublishedRef | null>;
  /** Put the post on the board and say where it is. */
  publish(post: Post): Promise<PublishedRef>;
  /** Replace the post at `ref` with this version of it; the ref may change (a new URL), usually not. */
  update(ref: PublishedRef, post: Post): Promise<PublishedRef>;
}
