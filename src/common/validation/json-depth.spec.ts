import { ApiError } from 'src/common/errors/api-error';
import { assertJsonDepth } from 'src/common/validation/json-depth';

function nest(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) {
    value = i % 2 ? { a: value } : [value];
  }
  return value;
}

describe(assertJsonDepth.name, () => {
  it('accepts ordinary bodies and nesting up to the limit', () => {
    expect(() =>
      assertJsonDepth({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    ).not.toThrow();
    expect(() => assertJsonDepth(nest(100))).not.toThrow();
    expect(() => assertJsonDepth('text')).not.toThrow();
  });

  it('refuses a body 10,000 levels deep without overflowing the stack', () => {
    const body = JSON.parse(`{"model":"m","extra":${'['.repeat(10_000)}${']'.repeat(10_000)}}`);
    let error: unknown;
    try {
      assertJsonDepth(body);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('invalid_field');
    expect((error as ApiError).param).toBe('extra[0]');
    expect((error as ApiError).message).toBe('extra[0] is nested deeper than 100 levels');
  });

  it('names the message in which the nesting is', () => {
    const body = {
      messages: [
        { role: 'user', content: 'x' },
        { role: 'user', content: nest(150) },
      ],
    };
    expect(() => assertJsonDepth(body)).toThrow(expect.objectContaining({ param: 'messages[1]' }));
  });
});
