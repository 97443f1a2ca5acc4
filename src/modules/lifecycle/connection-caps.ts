import type { Server } from 'node:http';
import type { Socket } from 'node:net';

const kBusy = Symbol('parley.requestsOnSocket');
const kAddress = Symbol('parley.peerAddress');

type TrackedSocket = Socket & { [kBusy]?: number; [kAddress]?: string };

/** What a cap did, for `parley_client_errors_total`. */
export type ConnectionCut = 'idle_closed' | 'connection_refused';

/**
 * Caps open client connections, in total (MAX_CONNECTIONS) and per peer address
 * (MAX_CONNECTIONS_PER_ADDRESS, 0 = none), so that idle keep-alive sockets cannot use up the
 * process's file descriptors (#22 item 3: 19,980 of them made new clients time out).
 *
 * A connection is idle when no request is in flight on it (a kept-alive socket between two
 * requests, or a new one that has not sent its headers yet). At the cap, a new connection first
 * makes room by closing the longest-idle connection (of the same address for the per-address
 * cap); only when every connection is busy is the new one closed at once. Busy connections are
 * never cut here: their requests are bounded by the server timeouts and the body-rate check.
 */
export class ConnectionCaps {
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  /** Idle sockets, longest idle first (a Map keeps insertion order). */
  private readonly idle = new Map<TrackedSocket, true>();

  constructor(
    private readonly maxConnections: number,
    private readonly maxPerAddress: number,
    private readonly onCut: (what: ConnectionCut) => void = () => undefined,
  ) {}

  attach(server: Server): void {
    server.on('connection', (socket: Socket) => this.accept(socket));
  }

  /** Open connections now. */
  get size(): number {
    return this.open;
  }

  /** A request started on `socket` (the request hooks call it first thing). */
  busy(socket: Socket): void {
    const s = socket as TrackedSocket;
    s[kBusy] = (s[kBusy] ?? 0) + 1;
    this.idle.delete(s);
  }

  /** A request on `socket` ended; the socket is idle again when none is left. */
  done(socket: Socket): void {
    const s = socket as TrackedSocket;
    s[kBusy] = Math.max(0, (s[kBusy] ?? 1) - 1);
    if (s[kBusy] === 0 && !s.destroyed && s[kAddress] !== undefined) {
      this.idle.set(s, true);
    }
  }

  private accept(socket: TrackedSocket): void {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.perAddress.get(address) ?? 0;
    if (this.maxPerAddress > 0 && fromAddress >= this.maxPerAddress) {
      if (!this.closeIdle(address)) {
        this.refuse(socket);
        return;
      }
    }
    if (this.open >= this.maxConnections && !this.closeIdle(null)) {
      this.refuse(socket);
      return;
    }
    socket[kAddress] = address;
    socket[kBusy] = 0;
    this.open++;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
    this.idle.set(socket, true);
    socket.once('close', () => this.release(socket, address));
  }

  /** Closes the longest-idle connection (of `address`, when given); false when there is none. */
  private closeIdle(address: string | null): boolean {
    for (const socket of this.idle.keys()) {
      if (address === null || socket[kAddress] === address) {
        this.idle.delete(socket);
        // The close event releases its count; counted now so the new connection fits at once.
        this.release(socket, socket[kAddress] ?? '');
        socket.destroy();
        this.onCut('idle_closed');
        return true;
      }
    }
    return false;
  }

  private release(socket: TrackedSocket, address: string): void {
    if (socket[kAddress] === undefined) {
      return;
    }
    socket[kAddress] = undefined;
    this.idle.delete(socket);
    this.open--;
    const left = (this.perAddress.get(address) ?? 1) - 1;
    if (left > 0) {
      this.perAddress.set(address, left);
    } else {
      this.perAddress.delete(address);
    }
  }

  private refuse(socket: Socket): void {
    this.onCut('connection_refused');
    socket.destroy();
  }
}
