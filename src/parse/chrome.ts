import type { Block } from './blocks.js';

/**
 * Constant Contact and ISW "chrome": the parts of the email that are not the report. Each pattern
 * is matched against one block's folded text. Kept in one place so a new footer line is one edit.
 */

/** "Click here to …" lines: never body text; their links are kept as report links. */
export const CLICK_HERE = /^click\s+here\b/i;

/** Calls to action that lead to the full report. */
export const FULL_REPORT = /\b(?:read|view|see)\s+the\s+full\s+(?:report|update|assessment|analysis|file)\b/i;

/** Lines of the header area that are chrome wherever they are. */
const HEADER_CHROME: readonly RegExp[] = [
  /^support isw$/i,
  /^donate( now)?$/i,
  /^view (?:as|this email as a|in) (?:webpage|web page|browser)$/i,
  /^forward (?:to a friend|this email)$/i,
];

/**
 * Lines that start the footer. Anything from the first of them on is dropped; they are matched
 * only on short blocks so that a body paragraph that mentions "unsubscribe" is not cut.
 */
const FOOTER_START: readonly RegExp[] = [
  /^follow (?:isw|us)\b.*\bsocial media/i,
  /^(?:website|visit our website)\b/i,
  /^(?:facebook|x|twitter|youtube|instagram|linkedin)\s*\|/i,
  /^donate\b.*\b(?:online|check)\b/i,
  /\btax-exempt organization\b/i,
  /^the institute for the study of war \(isw\) is a non-partisan/i,
  /^unsubscribe\b/i,
  /\|\s*unsubscribe\b/i,
  /^update profile\b/i,
  /\bconstant contact data notice\b/i,
  /^sent by\b.*\bpowered by\b/i,
];

/** A postal address line as Constant Contact prints it: "Name | 1400 16th Street NW, … | City". */
const ADDRESS_LINE = /^[^|]{2,80}\|\s*\d{1,6}\s[^|]{3,80}(?:\|[^|]{2,80})*$/;

const SHORT = 400;

export function isHeaderChrome(block: Block): boolean {
  if (block.text === '') return block.images.length > 0; // logos, tracking pixels, spacers
  return HEADER_CHROME.some((re) => re.test(block.text));
}

export function isFooterStart(block: Block): boolean {
  if (block.text.length > SHORT) return false;
  return FOOTER_START.some((re) => re.test(block.text)) || ADDRESS_LINE.test(block.text);
}

/** True when a block reads as a "Click here …" line or a full-report button. */
export function isCallToAction(block: Block): boolean {
  return (
    block.links.length > 0 &&
    (CLICK_HERE.test(block.text) || (FULL_REPORT.test(block.text) && block.text.length < 120))
  );
}

/** Strings that must never survive into a report (used by the tests and the soak check). */
export const CHROME_STRINGS: readonly string[] = [
  'Click here',
  'Support ISW',
  'ISW Logo',
  'Follow ISW on social media',
  'Donate',
  'tax-exempt',
  'Unsubscribe',
  'Update Profile',
  'Constant Contact',
  'Data Notice',
  'powered by',
  '1400 16th Street',
];
