/**
 * Single flight: concurrent callers asking for the same key share one running call instead of each
 * starting their own (one login, one JWKS fetch, one token introspection). The entry is removed when
 * the call settles, so the next caller after that starts afresh; results are not cached here.
 *
 * @module
 */

export interface SingleFlight<V> {
  /** Run `fn` for `key` unless a call for `key` is running; every caller gets that call's outcome. */
  run(key: string, fn: () => Promise<V>): Promise<V>;
  /** The running call for `key`, if any. */
  pending(key: string): Promise<V> | undefined;
}

/**
 * @example
 * const logins = singleFlight<Session>();
 * const s = await logins.run(`${tenant}|${user}`, () => vault.auth(user, password));
 */
export function singleFlight<V>(): SingleFlight<V> {
  const flights = new Map<string, Promise<V>>();
  return {
    run(key, fn) {
      const running = flights.get(key);
      if (running) return running;
      // Started on the next microtask so a synchronous throw settles the flight like any failure.
      const p: Promise<V> = Promise.resolve()
        .then(fn)
        .finally(() => {
          if (flights.get(key) === p) flights.delete(key);
        });
      flights.set(key, p);
      return p;
    },
    pending: (key) => flights.get(key),
  };
}
