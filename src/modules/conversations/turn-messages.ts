import { randomUUID } from 'node:crypto';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { NewMessage, StoredMessage } from 'src/modules/conversations/conversation.types';
import { estimateTokens } from 'src/modules/conversations/history-window';

/**
 * Neutral forms of stored messages, one per message object for as long as it lives (the
 * history cache holds the messages of recent chains): the renderers keep their renderings with
 * these objects, so a turn on a long conversation renders only its new messages.
 */
const neutralForms = new WeakMap<StoredMessage, NeutralMessage>();

export function toNeutral(m: StoredMessage): NeutralMessage {
  let neutral = neutralForms.get(m);
  if (!neutral) {
    neutral = { role: m.role, parts: m.parts, ...(m.name ? { name: m.name } : {}) };
    neutralForms.set(m, neutral);
  }
  return neutral;
}

/** A neutral message to store, its size counted once. */
export const toNew = (m: NeutralMessage): NewMessage => ({
  role: m.role,
  parts: m.parts,
  name: m.name ?? null,
  tokenEstimate: estimateTokens(m),
});

/** A message in the stored shape that is not stored (`store: false`, a size check). */
export function unstoredMessage(m: NewMessage & Partial<StoredMessage>, at: number): StoredMessage {
  return {
    id: m.id ?? randomUUID(),
    treeId: '',
    parentId: null,
    depth: 0,
    turnId: '',
    role: m.role,
    parts: m.parts,
    name: m.name ?? null,
    status: m.status ?? 'pending',
    finishReason: m.finishReason ?? null,
    promptTokens: m.promptTokens ?? null,
    completionTokens: m.completionTokens ?? null,
    tokenEstimate: m.tokenEstimate,
    model: m.model ?? null,
    errorCode: m.errorCode ?? null,
    createdAt: at,
    updatedAt: at,
  };
}
