import type { FastifyReply } from 'fastify';
import { Cancellation } from 'src/modules/proxy/upstream/cancellation';

export interface HangUpWatch {
  /** Aborted when the client closes the connection before the response was finished. */
  signal: Cancellation;
  /** Stops watching (call once the response is written). */
  dispose(): void;
}

/**
 * Watches a reply for a client hang-up (STYLE §8): `close` on `reply.raw` while
 * `writableFinished` is false. The request's own `close` is not used: it fires as soon as the
 * body has been read, while the client is still waiting.
 */
export function watchHangUp(reply: FastifyReply): HangUpWatch {
  const signal = new Cancellation();
  const raw = reply.raw;
  const onClose = () => {
    if (!raw.writableFinished) {
      signal.abort();
    }
  };
  // `close` is emitted once: `on` is `once` without its wrapper.
  raw.on('close', onClose);
  return { signal, dispose: () => raw.removeListener('close', onClose) };
}
