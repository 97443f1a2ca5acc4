import { ExecutionContext } from '@nestjs/common';
import { AccessGuard, runInOrder } from 'src/modules/access/request-guard-chain';

const context = {} as ExecutionContext;

/** A guard that records its call and answers `answer` (a value or a settled promise). */
function guard(name: string, calls: string[], answer: boolean | Promise<boolean>): AccessGuard {
  return {
    canActivate: () => {
      calls.push(name);
      return answer;
    },
  };
}

describe('runInOrder', () => {
  it('runs every guard in order and stays synchronous when they all answer synchronously', () => {
    const calls: string[] = [];
    const result = runInOrder(
      [guard('auth', calls, true), guard('rate', calls, true), guard('quota', calls, true)],
      context,
      0,
    );
    expect(result).toBe(true);
    expect(calls).toEqual(['auth', 'rate', 'quota']);
  });

  it('continues after an asynchronous guard, in order', async () => {
    const calls: string[] = [];
    const result = runInOrder(
      [
        guard('auth', calls, Promise.resolve(true)),
        guard('rate', calls, true),
        guard('quota', calls, Promise.resolve(true)),
      ],
      context,
      0,
    );
    expect(result).toBeInstanceOf(Promise);
    await expect(result).resolves.toBe(true);
    expect(calls).toEqual(['auth', 'rate', 'quota']);
  });

  it('stops at a refusal: the guards after it never run', async () => {
    const calls: string[] = [];
    await expect(
      runInOrder(
        [guard('auth', calls, Promise.resolve(false)), guard('rate', calls, true)],
        context,
        0,
      ),
    ).resolves.toBe(false);
    expect(calls).toEqual(['auth']);
  });

  it('lets a thrown error (a catalog refusal) propagate without running later guards', async () => {
    const calls: string[] = [];
    const refused = new Error('rate_limited');
    const throwing: AccessGuard = {
      canActivate: () => {
        calls.push('rate');
        throw refused;
      },
    };
    expect(() =>
      runInOrder([guard('auth', calls, true), throwing, guard('quota', calls, true)], context, 0),
    ).toThrow(refused);
    const rejected = Promise.reject(refused);
    await expect(
      runInOrder([guard('auth', calls, rejected), guard('quota', calls, true)], context, 0),
    ).rejects.toBe(refused);
    expect(calls).toEqual(['auth', 'rate', 'auth']);
  });
});
