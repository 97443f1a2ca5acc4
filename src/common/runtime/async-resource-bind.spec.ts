import { AsyncResource, executionAsyncId } from 'node:async_hooks';
import { installCheapAsyncResourceBind } from 'src/common/runtime/async-resource-bind';

describe('installCheapAsyncResourceBind', () => {
  beforeAll(() => installCheapAsyncResourceBind());

  it('runs a bound function in the resource scope with its arguments, this and length', () => {
    const resource = new AsyncResource('test');
    const seen: unknown[] = [];
    function target(this: unknown, a: number, b: number) {
      seen.push(executionAsyncId(), this, a + b);
      return a * b;
    }
    const bound = resource.bind(target);
    const owner = { bound };
    expect(owner.bound(3, 4)).toBe(12);
    expect(seen).toEqual([resource.asyncId(), owner, 7]);
    expect(bound.length).toBe(2);

    const bindWithThis = resource.bind as unknown as (
      fn: unknown,
      thisArg: unknown,
    ) => typeof target;
    const withThis = bindWithThis.call(resource, target, 'fixed');
    seen.length = 0;
    expect(withThis(2, 5)).toBe(10);
    expect(seen).toEqual([resource.asyncId(), 'fixed', 7]);
  });

  it('no longer defines the deprecated asyncResource accessor, and still rejects a non-function', () => {
    const bound = new AsyncResource('test').bind(() => 1);
    expect(Object.prototype.hasOwnProperty.call(bound, 'asyncResource')).toBe(false);
    expect(() => new AsyncResource('test').bind(42 as never)).toThrow(/must be of type function/);
  });
});
