import {
  ownEntries,
  setAsidePrototypeMemberKeys,
} from 'src/common/validation/prototype-member-keys';

describe('prototype member keys', () => {
  it('gives back string-valued constructor/prototype keys that were deleted after being set aside', () => {
    const metadata: Record<string, unknown> = { constructor: 'c', prototype: 'p', other: 'o' };
    const body = { metadata, list: [{ constructor: 'in a list' }] };
    setAsidePrototypeMemberKeys(body);
    // What Nest's ValidationPipe does next.
    Reflect.deleteProperty(metadata, 'constructor');
    Reflect.deleteProperty(metadata, 'prototype');
    const entries = ownEntries(metadata);
    expect(Object.getPrototypeOf(entries)).toBeNull();
    expect({ ...entries }).toEqual({ constructor: 'c', prototype: 'p', other: 'o' });
    expect({ ...ownEntries(body.list[0]) }).toEqual({ constructor: 'in a list' });
  });

  it('sets aside nothing that is not a string', () => {
    const metadata: Record<string, unknown> = { constructor: { prototype: { admin: true } } };
    setAsidePrototypeMemberKeys({ metadata });
    Reflect.deleteProperty(metadata, 'constructor');
    expect({ ...ownEntries(metadata) }).toEqual({});
  });
});
