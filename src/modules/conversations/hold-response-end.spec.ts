import { ServerResponse, IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { holdResponseEnd } from 'src/modules/conversations/hold-response-end';

describe('holdResponseEnd', () => {
  it('writes the held end only on release, once', () => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    const end = jest.fn();
    res.end = end as never;
    const release = holdResponseEnd(res);
    res.end('data: [DONE]\n\n');
    expect(end).not.toHaveBeenCalled();
    release();
    release();
    expect(end).toHaveBeenCalledTimes(1);
    expect(end).toHaveBeenCalledWith('data: [DONE]\n\n');
    expect(res.end).toBe(end);
  });

  it('restores end without calling it when nothing was held', () => {
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    const end = jest.fn();
    res.end = end as never;
    holdResponseEnd(res)();
    expect(end).not.toHaveBeenCalled();
  });
});
