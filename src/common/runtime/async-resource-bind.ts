import { AsyncResource } from 'node:async_hooks';

/** Node's `bind(fn, thisArg)`; @types/node declares only `bind(fn)`. */
type Bind = (
  this: AsyncResource,
  fn: (...args: unknown[]) => unknown,
  thisArg?: unknown,
) => unknown;

/**
 * Makes `AsyncResource#bind` cheap on Node versions where it defines the deprecated
 * `asyncResource` accessor (DEP0172) on every bound function.
 *
 * Fastify binds one `AsyncResource` per request body it parses (`ContentTypeParser.run`), and
 * on Node 20 each of those calls builds two `util.deprecate` wrappers: 7–8 % of the gateway's
 * CPU on `/v1` JSON in the profile (docs/notes/bench.md). The replacement keeps what `bind`
 * promises — the function runs in the resource's async scope, with `thisArg` or the caller's
 * `this`, and keeps its `length` — and drops only the deprecated accessor, which nothing in
 * Parley or its dependencies reads. Installed once at startup, before Fastify serves a request.
 */
export function installCheapAsyncResourceBind(): void {
  const probe = new AsyncResource('parley.probe').bind(() => undefined);
  if (!Object.prototype.hasOwnProperty.call(probe, 'asyncResource')) {
    return; // this Node version's bind is already cheap (or already replaced)
  }
  const prototype = AsyncResource.prototype as unknown as { bind: Bind };
  const original = prototype.bind;
  prototype.bind = function cheapBind(fn, thisArg) {
    if (typeof fn !== 'function') {
      return original.call(this, fn, thisArg); // throws Node's own ERR_INVALID_ARG_TYPE
    }
    const run = (self: unknown, args: unknown[]) => this.runInAsyncScope(fn, self, ...args);
    const bound =
      thisArg === undefined
        ? function (this: unknown, ...args: unknown[]) {
            return run(this, args);
          }
        : (...args: unknown[]) => run(thisArg, args);
    Object.defineProperty(bound, 'length', { configurable: true, value: fn.length });
    return bound;
  };
}
