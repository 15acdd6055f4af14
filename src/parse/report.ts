/** Where a report came from: an ISW product, or any other newsletter (summarised too). */
export type ReportSource = 'isw' | 'generic';

/** What a link in the report points at. */
export type ReportLinkKind = 'full-report' | 'interactive-map' | 'related';

export interface ReportLink {
  readonly kind: ReportLinkKind;
  /** The line the link stands in, as the email shows it ("Click here to view our … maps."). */
  readonly text: string;
  /** The URL exactly as the email gives it: usually a Constant Contact tracking redirect. */
  readonly url: string;
}

/** A body paragraph, or a list inside the body (lists stay lists). */
export type Paragraph =
  | { readonly type: 'text'; readonly text: string }
  | {
      readonly type: 'list';
      readonly ordered: boolean;
      readonly items: readonly string[];
      /**
       * Set only when the list has lists nested in it: each item's nesting level (0 = top), so
       * `items[i]` sits under the nearest earlier item of a lower level. Absent: all at the top.
       */
      readonly levels?: readonly number[];
    };

export interface Mailbox {
  readonly name: string;
  readonly address: string;
}

/** How `publishedAt` was found, strongest first. */
export type DateSource = 'body' | 'header';

/**
 * An email turned into a typed report. Everything a later stage needs is here; the raw email is
 * kept beside it by the pipeline so any stage can be re-run.
 */
export interface Report {
  readonly source: ReportSource;
  /** The product ("Russian Offensive Campaign Assessment", "Iran Update"); the newsletter's name for generic mail. */
  readonly product: string | null;
  /** The title as the publisher wrote it (the subject, without Fwd:/FW: prefixes). */
  readonly title: string;
  /** ISO 8601 with the right offset (US Eastern for ISW's "March 2, 2025, 7:45 pm ET"). */
  readonly publishedAt: string;
  readonly publishedAtSource: DateSource;
  readonly authors: readonly string[];
  /** Standing text under the header that is not the day's analysis (e.g. the Iran Update's description, "Information Cutoff"). */
  readonly preface: readonly string[];
  readonly paragraphs: readonly Paragraph[];
  /** The items of the "Key Takeaways" list: exact count and order. */
  readonly keyTakeaways: readonly string[];
  readonly links: readonly ReportLink[];
  /** Message-ID of the original email (the forwarded one, when it could be recovered); null when it has none. */
  readonly messageId: string | null;
  readonly from: Mailbox;
  readonly subject: string;
  /** When our mailbox received it (top Received header), else the Date header. */
  readonly receivedAt: string | null;
  /** Set when a person forwarded the report to us. */
  readonly forwardedBy: Mailbox | null;
  /**
   * sha256 of the report's content (title, date, paragraphs, takeaways): the same report forwarded or
   * received twice has the same fingerprint. Used as the job id when there is no Message-ID.
   */
  readonly fingerprint: string;
  /** Things that were odd but not fatal (an unknown charset that decoded cleanly, say). */
  readonly warnings: readonly string[];
}
