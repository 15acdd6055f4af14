import Fastify, {
  type FastifyInstance,
  type FastifyPluginAsync,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from '../shared/logger.js';
import { checkAddress, maskAddress, subscriberIdOf, type AddressProblem } from './address.js';
import type { DeliveryMode } from './digest.js';
import { domainOf, type MailAddress, type Mailer } from './mailer.js';
import { PUBLIC_PATHS, type LinkBuilder } from './links.js';
import { NotifyError } from './notify-error.js';
import type { NotifyStore } from './notify-store.js';
import { renderConfirmation } from './render-digest.js';
import { systemClock, type Clock } from './schedule.js';
import { checkConfirmation, parseMode, type Subscriber, type SubscriberStore } from './subscribers.js';
import type { NotifyTemplates } from './templates.js';
import {
  CONFIRM_TOKEN_MAX_AGE_MS,
  readToken,
  verifyToken,
  type TokenClaims,
  type TokenPurpose,
} from './tokens.js';
import { isAppError } from '../shared/app-error.js';

/** What the public routes need. */
export interface PublicRoutesOptions {
  readonly subscribers: SubscriberStore;
  /** For the confirmation throttle. */
  readonly notifyStore: NotifyStore;
  /** Sends confirmation emails. */
  readonly mailer: Mailer;
  readonly templates: NotifyTemplates;
  readonly links: LinkBuilder;
  readonly tokenSecret: string;
  readonly from: MailAddress;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** One confirmation email per address per this period (default 10 minutes). */
  readonly confirmThrottleMs?: number;
}

/** What subscribe-page.hbs sees. */
export interface SubscribePageView {
  readonly action: string;
  readonly error: string | null;
  readonly address: string;
  readonly name: string;
  readonly daily: boolean;
}

/** What public-page.hbs sees. */
export interface PublicPageView {
  readonly title: string;
  readonly message: string;
  readonly detail: string | null;
  readonly form: { readonly action: string; readonly button: string; readonly oneClick: boolean } | null;
  readonly link: { readonly href: string; readonly text: string } | null;
}

const DEFAULT_CONFIRM_THROTTLE_MS = 10 * 60_000;
const MAX_FORM_BYTES = 8 * 1024;

/**
 * Why the form refused an address, for people: the pages speak Korean only (checkAddress's English
 * `reason` is for the CLI and logs).
 */
export const ADDRESS_PROBLEMS_KO: Readonly<Record<AddressProblem, string>> = {
  EMPTY: '이메일 주소를 입력해 주세요.',
  FORBIDDEN_CHARACTERS: '주소에 공백이나 쓸 수 없는 문자(< > ( ) [ ] \\ , ; : ")가 들어 있습니다.',
  NO_AT_SIGN: '@ 앞과 뒤에 모두 글자가 있어야 합니다.',
  SEVERAL_AT_SIGNS: '@는 한 번만 쓸 수 있습니다.',
  NON_ASCII_LOCAL_PART:
    '@ 앞부분에는 영문자, 숫자와 일부 기호만 쓸 수 있습니다 (한글 등은 받을 수 없습니다).',
  LOCAL_PART_TOO_LONG: '@ 앞부분이 너무 깁니다 (64자까지).',
  LOCAL_PART_INVALID:
    '@ 앞부분의 형식이 올바르지 않습니다 (점을 처음이나 끝에, 또는 두 번 연달아 쓸 수 없습니다).',
  IP_LITERAL: '@ 뒤에는 IP 주소가 아니라 도메인 이름을 써 주세요.',
  DOMAIN_INVALID: '@ 뒷부분(도메인)이 올바르지 않습니다.',
  DOMAIN_WITHOUT_DOT: '@ 뒷부분(도메인)에 점(.)이 있어야 합니다.',
  TOO_LONG: '주소가 너무 깁니다 (254자까지).',
};

// The pages carry tokens in their URLs: no Referer may leak them, no cache may keep them, no frame
// may wrap them, and nothing but our own inline style runs.
const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
} as const;

