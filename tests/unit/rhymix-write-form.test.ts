// Covers reading the board's write page: a document form, a captcha widget, or a refusal page.
import { describe, expect, it } from 'vitest';
import { readWriteForm } from '../../src/publish/rhymix/write-form.js';

describe('readWriteForm', () => {
  it('finds a Rhymix form by its act and an XE form by its title field', () => {
    expect(
      readWriteForm('<form><input type="hidden" name="act" value="procBoardInsertDocument"></form>'),
    ).toEqual({ hasForm: true, captcha: false });
    expect(readWriteForm('<form action="./"><input type="text" name="title"></form>')).toEqual({
      hasForm: true,
      captcha: false,
    });
  });

  it('sees no document form on a message page or in login and search forms', () => {
    expect(readWriteForm('<div class="message"><p>권한이 없습니다.</p></div>')).toEqual({
      hasForm: false,
      captcha: false,
    });
    expect(
      readWriteForm(
        '<form><input name="user_id"><input name="password"></form><form><input name="search_keyword"></form>',
      ),
    ).toEqual({ hasForm: false, captcha: false });
  });

  it.each([
    ['reCAPTCHA', '<div class="g-recaptcha" data-sitekey="k"></div>'],
    ['hCaptcha', '<div class="h-captcha"></div>'],
    ['Turnstile', '<div class="cf-turnstile"></div>'],
    ['an XE captcha image', '<img src="./?act=captchaImage">'],
    ['a bare sitekey', '<div data-sitekey="abc"></div>'],
  ])('notices %s', (_what, widget) => {
    expect(readWriteForm(`<form><input name="title">${widget}</form>`)).toEqual({
      hasForm: true,
      captcha: true,
    });
  });
});
