import { PinoNestLogger } from 'src/common/logging/logger';
import { requestLog, runWithRequestLog } from 'src/common/logging/request-log';
import { capturedLogger } from 'test/support/captured-log';

describe('request log scope', () => {
  it("gives a service's Nest logger line the request id, across awaits, and none outside", async () => {
    const { logger, lines } = capturedLogger();
    const nest = new PinoNestLogger(logger);
    const request = logger.child({ reqId: 'req-42' });
    await runWithRequestLog(request, async () => {
      await new Promise((resolve) => setImmediate(resolve));
      nest.warn('storage slow', 'conversations');
      expect(requestLog()).toBe(request);
    });
    nest.log('listening', 'bootstrap');
    expect(requestLog()).toBeUndefined();
    expect(lines).toEqual([
      expect.objectContaining({ reqId: 'req-42', context: 'conversations', msg: 'storage slow' }),
      expect.not.objectContaining({ reqId: expect.anything() }),
    ]);
    expect(lines[1]).toMatchObject({ context: 'bootstrap', msg: 'listening' });
  });

  it('keeps two concurrent requests apart', async () => {
    const { logger, lines } = capturedLogger();
    const nest = new PinoNestLogger(logger);
    let releaseA = () => {};
    const aMayFinish = new Promise<void>((resolve) => (releaseA = resolve));
    const serve = (id: string, waitFor: Promise<void>) =>
      runWithRequestLog(logger.child({ reqId: id }), async () => {
        await waitFor;
        nest.warn(`done ${id}`, 'proxy');
      });
    // `a` starts first and finishes last: its continuation must still log as `a`.
    const a = serve('a', aMayFinish);
    await serve('b', Promise.resolve());
    releaseA();
    await a;
    expect(lines.map((l) => [l.reqId, l.msg])).toEqual([
      ['b', 'done b'],
      ['a', 'done a'],
    ]);
  });
});
