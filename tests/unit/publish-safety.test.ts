// The final safety check of post HTML (assertSafePostHtml), text scrubbing and URL cleaning.
import { describe, expect, it } from 'vitest';
import {
  assertSafePostHtml,
  assertSafePostText,
  cleanPublicUrl,
  findUnsafeContent,
  isTrackingUrl,
  PublishError,
  scrubText,
} from '../../src/publish/index.js';

function unsafeCode(run: () => void): string | null {
  try {
    run();
    return null;
  } catch (err) {
    if (err instanceof PublishError) return `${err.code}/${err.kind}`;
    throw err;
  }
}

describe('assertSafePostHtml', () => {
  it('accepts the simple tags a post is made of', () => {
    const html = [
      '<h2>[요약]</h2>',
      '<h3>주요 요점</h3>',
      '<ul><li>하나 &lt;script&gt; &amp; &#x27;둘&#x27;</li></ul>',
      '<ol><li>one</li></ol>',
      '<p>Line<br>break <strong>bold</strong></p>',
      '<p><a href="https://understandingwar.org/research/?a&#x3D;1&amp;b&#x3D;2">full report</a></p>',
    ].join('\n');
    expect(findUnsafeContent(html)).toEqual([]);
    expect(() => {
      assertSafePostHtml(html);
    }).not.toThrow();
  });

  it.each([
    ['a script element', '<p>x</p><script>alert(1)</script>'],
    ['a script element in upper case', '<SCRIPT src="https://e.org/x.js"></SCRIPT>'],
    ['an event handler', '<p onclick="alert(1)">x</p>'],
    ['an event handler on an img', '<img src=x onerror=alert(1)>'],
    ['a javascript: URL', '<a href="javascript:alert(1)">x</a>'],
    ['a javascript: URL hidden by entities', '<a href="java&#x73;cript&#58;alert(1)">x</a>'],
    ['a javascript: URL split by a tab', '<a href="java\tscript:alert(1)">x</a>'],
    ['a data: URL', '<a href="data:text/html,<script>alert(1)</script>">x</a>'],
    ['a class attribute', '<p class="note">x</p>'],
    ['a style attribute', '<p style="color:red">x</p>'],
    ['a processing instruction', '<p>x</p><?php echo 1; ?>'],
    ['a comment', '<p>x</p><!-- hidden -->'],
    ['an iframe', '<iframe src="https://e.org"></iframe>'],
    ['a div', '<div>x</div>'],
    ['a relative link', '<a href="/research/">x</a>'],
    ['an r20.rs6.net tracking link', '<a href="https://r20.rs6.net/tn.jsp?f=001&c=2&ch=3">x</a>'],
    ['a cc.rs6.net tracking link', '<a href="https://qtk4ncjab.cc.rs6.net/tn.jsp?f=001">x</a>'],
    ['a constantcontact link', '<a href="https://visitor.constantcontact.com/do?p=un">Unsubscribe</a>'],
    ['a ccsend link', '<a href="https://myemail.ccsend.com/v/abc">view</a>'],
    ['a tracking URL as text', '<p>https://r20.rs6.net/tn.jsp?f=001</p>'],
    ['an email address', '<p>Sent to isw-inbox@example.com</p>'],
    ['an email address as entities', '<p>isw-inbox&#64;example.com</p>'],
    ['a mailto link', '<a href="mailto:isw-inbox@example.com">mail</a>'],
    ['an address in a link query', '<a href="https://e.org/?u=isw-inbox%40example.com">x</a>'],
  ])('refuses %s', (_what, html) => {
    expect(findUnsafeContent(html).length).toBeGreaterThan(0);
    expect(
      unsafeCode(() => {
        assertSafePostHtml(html);
      }),
    ).toBe('UNSAFE_CONTENT/user');
  });

  it('names every problem in the error details', () => {
    let caught: unknown;
    try {
      assertSafePostHtml('<p class="x" onclick="y">isw-inbox@example.com</p><script></script>');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PublishError);
    const problems = (caught as PublishError).details['problems'];
    expect(problems).toEqual(
      expect.arrayContaining(['a <script> element', 'a class attribute', 'an email address']),
    );
  });

  it('checks plain text for tracking links and addresses only', () => {
    expect(
      unsafeCode(() => {
        assertSafePostText('<b>markup is fine in plain text</b>', 'text');
      }),
    ).toBeNull();
    expect(
      unsafeCode(() => {
        assertSafePostText('see https://r20.rs6.net/tn.jsp?f=1', 'text');
      }),
    ).toBe('UNSAFE_CONTENT/user');
    expect(
      unsafeCode(() => {
        assertSafePostText('isw-inbox@example.com', 'title');
      }),
    ).toBe('UNSAFE_CONTENT/user');
  });
});