type Body = Record<string, unknown> | undefined;
type TokenRequest = FastifyRequest<{ Querystring: { token?: string }; Body: Body }>;

/**
 * The public routes of the admin server: subscribe (double opt-in), confirm, unsubscribe. A fastify
 * plugin, encapsulated: register it on the admin server (any prefix); the form bodies it needs
 * (`application/x-www-form-urlencoded`, and `multipart/form-data`, which RFC 8058 §3.1 lets mail
 * clients use for one-click) are parsed here unless the server already parses them.
 *
 * - `GET /subscribe`, `POST /subscribe`: the form; a new address gets a confirmation email.
 * - `GET /confirm?token=`: a page with a button; `POST /confirm?token=` confirms. Confirming on GET
 *   would let a mail scanner that fetches every link subscribe someone who never clicked.
 * - `GET /unsubscribe?token=`: a page with a button (the visible link in every email);
 *   `POST /unsubscribe?token=`: unsubscribes. This is also the RFC 8058 one-click target, which a
 *   mail client POSTs `List-Unsubscribe=One-Click` to with no cookies and no login (§3.2): the
 *   signed token is the only authority, and an unsubscribe never asks for anything else.
 */
export const publicRoutes: FastifyPluginAsync<PublicRoutesOptions> = (app, options) => {
  const clock = options.clock ?? systemClock;
  const log = options.logger.child({ component: 'public-routes' });
  const throttleMs = options.confirmThrottleMs ?? DEFAULT_CONFIRM_THROTTLE_MS;

  if (!app.hasContentTypeParser('application/x-www-form-urlencoded')) {
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
      (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(String(body))));
      },
    );
  }
  if (!app.hasContentTypeParser('multipart/form-data')) {
    app.addContentTypeParser(
      'multipart/form-data',
      { parseAs: 'string', bodyLimit: MAX_FORM_BYTES },
      (req, body, done) => {
        done(null, parseMultipartFields(String(body), req.headers['content-type'] ?? ''));
      },
    );
  }

  const page = (reply: FastifyReply, status: number, view: PublicPageView): FastifyReply =>
    reply
      .code(status)
      .headers(SECURITY_HEADERS)
      .type('text/html; charset=utf-8')
      .send(options.templates.publicPage(view));

  const subscribeForm = (reply: FastifyReply, status: number, view: SubscribePageView): FastifyReply =>
    reply
      .code(status)
      .headers(SECURITY_HEADERS)
      .type('text/html; charset=utf-8')
      .send(options.templates.subscribePage(view));

  const invalidLink = (reply: FastifyReply, err: unknown): FastifyReply => {
    const expired = isAppError(err, 'TOKEN_EXPIRED');
    return page(reply, 400, {
      title: expired ? '링크가 만료되었습니다' : '링크가 올바르지 않습니다',
      message: expired
        ? '확인 링크의 유효 기간이 지났습니다. 구독을 다시 신청해 주세요.'
        : '링크가 잘못되었거나 더 이상 쓸 수 없습니다. 가장 최근 메일의 링크를 사용해 주세요.',
      detail: null,
      form: null,
      link: { href: options.links.subscribeUrl, text: '구독 신청 페이지로' },
    });
  };

  /**
   * The subscriber a token is for, verified, and the token's claims. A token for an unknown id is
   * checked against a dummy address anyway, so the answer (and its timing) does not tell whether an
   * address is subscribed.
   */
  const subscriberFor = async (
    token: string | undefined,
    purpose: TokenPurpose,
  ): Promise<{ subscriber: Subscriber; claims: TokenClaims }> => {
    const read = token === undefined ? null : readToken(token);
    if (token === undefined || read === null) throw new NotifyError('TOKEN_INVALID', 'the link is malformed');
    const subscriber = await options.subscribers.get(read.subscriberId);
    const claims = verifyToken(
      token,
      purpose,
      subscriber?.address ?? 'nobody@invalid.invalid',
      options.tokenSecret,
      { now: clock() },
    );
    if (subscriber === null) throw new NotifyError('TOKEN_INVALID', 'no such subscriber');
    return { subscriber, claims };
  };

  /**
   * A genuine confirmation link that no longer applies: its subscriber unsubscribed or bounced since
   * (the GET page and the POST behind its button say the same). Only the link's holder, the
   * mailbox's owner, sees this, so it may say why.
   */
  const confirmationRefused = (reply: FastifyReply, subscriber: Subscriber): FastifyReply =>
    page(reply, 400, {
      title: '이 링크로는 구독할 수 없습니다',
      message:
        subscriber.status === 'bounced'
          ? `${maskAddress(subscriber.address)} 주소로 보낸 메일이 계속 되돌아와 발송을 멈췄고, 그 뒤로는 이 확인 링크를 쓸 수 없습니다.`
          : `${maskAddress(subscriber.address)} 주소는 수신 거부되었고, 그 전에 보낸 이 확인 링크로는 구독을 다시 시작할 수 없습니다.`,
      detail:
        '다시 받아 보시려면 구독을 새로 신청해 주세요. 새로 받은 확인 메일의 링크를 눌러야 구독이 다시 시작됩니다.',
      form: null,
      link: { href: options.links.subscribeUrl, text: '구독 다시 신청하기' },
    });

  const tokenOf = (req: TokenRequest): string | undefined => {
    const fromBody = req.body?.token;
    return req.query.token ?? (typeof fromBody === 'string' ? fromBody : undefined);
  };

  app.get(PUBLIC_PATHS.subscribe, (req, reply) =>
    subscribeForm(reply, 200, {
      action: req.routeOptions.url ?? PUBLIC_PATHS.subscribe,
      error: null,
      address: '',
      name: '',
      daily: true,
    }),
  );

  app.post<{ Body: Body }>(PUBLIC_PATHS.subscribe, async (req, reply) => {
    const field = (k: string): string => {
      const v = req.body?.[k];
      return typeof v === 'string' ? v : '';
    };
    const action = req.routeOptions.url ?? PUBLIC_PATHS.subscribe;
    const mode: DeliveryMode = parseMode(field('mode')) ?? 'daily';
    const check = checkAddress(field('address'));
    if (!check.ok) {
      return subscribeForm(reply, 400, {
        action,
        error: `이메일 주소를 확인해 주세요. ${ADDRESS_PROBLEMS_KO[check.problem]}`,
        address: field('address').slice(0, 254),
        name: field('name').slice(0, 100),
        daily: mode === 'daily',
      });
    }
    const accepted: PublicPageView = {
      title: '신청을 받았습니다',
      message: `${maskAddress(check.address)} 주소로 확인 메일을 보냈습니다. 메일의 링크를 눌러야 구독이 시작됩니다.`,
      detail:
        '메일이 보이지 않으면 스팸함을 확인해 주세요. 이미 구독 중인 주소라면 따로 메일을 보내지 않습니다.',
      form: null,
      link: null,
    };
    // A form-filling bot fills the hidden field; it gets the same answer and nothing happens.
    if (field('website') !== '') {
      log.info({ reason: 'honeypot' }, 'subscription ignored');
      return page(reply, 200, accepted);
    }
    // One request per address per throttle period, whatever the address's status: were active
    // subscribers (who get no email) not throttled too, a second request would tell them apart.
    const subscriberId = subscriberIdOf(check.key);
    const throttleKey = options.notifyStore.keys.confirmThrottle(subscriberId);
    const slot = await options.notifyStore.throttle(throttleKey, throttleMs);
    if (!slot.allowed) {
      const minutes = Math.max(1, Math.ceil(slot.retryAfterMs / 60_000));
      log.info(
        { subscriberId, retryAfterMs: slot.retryAfterMs },
        'subscription request throttled; nothing sent',
      );
      reply.header('retry-after', String(Math.ceil(slot.retryAfterMs / 1000)));
      return page(reply, 429, {
        title: '조금 전에 이미 신청을 받았습니다',
        message: `${maskAddress(check.address)} 주소로는 조금 전에 신청을 받았으므로, 이번에는 확인 메일을 다시 보내지 않았습니다.`,
        detail: `앞서 받은 확인 메일의 링크를 눌러 주세요 (스팸함도 확인해 주세요). 메일이 오지 않았다면 ${minutes}분 뒤에 다시 신청할 수 있습니다. 이미 구독 중인 주소라면 확인 메일을 보내지 않습니다.`,
        form: null,
        link: null,
      });
    }
    const name = field('name').trim();
    const { subscriber, needsConfirmation } = await options.subscribers.requestSubscription({
      address: check.address,
      name: name === '' ? null : name,
      mode,
    });
    if (!needsConfirmation) return page(reply, 200, accepted);
    const now = clock();
    const email = renderConfirmation(options.templates, {
      confirmUrl: options.links.confirmUrl(subscriber, now),
      mode,
      validDays: Math.round(CONFIRM_TOKEN_MAX_AGE_MS / 86_400_000),
    });
    try {
      await options.mailer.send({
        from: options.from,
        to: { name: subscriber.resubscribe?.name ?? subscriber.name, address: subscriber.address },
        subject: email.subject,
        html: email.html,
        text: email.text,
        messageId: `confirm-${subscriber.id}-${now.toString(36)}@${domainOf(options.from.address)}`,
      });
    } catch (err) {
      // Let the person try again at once rather than wait out the throttle for a mail never sent.
      await options.notifyStore.releaseThrottle(throttleKey);
      log.error({ err, subscriberId: subscriber.id }, 'confirmation email could not be sent');
      return page(reply, 503, {
        title: '메일을 보내지 못했습니다',
        message: '확인 메일을 보내는 중 문제가 생겼습니다. 잠시 후 다시 시도해 주세요.',
        detail: null,
        form: null,
        link: { href: options.links.subscribeUrl, text: '다시 신청하기' },
      });
    }
    log.info({ subscriberId: subscriber.id, mode }, 'confirmation email sent');
    return page(reply, 200, accepted);
  });

  app.get<{ Querystring: { token?: string } }>(PUBLIC_PATHS.confirm, async (req, reply) => {
    let link: { subscriber: Subscriber; claims: TokenClaims };
    try {
      link = await subscriberFor(req.query.token, 'confirm');
    } catch (err) {
      return invalidLink(reply, err);
    }
    const { subscriber } = link;
    // The same check as the POST behind the button: no button that can only fail.
    if (!checkConfirmation(subscriber, link.claims.issuedAt * 1000).ok) {
      return confirmationRefused(reply, subscriber);
    }
    if (subscriber.status === 'active') {
      return page(reply, 200, {
        title: '이미 구독 중입니다',
        message: '구독이 이미 확인되었습니다.',
        detail: null,
        form: null,
        link: null,
      });
    }
    return page(reply, 200, {
      title: '구독 확인',
      message: `${maskAddress(subscriber.address)} 주소로 ISW 브리핑을 받으시려면 아래 버튼을 눌러 주세요.`,
      detail: null,
      form: { action: req.url, button: '구독 확인', oneClick: false },
      link: null,
    });
  });

  app.post<{ Querystring: { token?: string }; Body: Body }>(PUBLIC_PATHS.confirm, async (req, reply) => {
    let link: { subscriber: Subscriber; claims: TokenClaims };
    try {
      link = await subscriberFor(tokenOf(req), 'confirm');
    } catch (err) {
      if (isAppError(err) && err.kind === 'user') return invalidLink(reply, err);
      throw err;
    }
    const { subscriber, claims } = link;
    if (!checkConfirmation(subscriber, claims.issuedAt * 1000).ok)
      return confirmationRefused(reply, subscriber);
    try {
      await options.subscribers.confirm(subscriber.id, claims.issuedAt * 1000);
    } catch (err) {
      // Unsubscribed or removed between the check above and the write.
      if (isAppError(err) && err.kind === 'user') return invalidLink(reply, err);
      throw err;
    }
    log.info({ subscriberId: subscriber.id }, 'subscription confirmed');
    return page(reply, 200, {
      title: '구독이 시작되었습니다',
      message: '감사합니다. 다음 보고서부터 메일로 보내 드립니다.',
      detail: '모든 메일 아래쪽의 수신 거부 링크로 언제든 구독을 끊을 수 있습니다.',
      form: null,
      link: null,
    });
  });

  app.get<{ Querystring: { token?: string } }>(PUBLIC_PATHS.unsubscribe, async (req, reply) => {
    let subscriber: Subscriber;
    try {
      ({ subscriber } = await subscriberFor(req.query.token, 'unsubscribe'));
    } catch (err) {
      return invalidLink(reply, err);
    }
    if (subscriber.status === 'unsubscribed') {
      return page(reply, 200, {
        title: '이미 수신 거부되었습니다',
        message: `${maskAddress(subscriber.address)} 주소로는 더 이상 메일을 보내지 않습니다.`,
        detail: null,
        form: null,
        link: { href: options.links.subscribeUrl, text: '다시 구독하기' },
      });
    }
    return page(reply, 200, {
      title: '수신 거부',
      message: `${maskAddress(subscriber.address)} 주소로 ISW 브리핑을 그만 받으시려면 아래 버튼을 눌러 주세요.`,
      detail: null,
      form: { action: req.url, button: '수신 거부', oneClick: true },
      link: null,
    });
  });

  app.post<{ Querystring: { token?: string }; Body: Body }>(PUBLIC_PATHS.unsubscribe, async (req, reply) => {
    let subscriber: Subscriber;
    try {
      ({ subscriber } = await subscriberFor(tokenOf(req), 'unsubscribe'));
    } catch (err) {
      return invalidLink(reply, err);
    }
    const { changed } = await options.subscribers.unsubscribe(subscriber.id, 'web');
    // RFC 8058 §3.1: the body is `List-Unsubscribe=One-Click`. Any POST with a valid token is
    // honoured (a person's button sends the same); whether it was a mail client's is only logged.
    const oneClick = req.body?.['List-Unsubscribe'] === 'One-Click';
    log.info({ subscriberId: subscriber.id, oneClick, changed }, 'unsubscribed');
    return page(reply, 200, {
      title: '수신 거부되었습니다',
      message: `${maskAddress(subscriber.address)} 주소로는 더 이상 ISW 브리핑을 보내지 않습니다.`,
      detail: null,
      form: null,
      link: { href: options.links.subscribeUrl, text: '다시 구독하기' },
    });
  });

  return Promise.resolve();
};

