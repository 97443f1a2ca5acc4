import { LastUsedRecorder } from 'src/modules/auth/last-used-recorder';

describe(LastUsedRecorder.name, () => {
  let now = 0;
  let writer: { touchLastUsed: jest.Mock };
  let errors: unknown[];
  let recorder: LastUsedRecorder;

  beforeEach(() => {
    now = 1_000_000;
    writer = { touchLastUsed: jest.fn().mockResolvedValue(undefined) };
    errors = [];
    recorder = new LastUsedRecorder(
      writer,
      () => now,
      (e) => errors.push(e),
    );
  });

  it('does not write on the request path', () => {
    recorder.touch('k1');
    expect(writer.touchLastUsed).not.toHaveBeenCalled();
    expect(recorder.pendingCount).toBe(1);
  });

  it('writes each key at most once a minute, in one batch per flush', async () => {
    recorder.touch('k1');
    recorder.touch('k2');
    recorder.touch('k1');
    await recorder.flush();
    expect(writer.touchLastUsed.mock.calls).toEqual([[['k1', 'k2'], now]]);

    now += 30_000;
    recorder.touch('k1');
    await recorder.flush();
    expect(writer.touchLastUsed).toHaveBeenCalledTimes(1);

    now += 30_000;
    recorder.touch('k1');
    await recorder.flush();
    expect(writer.touchLastUsed.mock.calls[1]).toEqual([['k1'], now]);
  });

  it('does nothing when no key was used', async () => {
    await recorder.flush();
    expect(writer.touchLastUsed).not.toHaveBeenCalled();
  });

  it('reports a failed write instead of throwing', async () => {
    writer.touchLastUsed.mockRejectedValueOnce(new Error('disk full'));
    recorder.touch('k1');
    await expect(recorder.flush()).resolves.toBeUndefined();
    expect(errors).toEqual([new Error('disk full')]);
  });
});
