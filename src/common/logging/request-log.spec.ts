import { PinoNestLogger } from 'src/common/logging/logger';
import { bindToRequestLine } from 'src/common/logging/request-log';
import { capturedLogger } from 'test/support/captured-log';

describe('request log', () => {
  it("puts bindings on the request's later lines, its `request` line included, and on no other request's", () => {
    const { logger, lines } = capturedLogger();
    const served = logger.child({ reqId: 'req-a' });
    const other = logger.child({ reqId: 'req-b' });
    bindToRequestLine(served, { upstream: 'http://gpu-1:8000/v1', pick: 'least_loaded' });
    bindToRequestLine(served, { upstream: 'http://gpu-2:8000/v1', pick: 'no_figures' });
    served.info('request');
    other.info('request');
    expect(lines).toEqual([
      expect.objectContaining({
        reqId: 'req-a',
        msg: 'request',
        upstream: 'http://gpu-2:8000/v1',
        pick: 'no_figures',
      }),
      expect.not.objectContaining({ upstream: expect.anything() }),
    ]);
    expect(lines[1]).toMatchObject({ reqId: 'req-b', msg: 'request' });
  });

  it("writes Nest Logger lines (boot, timers, process-wide warnings) to the base logger, without a request's id", () => {
    const { logger, lines } = capturedLogger();
    const nest = new PinoNestLogger(logger);
    nest.warn('Redis does not answer: rate limits are per instance', 'RateLimit');
    nest.log('listening on :8080', 'bootstrap');
    nest.log('AppModule dependencies initialized', 'InstanceLoader');
    expect(lines).toEqual([
      { level: 40, time: expect.any(Number), context: 'RateLimit', msg: expect.any(String) },
      { level: 30, time: expect.any(Number), context: 'bootstrap', msg: 'listening on :8080' },
    ]);
  });
});