/**
 * The text fields of a small multipart/form-data body (RFC 7578): enough for RFC 8058's one field.
 * Files and nested multiparts are ignored.
 */
export function parseMultipartFields(body: string, contentType: string): Record<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  const out: Record<string, string> = {};
  if (boundary === undefined) return out;
  for (const part of body.split(`--${boundary}`)) {
    const split = part.search(/\r?\n\r?\n/);
    if (split < 0) continue;
    const head = part.slice(0, split);
    const name = /content-disposition:[^\n]*\bname="([^"]*)"/i.exec(head)?.[1];
    if (name === undefined || /\bfilename=/i.test(head)) continue;
    out[name] = part
      .slice(split)
      .replace(/^\r?\n\r?\n/, '')
      .replace(/\r?\n$/, '');
  }
  return out;
}

/**
 * A fastify server with only the public routes, for tests and for running them on their own. Not
 * listening: call `listen` or use `inject`.
 */
export async function buildPublicServer(options: PublicRoutesOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: MAX_FORM_BYTES });
  await app.register(publicRoutes, options);
  return app;
}

/**
 * The public routes with their options bound: what the admin server takes as
 * `providers.publicRoutes` and registers at its root.
 */
export function publicRoutesWith(options: PublicRoutesOptions): FastifyPluginAsync {
  return async (app) => {
    await app.register(publicRoutes, options);
  };
}
