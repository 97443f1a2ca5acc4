import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { sleep } from 'test/support/time';

/** What the proxy does with connections accepted from now on. */
export type FaultMode =
  /** Forward bytes both ways, untouched. */
  | { kind: 'pass' }
  /** Nothing listens on the port: a connect is refused (ECONNREFUSED). */
  | { kind: 'refuse' }
  /** Accept the connection, swallow the request, never connect onward, never answer. */
  | { kind: 'blackhole' }
  /** Forward, then reset both sides once `afterBytes` of the answer went back to the client. */
  | { kind: 'reset'; afterBytes: number }
  /** Forward every chunk, in both directions, `ms` late. */
  | { kind: 'delay'; ms: number };

export interface FaultProxy {
  /** Base URL with /v1, for a model catalog entry. */
  url: string;
  port: number;
  /** Switches mode and drops every open connection (the pool must not reuse a healthy one). */
  setMode(mode: FaultMode): Promise<void>;
  /** Connections accepted from the client side since the start. */
  accepted(): number;
  /** Connections open right now on the client side and to the upstream. */
  open(): { client: number; upstream: number };
  close(): Promise<void>;
}

/**
 * A TCP proxy between the gateway and a fake upstream that injects transport faults the
 * upstream itself cannot produce: refused connects, connections that swallow everything,
 * resets at a byte position, latency. Counts what it accepted and what is still open, so tests
 * can check retries and leaks.
 */
export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  let mode: FaultMode = { kind: 'pass' };
  let accepted = 0;
  const clientSockets = new Set<Socket>();
  const upstreamSockets = new Set<Socket>();
  const track = (set: Set<Socket>, socket: Socket) => {
    set.add(socket);
    socket.on('close', () => set.delete(socket));
    socket.on('error', () => undefined);
  };

  const onConnection = (client: Socket) => {
    accepted++;
    track(clientSockets, client);
    const current = mode;
    if (current.kind === 'blackhole') {
      client.resume();
      return;
    }
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    track(upstreamSockets, upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    if (current.kind === 'pass') {
      client.pipe(upstream);
      upstream.pipe(client);
      return;
    }
    if (current.kind === 'delay') {
      // Chunks keep their order: each waits for the previous one's delay to end.
      const delayed = (from: Socket, to: Socket) => {
        let chain = Promise.resolve();
        from.on('data', (chunk: Buffer) => {
          chain = chain.then(async () => {
            await sleep(current.ms);
            if (!to.destroyed) {
              to.write(chunk);
            }
          });
        });
        from.on('end', () => void chain.then(() => to.end()));
      };
      delayed(client, upstream);
      delayed(upstream, client);
      return;
    }
    if (current.kind === 'reset') {
      client.pipe(upstream);
      let sent = 0;
      upstream.on('data', (chunk: Buffer) => {
        const room = current.afterBytes - sent;
        if (room > 0) {
          client.write(chunk.subarray(0, room));
          sent += Math.min(room, chunk.length);
        }
        if (sent >= current.afterBytes) {
          // Let the bytes reach the wire, then RST: what a crashing or rebooting peer looks like.
          setTimeout(() => {
            client.resetAndDestroy();
            upstream.resetAndDestroy();
          }, 20);
        }
      });
    }
  };

  let server: Server = createServer(onConnection);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    setMode: async (next) => {
      mode = next;
      // A new fault applies to every connection: kept-alive ones from the previous mode go.
      for (const socket of [...clientSockets, ...upstreamSockets]) {
        socket.destroy();
      }
      await sleep(50);
      if (next.kind === 'refuse' && listening) {
        listening = false;
        await new Promise<void>((resolve) => server.close(() => resolve()));
      } else if (next.kind !== 'refuse' && !listening) {
        server = createServer(onConnection);
        server.listen(port, '127.0.0.1');
        await once(server, 'listening');
        listening = true;
      }
    },
    accepted: () => accepted,
    open: () => ({ client: clientSockets.size, upstream: upstreamSockets.size }),
    close: async () => {
      for (const socket of [...clientSockets, ...upstreamSockets]) {
        socket.destroy();
      }
      if (listening) {
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
    },
  };
}

export interface BlackHoleListener {
  url: string;
  close(): Promise<void>;
}

/**
 * A port where a TCP connect never completes: a listener in a stopped child process whose
 * accept queue (backlog 1) is already full, so the kernel drops further SYNs and the connecting
 * side waits until its own connect timeout. No route to a foreign address is needed.
 */
export async function startBlackHoleListener(): Promise<BlackHoleListener> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      "require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { console.log(this.address().port) })",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(String(data).trim());
  child.kill('SIGSTOP');
  // Fill the accept queue; the kernel completes these handshakes itself.
  const fillers: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    fillers.push(socket);
    await sleep(30);
  }
  return {
    url: `http://127.0.0.1:${port}/v1`,
    close: async () => {
      fillers.forEach((s) => s.destroy());
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => undefined);
    },
  };
}
