import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openRawClient } from 'test/support/raw-client';
import { spawnGateway, SpawnedGateway } from 'test/support/spawn-gateway';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A POST whose body is incomplete: in flight until `finish` is written. */
const HELD_POST =
  'POST /errors HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":';

describe('SIGTERM on a real gateway process', () => {
  let dir: string;
  let gw: SpawnedGateway | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
  });
  afterEach(() => {
    if (gw && gw.child.exitCode === null) {
      gw.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops accepting, lets in-flight requests finish, cuts the rest at the grace period, exits 0', async () => {
    const graceMs = 4_000;
    gw = await spawnGateway({
      DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}`,
      SHUTDOWN_GRACE_SECS: String(graceMs / 1000),
    });
    const finishing = await openRawClient(gw.port);
    const stuck = await openRawClient(gw.port);
    await finishing.write(HELD_POST);
    await stuck.write(HELD_POST);
    await sleep(200);

    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    await sleep(300);
    // The listener is closed: a new connection is refused.
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
    expect(gw.child.exitCode).toBeNull();

    // A request in flight completes normally after the signal.
    await finishing.write('1}');
    await finishing.waitFor(/"code":"route_not_found"/);
    expect(finishing.received()).toMatch(/^HTTP\/1\.1 404 /);

    // One that never completes is cut when the grace period ends, and the process exits 0.
    const exit = await gw.exited;
    const exitedAfter = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    const stuckClosedAfter = (await stuck.closed) - signalledAt;
    expect(stuckClosedAfter).toBeGreaterThanOrEqual(graceMs - 300);
    expect(exitedAfter).toBeLessThan(graceMs + 2_000);
    expect(stuck.received()).toBe('');

    const output = gw.output();
    expect(output).toContain('"msg":"shutdown: draining"');
    expect(output).toContain('"msg":"shutdown: closing the connections still open"');
    expect(output).toContain('"msg":"shutdown complete"');
  });

  it('exits 0 at once when nothing is in flight', async () => {
    gw = await spawnGateway({ DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}` });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const signalledAt = Date.now();
    gw.kill('SIGINT');
    expect(await gw.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - signalledAt).toBeLessThan(3_000);
  });
});
