/**
 * A piece the turn sent, with `id: <n>` on its LAST event. One piece can hold several SSE
 * events (a `/c1/messages` piece: ping, message_delta, message_stop); a client that holds
 * `Last-Event-ID: n` has then received the whole piece, so a reattach from n loses nothing
 * of it. (An id on its first event would let a client cut inside the piece skip the rest.)
 */
export function withIdOnLastEvent(piece: string, id: number): string {
  const body = piece.endsWith('\n\n') ? piece.slice(0, -2) : piece;
  const boundary = body.lastIndexOf('\n\n');
  const start = boundary < 0 ? 0 : boundary + 2;
  return `${piece.slice(0, start)}id: ${id}\n${piece.slice(start)}`;
}
