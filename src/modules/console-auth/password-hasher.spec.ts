import { PasswordHasher } from 'src/modules/console-auth/password-hasher';

describe(PasswordHasher.name, () => {
  const hasher = new PasswordHasher();

  it('verifies the password it hashed, and nothing else', async () => {
    const stored = await hasher.hash('correct horse battery');
    expect(stored).toMatch(/^scrypt\$16384\$8\$5\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(await hasher.verify('correct horse battery', stored)).toBe(true);
    expect(await hasher.verify('correct horse batterY', stored)).toBe(false);
    expect(await hasher.verify('', stored)).toBe(false);
  });

  it('salts every hash: the same password never gives the same text', async () => {
    const [a, b] = await Promise.all([hasher.hash('same password'), hasher.hash('same password')]);
    expect(a).not.toBe(b);
  });

  it('treats Unicode forms of one password as the same password (NFC)', async () => {
    const stored = await hasher.hash('caf\u00e9-password');
    expect(await hasher.verify('cafe\u0301-password', stored)).toBe(true);
  });

  it('refuses stored hashes it did not write or whose parameters would cost too much', async () => {
    const stored = await hasher.hash('some password');
    const [, , r, p, salt, key] = stored.split('$');
    expect(await hasher.verify('some password', `bcrypt$${stored}`)).toBe(false);
    expect(await hasher.verify('some password', 'scrypt$16384$8$5$abc')).toBe(false);
    expect(await hasher.verify('some password', `scrypt$${2 ** 24}$${r}$${p}$${salt}$${key}`)).toBe(
      false,
    );
    expect(await hasher.verify('some password', `scrypt$16384$8$500$${salt}$${key}`)).toBe(false);
  });

  it('does the work of a check for a user that does not exist, and says no', async () => {
    expect(await hasher.verifyNobody('any password')).toBe(false);
  });
});
