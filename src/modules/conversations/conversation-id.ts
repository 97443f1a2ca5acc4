/**
 * A conversation has one id space: the `/c1` id (a UUID) and the Conversations API's
 * `conv_<uuid>` name the same conversation, and every route that takes a conversation id
 * takes either spelling.
 */

const CONVERSATION_PREFIX = 'conv_';
/** A stored id: a UUID in its canonical lower-case form. */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The Conversations API spelling of a stored conversation id. */
export const conversationIdOf = (id: string) => `${CONVERSATION_PREFIX}${id}`;

/**
 * `conv_<uuid>` or the bare `/c1` id → the stored conversation id; null for anything else
 * (answered as "not found": existence is not disclosed).
 */
export function parseConversationId(id: unknown): string | null {
  if (typeof id !== 'string') {
    return null;
  }
  const uuid = id.startsWith(CONVERSATION_PREFIX) ? id.slice(CONVERSATION_PREFIX.length) : id;
  return UUID.test(uuid) ? uuid : null;
}
