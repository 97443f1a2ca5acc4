import { clientHost, firstKeyBanner } from 'src/modules/auth/first-key-banner';

const input = {
  key: 'pk-abc123',
  keyId: 'key-id-1',
  userId: 'default',
  host: '127.0.0.1',
  port: 8080,
  model: 'echo',
  rateLimit: { perSecond: 1, burst: 30 },
};

describe(firstKeyBanner.name, () => {
  it('frames every line at one width', () => {
    const lines = firstKeyBanner(input).split('\n');
    const widths = new Set(lines.map((l) => [...l].length));
    expect(widths.size).toBe(1);
    expect(lines[0]).toMatch(/^┌─+┐$/);
    expect(lines.at(-1)).toMatch(/^└─+┘$/);
    expect(lines.slice(1, -1).every((l) => l.startsWith('│ ') && l.endsWith(' │'))).toBe(true);
  });

  it('shows the key, a curl line that uses it with a catalog model, and the rate limit', () => {
    const text = firstKeyBanner({ ...input, port: 9000, rateLimit: { perSecond: 2, burst: 40 } });
    expect(text).toContain('API key: pk-abc123');
    expect(text).toContain('curl http://127.0.0.1:9000/v1/chat/completions \\');
    expect(text).toContain('-H "Authorization: Bearer pk-abc123"');
    expect(text).toContain(`-d '{"model":"echo","messages":[{"role":"user","content":"Hello"}]}'`);
    expect(text).toContain('Rate limit per key: 2/s, burst 40');
    expect(text).toContain('curl -X PATCH http://127.0.0.1:9000/api/keys/key-id-1');
  });

  it('points curl at loopback when the gateway listens on every address', () => {
    expect(clientHost('0.0.0.0')).toBe('127.0.0.1');
    expect(clientHost('::')).toBe('[::1]');
    expect(clientHost('::1')).toBe('[::1]');
    expect(clientHost('gateway.internal')).toBe('gateway.internal');
  });
});
