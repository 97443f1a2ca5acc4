import type { IncomingMessage } from 'node:http';
import { BODY_RATE_GRACE_MS, BodyRateWatch } from 'src/modules/lifecycle/body-rate';

/** A request whose socket has read `bytesRead` bytes so far. */
function upload(): IncomingMessage & { socket: { bytesRead: number } } {
  return {
    headers: { 'content-length': '1000' },
    complete: false,
    socket: { bytesRead: 0, destroyed: false },
  } as unknown as IncomingMessage & { socket: { bytesRead: number } };
}

describe(BodyRateWatch.name, () => {
  // The sweep runs on an interval and reads the clock: fake ones make its decisions exact.
  let now = 0;
  beforeEach(() => {
    jest.useFakeTimers();
    now = 0;
  });
  afterEach(() => jest.useRealTimers());

  function watchAt(minBytesPerSec: number) {
    const cut = jest.fn();
    const watch = new BodyRateWatch(minBytesPerSec, cut, () => now);
    return { watch, cut };
  }

  function advance(ms: number): void {
    now += ms;
    jest.advanceTimersByTime(ms);
  }

  it('cuts a body slower than the minimum once the grace period has passed', () => {
    const { watch, cut } = watchAt(100);
    const slow = upload();
    const fast = upload();
    watch.watch(slow);
    watch.watch(fast);
    slow.socket.bytesRead = 50;
    fast.socket.bytesRead = 900;
    advance(BODY_RATE_GRACE_MS - 500);
    expect(cut).not.toHaveBeenCalled();
    advance(500);
    expect(cut.mock.calls).toEqual([[slow]]);
    watch.stop();
  });

  it('never cuts a body that has arrived', () => {
    const { watch, cut } = watchAt(100);
    const request = upload();
    watch.watch(request);
    watch.settle(request);
    advance(BODY_RATE_GRACE_MS * 2);
    expect(cut).not.toHaveBeenCalled();
    expect(watch.watching).toBe(0);
  });

  it('keeps one timer across requests and drops it once a sweep finds nothing to watch', () => {
    const { watch } = watchAt(100);
    for (let i = 0; i < 100; i++) {
      const request = upload();
      watch.watch(request);
      watch.settle(request);
    }
    expect(jest.getTimerCount()).toBe(1);
    advance(BODY_RATE_GRACE_MS);
    expect(jest.getTimerCount()).toBe(0);
  });
});