describe('findUnsafeContent, checking the same HTML again', () => {
  // One post's HTML is checked by the renderer, the board and the page renderer; safe verdicts are
  // remembered, so these pin that a repeat gives the same answer and that nothing else is let through.
  const safe = '<h2>[요약]</h2>\n<p>반복 검사 <a href="https://understandingwar.org/">원문</a></p>\n';

  it('a safe post stays safe, and an unsafe one is refused every time', () => {
    const unsafe = `${safe}<script>alert(1)</script>`;
    for (let i = 0; i < 3; i += 1) {
      expect(findUnsafeContent(safe)).toEqual([]);
      expect(findUnsafeContent(unsafe)).toEqual(['a <script> element']);
    }
  });

  it('a post that differs from a remembered safe one by one character is checked in full', () => {
    expect(findUnsafeContent(safe)).toEqual([]);
    expect(findUnsafeContent(safe.replace('https:', 'javascript:'))).toEqual(['a javascript: URL']);
    expect(findUnsafeContent(safe.replace('반복', 'isw-inbox@example.com'))).toEqual(['an email address']);
  });

  it('a remembered verdict is not shared by a caller that changed the returned list', () => {
    const first = findUnsafeContent(safe);
    first.push('changed by the caller');
    expect(findUnsafeContent(safe)).toEqual([]);
  });

  it('many different posts in a row each get their own verdict', () => {
    for (let i = 0; i < 100; i += 1) {
      const html = `<p>글 ${i}</p>`;
      expect(findUnsafeContent(html)).toEqual([]);
      expect(findUnsafeContent(`${html}<p>editor-${i}@example.com</p>`)).toEqual(['an email address']);
    }
    expect(findUnsafeContent(safe)).toEqual([]);
  });
});

describe('scrubText', () => {
  it('replaces addresses and tracking URLs, keeps everything else', () => {
    expect(scrubText('Sent to isw-inbox@example.com by editor-x@shared1.ccsend.com today')).toBe(
      'Sent to [email address removed] by [email address removed] today',
    );
    expect(scrubText('Read https://r20.rs6.net/tn.jsp?f=001&c=x now, or qtk4ncjab.cc.rs6.net/tn.jsp.')).toBe(
      'Read [link removed] now, or [link removed]',
    );
    expect(scrubText('Constant Contact and https://understandingwar.org/ stay')).toBe(
      'Constant Contact and https://understandingwar.org/ stay',
    );
  });

  it('text without an "@" keeps its words and still loses tracking links', () => {
    expect(scrubText('isw-inbox&#64;example.com at r20.rs6.net/tn.jsp')).toBe(
      'isw-inbox&#64;example.com at [link removed]',
    );
  });
});

describe('cleanPublicUrl', () => {
  it('removes tracking parameters and keeps the rest', () => {
    expect(
      cleanPublicUrl(
        'https://understandingwar.org/research/x/?utm_source=cc&utm_medium=email&mc_cid=1&_hsenc=2&fbclid=3&page=2#top',
      ),
    ).toBe('https://understandingwar.org/research/x/?page=2#top');
    expect(cleanPublicUrl('https://understandingwar.org/research/x/?utm_campaign=a')).toBe(
      'https://understandingwar.org/research/x/',
    );
    expect(cleanPublicUrl('https://e.org/?email=isw-inbox%40example.com&id=5')).toBe('https://e.org/?id=5');
    expect(cleanPublicUrl('https://user:secret@e.org/a')).toBe('https://e.org/a');
  });

  it('refuses tracking hosts, other schemes and addresses it cannot remove', () => {
    expect(cleanPublicUrl('https://r20.rs6.net/tn.jsp?f=001')).toBeNull();
    expect(cleanPublicUrl('https://QTK4NCJAB.CC.RS6.NET/tn.jsp')).toBeNull();
    expect(cleanPublicUrl('javascript:alert(1)')).toBeNull();
    expect(cleanPublicUrl('mailto:isw-inbox@example.com')).toBeNull();
    expect(cleanPublicUrl('https://e.org/u/isw-inbox@example.com/')).toBeNull();
    expect(cleanPublicUrl('not a url')).toBeNull();
  });

  it('knows the tracking hosts and not their look-alikes', () => {
    expect(isTrackingUrl('https://r20.rs6.net/tn.jsp')).toBe(true);
    expect(isTrackingUrl('https://myemail.constantcontact.com/x')).toBe(true);
    expect(isTrackingUrl('https://notrs6.net/x')).toBe(false);
    expect(isTrackingUrl('https://understandingwar.org/')).toBe(false);
  });
});
