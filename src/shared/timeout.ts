/** What {@link within} resolves with when the time is up (a symbol: no value can be mistaken for it). */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * The promise's value, or {@link TIMED_OUT} once `ms` have passed, whichever comes first. The
 * timer is cleared as soon as the race is decided and never keeps the process up. The promise
 * itself is not cancelled (nothing in JavaScript can be): callers decide what a timeout means.
 */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => {
      resolve(TIMED_OUT);
    }, ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The promise's value, or null when it takes longer than `ms` (for reads whose value is never null). */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  const result = await within(promise, ms);
  return result === TIMED_OUT ? null : result;
}
