import { HttpAdapterHost } from '@nestjs/core';
import { systemClock } from 'src/common/time/clock';
import { loadConfig } from 'src/config/load-config';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { parseMetrics } from 'test/support/metrics';
import { sleep } from 'test/support/time';

function setUp(graceSecs: string) {
  const server = {
    listening: true,
    close: jest.fn(),
    closeIdleConnections: jest.fn(),
    closeAllConnections: jest.fn(),
  };
  const log = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
  const host = {
    httpAdapter: { getHttpServer: () => server, getInstance: () => ({ log }) },
  } as unknown as HttpAdapterHost;
  const metrics = new MetricsService();
  const config = loadConfig({ SHUTDOWN_GRACE_SECS: graceSecs });
  return { lifecycle: new LifecycleService(config, metrics, host), server, log, metrics };
}

/** How often the drain looks whether the work is over (POLL_MS in LifecycleService). */
const POLL_GRAIN_MS = 20;

describe(LifecycleService.name, () => {
  describe('on a fake clock', () => {
    // The drain polls with timers and reads the clock: fake ones make its deadlines exact.
    beforeEach(() => jest.useFakeTimers());
    afterEach(() => jest.useRealTimers());

    it('closes the listener and resolves as soon as nothing is in flight', async () => {
      const { lifecycle, server } = setUp('30');
      lifecycle.requestsInFlight = 1;
      const work = lifecycle.track('stream', jest.fn());
      const started = systemClock();
      let drainedAt: number | null = null;
      const drained = lifecycle.drain().then(() => (drainedAt = systemClock()));
      expect(lifecycle.isDraining).toBe(true);
      expect(server.close).toHaveBeenCalledTimes(1);
      await jest.advanceTimersByTimeAsync(100);
      expect(drainedAt).toBeNull();
      lifecycle.requestsInFlight = 0;
      work.done();
      await jest.advanceTimersByTimeAsync(POLL_GRAIN_MS);
      await drained;
      // Within one poll of going idle, nowhere near the 30 s grace period.
      expect(drainedAt! - started).toBeLessThanOrEqual(100 + POLL_GRAIN_MS);
      // Idle keep-alive connections are not cut during the drain (they get 503s), only at its end.
      expect(server.closeIdleConnections).not.toHaveBeenCalled();
      expect(server.closeAllConnections).toHaveBeenCalledTimes(1);
    });

    it('cuts tracked work at the deadline, then waits for it to finish within the grace period', async () => {
      const { lifecycle, metrics } = setUp('0.8');
      const cutAt: number[] = [];
      const stream = lifecycle.track('stream', () => {
        cutAt.push(systemClock());
        setTimeout(() => stream.done(), 50);
      });
      const finished = lifecycle.track('turn', jest.fn());
      finished.done();
      const started = systemClock();
      let drainedAt: number | null = null;
      const drained = lifecycle.drain().then(() => (drainedAt = systemClock()));
      await jest.advanceTimersByTimeAsync(800);
      await drained;
      // Grace 800 ms, finalisation reserve a quarter of it: cut at 600 ms, done 50 ms later.
      expect(cutAt).toEqual([started + 600]);
      expect(drainedAt! - started).toBeGreaterThanOrEqual(650);
      expect(drainedAt! - started).toBeLessThanOrEqual(650 + POLL_GRAIN_MS);
      expect(lifecycle.trackedCount).toBe(0);
      const scrape = parseMetrics(await metrics.registry.metrics());
      expect(scrape.value('parley_shutdown_cut_total', { kind: 'stream' })).toBe(1);
      expect(scrape.value('parley_shutdown_cut_total', { kind: 'turn' })).toBe(0);
    });

    it('closes the remaining connections when the grace period ends with requests still running', async () => {
      const { lifecycle, server, log } = setUp('0.4');
      lifecycle.requestsInFlight = 2;
      const stubborn = lifecycle.track('request', jest.fn());
      const started = systemClock();
      let drainedAt: number | null = null;
      const drained = lifecycle.drain().then(() => (drainedAt = systemClock()));
      await jest.advanceTimersByTimeAsync(399);
      expect(server.closeAllConnections).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(1);
      await drained;
      expect(drainedAt! - started).toBe(400);
      expect(server.closeAllConnections).toHaveBeenCalledTimes(1);
      expect(log.warn).toHaveBeenCalledWith(
        { requests_in_flight: 2, tracked: 1 },
        'shutdown: closing the connections still open',
      );
      stubborn.done();
    });
  });

  it('cuts at once work registered after the deadline passed', async () => {
    const { lifecycle } = setUp('0');
    lifecycle.requestsInFlight = 1;
    await lifecycle.drain();
    const onDeadline = jest.fn();
    lifecycle.track('stream', onDeadline);
    await sleep(10);
    expect(onDeadline).toHaveBeenCalledTimes(1);
  });

  it('is idempotent: every call (signal, app.close) gets the same drain', async () => {
    const { lifecycle, server } = setUp('1');
    const first = lifecycle.drain();
    expect(lifecycle.drain()).toBe(first);
    await lifecycle.beforeApplicationShutdown();
    expect(server.close).toHaveBeenCalledTimes(1);
  });

  it('survives an onDeadline callback that throws', async () => {
    const { lifecycle, log } = setUp('0.2');
    const work = lifecycle.track('stream', () => {
      work.done();
      throw new Error('boom');
    });
    await lifecycle.drain();
    expect(log.error).toHaveBeenCalledWith(
      expect.objectContaining({ kind: 'stream' }),
      'shutdown: onDeadline callback failed',
    );
  });
});

describe(shutdownError.name, () => {
  it('is a server_overloaded catalog error', () => {
    expect(shutdownError().toEnvelope().error).toMatchObject({
      type: 'upstream_error',
      code: 'server_overloaded',
      param: null,
    });
  });
});
