import { withIdOnLastEvent } from 'src/modules/conversations/reattach-event-id';

describe('withIdOnLastEvent', () => {
  it.each([
    ['data: {"a":1}\n\n', 'id: 4\ndata: {"a":1}\n\n'],
    [
      'event: ping\ndata: {}\n\nevent: message_delta\ndata: {}\n\nevent: message_stop\ndata: {}\n\n',
      'event: ping\ndata: {}\n\nevent: message_delta\ndata: {}\n\nid: 4\nevent: message_stop\ndata: {}\n\n',
    ],
    ['data: x\n\ndata: [DONE]\n\n', 'data: x\n\nid: 4\ndata: [DONE]\n\n'],
  ])('puts the id on the last event of %j', (piece, expected) => {
    expect(withIdOnLastEvent(piece, 4)).toBe(expected);
  });
});
