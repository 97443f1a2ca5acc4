import { canonicalJson } from 'src/modules/conversations/turn-request';
import { NeutralMessage, NeutralPart } from 'src/kernel/neutral-history';

/**
 * Stateless frameworks (the Vercel AI SDK, LangChain) resend the whole history on every call.
 * On a `/c1` conversation that history is already stored, so the sent messages are compared
 * with it: a sent list that begins with the stored history is a resend, and only what follows
 * is the new turn; one that contradicts it is a conflict. Pure: the caller loads the history
 * and turns the outcome into the turn or a 409.
 */

/** The history a client saw: the system prompt and the forwarded (completed, incomplete) messages. */
export interface SeenHistory {
  system: NeutralMessage | null;
  messages: NeutralMessage[];
}

export type Reconciliation =
  /** The sent messages are the new turn alone (the ordinary /c1 request). */
  | { kind: 'new_turn' }
  /** The first `resent` sent messages repeat the stored history; the rest is the turn. */
  | { kind: 'resent'; resent: number }
  /**
   * The sent history contradicts the stored one: at the system prompt, at sent message
   * `index`, or (`index` = sent length) it ends before the stored history does.
   */
  | { kind: 'conflict'; at: 'system' }
  | { kind: 'conflict'; at: 'message'; index: number; reason: string };

/**
 * Reads the sent messages as a resend when they carry a system prompt, or hold more than one
 * message of which the first repeats the first stored one, or hold an assistant message (an
 * ordinary turn is the user's message or tool results; the answers are the gateway's to keep).
 * A resend must then match the stored history message by message (roles and content, the
 * system prompt when sent) and add at least one message.
 */
export function reconcileResentHistory(stored: SeenHistory, sent: SeenHistory): Reconciliation {
  const isResend =
    sent.system !== null ||
    sent.messages.some((m) => m.role === 'assistant') ||
    (sent.messages.length > 1 &&
      stored.messages.length > 0 &&
      isSameMessage(sent.messages[0], stored.messages[0]));
  if (!isResend) {
    return { kind: 'new_turn' };
  }
  if (
    sent.system !== null &&
    (stored.system === null || !isSameMessage(sent.system, stored.system))
  ) {
    return { kind: 'conflict', at: 'system' };
  }
  const storedCount = stored.messages.length;
  for (let i = 0; i < storedCount; i++) {
    if (i >= sent.messages.length) {
      return {
        kind: 'conflict',
        at: 'message',
        index: sent.messages.length,
        reason: `the sent history ends after ${i} of the ${storedCount} stored messages, with no new turn`,
      };
    }
    if (!isSameMessage(sent.messages[i], stored.messages[i])) {
      return {
        kind: 'conflict',
        at: 'message',
        index: i,
        reason: `it differs from stored message ${i + 1} of ${storedCount} (${stored.messages[i].role})`,
      };
    }
  }
  if (sent.messages.length === storedCount) {
    return {
      kind: 'conflict',
      at: 'message',
      index: storedCount,
      reason: `the sent history repeats the ${storedCount} stored messages with no new turn`,
    };
  }
  return { kind: 'resent', resent: storedCount };
}

/**
 * Same role and content. Reasoning is left out (it is never forwarded again, and clients drop
 * it), text is compared as one string without surrounding whitespace whatever its parts, and
 * tool-call arguments as JSON values (clients re-serialise the arguments they parsed).
 */
export function isSameMessage(a: NeutralMessage, b: NeutralMessage): boolean {
  return a.role === b.role && comparable(a.parts) === comparable(b.parts);
}

function comparable(parts: NeutralPart[]): string {
  const out: unknown[] = [];
  let text = '';
  const flushText = () => {
    if (text.trim() !== '') {
      out.push({ type: 'text', text: text.trim() });
    }
    text = '';
  };
  for (const part of parts) {
    switch (part.type) {
      case 'reasoning':
        break;
      case 'text':
        text += part.text;
        break;
      case 'tool_call':
        flushText();
        out.push({ ...part, arguments: jsonValueOf(part.arguments) });
        break;
      case 'tool_result':
        flushText();
        out.push({ ...part, content: part.content.trim(), isError: part.isError === true });
        break;
      case 'image':
      case 'media':
        flushText();
        out.push(part);
        break;
    }
  }
  flushText();
  return canonicalJson(out);
}

function jsonValueOf(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
