import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import {
  BooleanField,
  EnumField,
  ImmutableField,
  NumberField,
  ObjectField,
  QueryIntegerField,
  Required,
  StringArrayField,
  StringField,
} from 'src/common/validation/fields';
import { validationExceptionFactory } from 'src/common/validation/validation-exception.factory';

/** Validates `plain` as `cls` like the global pipe: the first error as {code, message, param}. */
async function firstError(cls: new () => object, plain: object) {
  const errors = await validate(plainToInstance(cls, plain), {
    whitelist: true,
    forbidUnknownValues: true,
  });
  if (errors.length === 0) {
    return null;
  }
  const error = validationExceptionFactory(errors);
  return { code: error.code, message: error.message, param: error.param };
}

const missing = (param: string, message: string) => ({ code: 'missing_field', message, param });
const invalid = (param: string, message: string) => ({ code: 'invalid_field', message, param });

describe('Required', () => {
  class Dto {
    @Required() name: unknown;
  }
  it('reports an absent or null field as missing', async () => {
    expect(await firstError(Dto, {})).toEqual(missing('name', 'name is required'));
    expect(await firstError(Dto, { name: null })).toEqual(missing('name', 'name is required'));
    expect(await firstError(Dto, { name: 0 })).toBeNull();
  });
});

describe('StringField', () => {
  class Dto {
    @StringField({ required: true, maxLength: 5 }) name: string;
    @StringField({
      maxLength: 10,
      minLength: 3,
      typeMessage: '{field} must be a non-empty string',
      pattern: { regex: /^[a-z]+$/, message: '{field} must be lowercase' },
    })
    key?: string;
  }
  it.each([
    [{}, missing('name', 'name is required')],
    [{ name: null }, missing('name', 'name is required')],
    [{ name: 5 }, invalid('name', 'name must be a string')],
    [{ name: '' }, invalid('name', 'name must not be empty')],
    [{ name: '   ' }, invalid('name', 'name must not be empty')],
    [{ name: 'abcdef' }, invalid('name', 'name must be at most 5 characters')],
    [{ name: 'ok', key: '' }, invalid('key', 'key must be a non-empty string')],
    [{ name: 'ok', key: 7 }, invalid('key', 'key must be a non-empty string')],
    [{ name: 'ok', key: null }, invalid('key', 'key must be a non-empty string')],
    [{ name: 'ok', key: 'ab' }, invalid('key', 'key must be at least 3 characters')],
    [{ name: 'ok', key: 'ABC' }, invalid('key', 'key must be lowercase')],
  ])('refuses %j', async (plain, expected) => {
    expect(await firstError(Dto, plain)).toEqual(expected);
  });

  it('counts characters, not UTF-16 units', async () => {
    expect(await firstError(Dto, { name: '😀😀😀😀😀' })).toBeNull();
  });
});

describe('BooleanField', () => {
  class Dto {
    @BooleanField() is_active?: boolean;
  }
  it('accepts booleans and refuses anything else, null included', async () => {
    expect(await firstError(Dto, { is_active: false })).toBeNull();
    expect(await firstError(Dto, {})).toBeNull();
    for (const value of ['true', 1, null]) {
      expect(await firstError(Dto, { is_active: value })).toEqual(
        invalid('is_active', 'is_active must be a boolean'),
      );
    }
  });
});

describe('EnumField', () => {
  class Dto {
    @EnumField(['user', 'service']) role?: string;
  }
  it('lists the allowed values', async () => {
    expect(await firstError(Dto, { role: 'service' })).toBeNull();
    expect(await firstError(Dto, { role: 'admin' })).toEqual(
      invalid('role', 'role must be one of: user, service'),
    );
  });
});

describe('NumberField', () => {
  class Dto {
    @NumberField({ min: 0, max: 10 }) rate?: number;
    @NumberField({ min: 1, max: 5, integer: true, label: 'limits.burst' }) burst?: number;
  }
  it('checks type, range and integrality with the range in the message', async () => {
    expect(await firstError(Dto, { rate: 0.5, burst: 5 })).toBeNull();
    expect(await firstError(Dto, { rate: 11 })).toEqual(
      invalid('rate', 'rate must be a number between 0 and 10'),
    );
    expect(await firstError(Dto, { rate: '1' })).toEqual(
      invalid('rate', 'rate must be a number between 0 and 10'),
    );
    expect(await firstError(Dto, { burst: 1.5 })).toEqual(
      invalid('burst', 'limits.burst must be an integer between 1 and 5'),
    );
  });
});

describe('QueryIntegerField', () => {
  class Query {
    @QueryIntegerField({ min: 1, max: 100 }) limit?: number;
  }
  it('converts digits and refuses anything else', async () => {
    expect(await firstError(Query, { limit: '100' })).toBeNull();
    expect(plainToInstance(Query, { limit: '7' }).limit).toBe(7);
    for (const limit of ['0', '101', 'abc', '1.5', ['1', '2']]) {
      expect(await firstError(Query, { limit })).toEqual(
        invalid('limit', 'limit must be an integer between 1 and 100'),
      );
    }
  });
});

describe('StringArrayField', () => {
  class Dto {
    @StringArrayField({
      nullable: true,
      maxItems: 2,
      maxItemLength: 3,
      noun: 'an array of aliases',
      emptyMessage: '{field} must not be empty',
    })
    models?: string[] | null;
  }
  it.each([
    [{ models: 'a' }, 'models must be an array of aliases, or null'],
    [{ models: ['a', 1] }, 'models must be an array of aliases, or null'],
    [{ models: ['a', ' '] }, 'models must be an array of aliases, or null'],
    [{ models: [] }, 'models must not be empty'],
    [{ models: ['a', 'b', 'c'] }, 'models must have at most 2 entries'],
    [{ models: ['abcd'] }, 'models entries must be at most 3 characters'],
  ])('refuses %j', async (plain, message) => {
    expect(await firstError(Dto, plain)).toEqual(invalid('models', message));
  });
  it('accepts null and a valid list', async () => {
    expect(await firstError(Dto, { models: null })).toBeNull();
    expect(await firstError(Dto, { models: ['a', 'b'] })).toBeNull();
  });
});

describe('ObjectField', () => {
  class Limits {
    @NumberField({ required: true, min: 1, max: 9, label: 'limits.burst' }) burst: number;
  }
  class Dto {
    @ObjectField(() => Limits, { nullable: true }) limits?: Limits | null;
  }
  it('validates the nested object with nested paths', async () => {
    expect(await firstError(Dto, { limits: { burst: 3 } })).toBeNull();
    expect(await firstError(Dto, { limits: null })).toBeNull();
    expect(await firstError(Dto, { limits: {} })).toEqual(
      missing('limits.burst', 'limits.burst is required'),
    );
    expect(await firstError(Dto, { limits: { burst: 10 } })).toEqual(
      invalid('limits.burst', 'limits.burst must be a number between 1 and 9'),
    );
  });
  it.each(['x', 3, [1], true])('refuses %j with one message', async (limits) => {
    expect(await firstError(Dto, { limits })).toEqual(
      invalid('limits', 'limits must be an object or null'),
    );
  });
});

describe('ImmutableField', () => {
  class Dto {
    @StringField({ maxLength: 9 }) name?: string;
    @ImmutableField('create a new one') user_id?: never;
  }
  it('refuses the field whenever it is present', async () => {
    expect(await firstError(Dto, { name: 'a' })).toBeNull();
    for (const user_id of ['bob', null]) {
      expect(await firstError(Dto, { user_id })).toEqual(
        invalid('user_id', 'user_id cannot be changed: create a new one'),
      );
    }
  });
});
