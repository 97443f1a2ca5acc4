import { ConfigError, loadConfig } from 'src/config/load-config';

describe(loadConfig.name, () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080, maxBodyBytes: 33554432 });
    expect(config.db.url).toBe('sqlite:./data/parley.sqlite');
    expect(config.limits).toEqual({ perSecond: 1, burst: 30 });
    expect(config.upstream.totalTimeoutMs).toBe(600_000);
    expect(config.models.file).toBeNull();
  });

  it('names each bad variable on its own line with what was wrong', () => {
    const attempt = () =>
      loadConfig({ PORT: '80a', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://secret@x' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const problems = (error as ConfigError).problems;
      expect(problems).toEqual([
        'PORT: must be an integer 0-65535, got "80a"',
        expect.stringMatching(/^DATABASE_URL: must be sqlite:<path> or postgres:/),
        expect.stringMatching(/^LOG_LEVEL: must be one of fatal, error/),
      ]);
      expect(problems.join('\n')).not.toContain('secret');
    }
  });

  it('accepts relative and absolute sqlite paths and postgres URLs', () => {
    for (const url of [
      'sqlite:./x.sqlite',
      'sqlite:/var/lib/parley/db.sqlite',
      'postgres://u@h/db',
    ]) {
      expect(loadConfig({ DATABASE_URL: url }).db.url).toBe(url);
    }
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('refuses a header timeout longer than the whole-request timeout', () => {
    expect(() =>
      loadConfig({ SERVER_HEADERS_TIMEOUT_SECS: '30', SERVER_REQUEST_TIMEOUT_SECS: '20' }),
    ).toThrow(
      'SERVER_HEADERS_TIMEOUT_SECS: must not exceed SERVER_REQUEST_TIMEOUT_SECS (20), got 30',
    );
  });

  it('reads TRUST_PROXY as addresses, CIDR ranges and proxy-addr names, nothing else', () => {
    expect(loadConfig({}).http.trustProxy).toBeNull();
    expect(
      loadConfig({ TRUST_PROXY: '10.0.0.1, 172.16.0.0/12,fd00::/8,loopback' }).http.trustProxy,
    ).toBe('10.0.0.1,172.16.0.0/12,fd00::/8,loopback');
    for (const bad of ['true', '*', '10.0.0.0/33', 'example.com', '10.0.0.1/8/1', '::1/129']) {
      expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/^TRUST_PROXY: must be IP addresses/);
    }
  });
});
