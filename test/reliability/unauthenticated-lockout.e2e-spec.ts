import { once } from 'node:events';
import { connect, Socket } from 'node:net';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { startGateway, TestGateway } from 'test/support/start-gateway';
import { sleep } from 'test/support/time';

/**
 * Issue #22 item 3: anyone could lock everyone out without a key. 4,200 sockets trickling a
 * body at one byte per 2 s counted toward MAX_IN_FLIGHT and made every authenticated request
 * 503; 19,980 idle keep-alive sockets used up the file descriptors. Here, scaled to the test
 * machine: N slow sockets against MAX_IN_FLIGHT = N / 5, and idle sockets past the caps.
 */
const SLOW_SOCKETS = 1_000;

async function openSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  return socket;
}

/** Resolves once `socket` was closed by the other side, or false after `ms`. */
function closedWithin(socket: Socket, ms: number): Promise<boolean> {
  if (socket.destroyed || socket.readableEnded) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

describe('unauthenticated clients cannot lock key holders out (#22 item 3)', () => {
  let upstream: FakeUpstream;
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    upstream = await startFakeUpstream({ answer: 'ok' });
    gw = await startGateway({
      models: fakeModelCatalog(upstream.url),
      env: {
        MAX_IN_FLIGHT: String(SLOW_SOCKETS / 5),
        MAX_UNAUTHENTICATED_IN_FLIGHT: String(SLOW_SOCKETS / 5),
        SERVER_REQUEST_TIMEOUT_SECS: '60',
        MAX_CONNECTIONS_PER_ADDRESS: '0',
      },
    });
    port = Number(new URL(gw.url).port);
  });

  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it(`serves key holders at normal latency while ${SLOW_SOCKETS} keyless sockets trickle bodies, and cuts the trickles`, async () => {
    expect(
      (
        await gw.post('/v1/chat/completions', {
          model: 'fake',
          messages: [{ role: 'user', content: 'hi' }],
        })
      ).status,
    ).toBe(200);
    const sockets: Socket[] = [];
    for (let i = 0; i < SLOW_SOCKETS; i++) {
      const socket = await openSocket(port);
      socket.write(
        'POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{',
      );
      sockets.push(socket);
    }
    // One byte every 2 s on each, for at most 10 s.
    let isTrickling = true;
    const trickle = (async () => {
      for (let round = 0; round < 5 && isTrickling; round++) {
        await sleep(2_000);
        for (const socket of sockets) {
          if (!socket.destroyed) {
            socket.write(' ');
          }
        }
      }
    })();
    try {
      await sleep(300);
      const latencies: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) {
        const startedAt = performance.now();
        const res = await gw.post('/v1/chat/completions', {
          model: 'fake',
          messages: [{ role: 'user', content: `hi ${i}` }],
        });
        latencies.push(performance.now() - startedAt);
        statuses.push(res.status);
        await sleep(50);
      }
      expect(statuses).toEqual(Array(20).fill(200));
      latencies.sort((a, b) => a - b);
      console.log(
        `authenticated /v1 under ${SLOW_SOCKETS} trickling sockets: p50 ${latencies[10].toFixed(0)} ms, max ${latencies[19].toFixed(0)} ms`,
      );
      // The trickles are cut once their first 2 s show them slower than MIN_BODY_BYTES_PER_SEC.
      const closed = await Promise.all(sockets.map((s) => closedWithin(s, 6_000)));
      expect(closed.filter(Boolean).length).toBe(SLOW_SOCKETS);
    } finally {
      isTrickling = false;
      sockets.forEach((s) => s.destroy());
      await trickle;
    }
  }, 60_000);
});

describe('connection caps (#22 item 3)', () => {
  let gw: TestGateway;
  let port: number;

  beforeAll(async () => {
    gw = await startGateway({
      env: {
        MAX_CONNECTIONS: '120',
        MAX_CONNECTIONS_PER_ADDRESS: '100',
        SERVER_KEEPALIVE_TIMEOUT_SECS: '60',
      },
    });
    port = Number(new URL(gw.url).port);
  });

  afterAll(() => gw?.close());

  it('closes the longest-idle keep-alive sockets past the cap and keeps serving new clients', async () => {
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 150; i++) {
        const socket = await openSocket(port);
        socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n');
        await once(socket, 'data');
        sockets.push(socket);
      }
      await sleep(200);
      const open = sockets.filter((s) => !s.destroyed && !s.readableEnded);
      // 100 per address at most (the test's connections all come from 127.0.0.1), oldest closed.
      expect(open.length).toBeLessThanOrEqual(100);
      expect(open).toEqual(sockets.slice(sockets.length - open.length));
      const res = await fetch(`${gw.url}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      sockets.forEach((s) => s.destroy());
    }
  }, 30_000);
});
