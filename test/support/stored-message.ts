import { StoredMessage } from 'src/modules/conversations/conversation.types';

/**
 * A stored message for unit tests: a completed one-token user message with no text, at
 * time 0, with `over` applied. Tests state only the fields they are about.
 */
export function storedMessage(over: Partial<StoredMessage> = {}): StoredMessage {
  return {
    id: 'm',
    treeId: 't',
    parentId: null,
    depth: 0,
    turnId: 'turn',
    role: 'user',
    parts: [],
    name: null,
    status: 'completed',
    finishReason: null,
    promptTokens: null,
    completionTokens: null,
    tokenEstimate: 1,
    model: null,
    errorCode: null,
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}
