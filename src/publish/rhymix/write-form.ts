import { load } from 'cheerio';

/**
 * What the board's write page (`dispBoardWrite`) shows the member: a form, a captcha, or neither.
 *
 * Why a page and not the refusal: the board's JSON refusals carry only a localised message for
 * captcha and permission answers (no `errorDetail`), and we never branch on message text. The
 * write page is structure: a member who may write gets a form with a title field; one who may
 * not gets a message page; a captcha shows up as its widget (reCAPTCHA, hCaptcha, Turnstile, or
 * XE's captcha image). Pure: the caller fetches the page.
 */
export interface WriteFormProbe {
  /** The page holds a document form (the member may write here, or edit this document). */
  readonly hasForm: boolean;
  /** The page asks for a captcha. */
  readonly captcha: boolean;
}

const CAPTCHA_MARK = /captcha|turnstile/i;

/** Read a `dispBoardWrite` page. */
export function readWriteForm(html: string): WriteFormProbe {
  const $ = load(html);
  const hasForm = $('form')
    .toArray()
    .some((form) => {
      const f = $(form);
      // Rhymix skins name the action; XE skins submit through a compiled filter, so look for the
      // title field, which only a document form has (login, search and comment forms have none).
      return (
        f.find('input[name="act"][value="procBoardInsertDocument"]').length > 0 ||
        f.find('input[name="title"], textarea[name="title"]').length > 0
      );
    });
  let captcha = false;
  $('[id], [class], [name], [src], [data-sitekey]').each((_, el) => {
    if (captcha) return;
    const node = $(el);
    for (const attr of ['id', 'class', 'name', 'src']) {
      if (CAPTCHA_MARK.test(node.attr(attr) ?? '')) captcha = true;
    }
    if (node.attr('data-sitekey') !== undefined) captcha = true;
  });
  return { hasForm, captcha };
}
