import {
  AssistantResult,
  StartedTurn,
  StartTurnInput,
  StoredMessage,
  TurnFailure,
} from 'src/modules/conversations/conversation.types';
import { History } from 'src/modules/conversations/history-chain';

/** What a turn asks the store for: `StartTurnInput` plus a check of the history it extends. */
export interface TurnClaim extends StartTurnInput {
  /**
   * Judges the history the turn would extend before anything is written (the Responses API's
   * `truncation: disabled`): what it throws refuses the turn and leaves the conversation as
   * it was. Pure: it may run more than once.
   */
  accept?(history: StoredMessage[]): void;
}

/** A claimed turn: stored `pending`, the conversation held, and the history it extends. */
export interface ClaimedTurn {
  kind: 'claimed';
  turn: StartedTurn;
  /**
   * The messages before the turn's inputs, as a chain (the system prompt of a new
   * conversation included).
   */
  history: History;
}

/** The Idempotency-Key was used before within 24 hours: nothing was claimed or stored. */
export interface ReplayedTurn {
  kind: 'replay';
  conversationId: string;
  /** The fingerprint of the request that used the key first. */
  fingerprint: string;
  /** Its stored answer; null while that request is still running. */
  assistant: StoredMessage | null;
}

/**
 * Where the turn engine keeps turns. One visit per step of a turn: `claimAndLoad` before the
 * upstream call, then `finish` or `fail`. The SQL implementation is `TurnsRepository`; the
 * engine's unit tests use an in-memory one.
 */
export abstract class TurnStore {
  /**
   * In one transaction, committed when this resolves: finds the conversation (creating it
   * when `conversationId` is null), replays an Idempotency-Key seen before, claims the
   * conversation, stores the turn's inputs `pending`, and reads the history they extend.
   *
   * @throws ApiError 404 conversation_not_found (missing or another user's), 409
   *   conversation_busy (another turn holds it, or the same Idempotency-Key is in flight), 409
   *   conversation_conflict (`expectedLastMessageId` is not the head), or what `accept` throws.
   */
  abstract claimAndLoad(claim: TurnClaim): Promise<ClaimedTurn | ReplayedTurn>;

  /**
   * Stores the answer, marks the inputs `completed`, moves the head and releases the claim, in
   * one transaction.
   *
   * @throws ApiError 409 conversation_conflict when the turn no longer holds the conversation.
   */
  abstract finish(claimed: ClaimedTurn, result: AssistantResult): Promise<StoredMessage>;

  /**
   * Marks the turn `failed` (its inputs and an empty assistant message carrying the code),
   * releases the claim and forgets its Idempotency-Key.
   */
  abstract fail(claimed: ClaimedTurn, failure: TurnFailure): Promise<StoredMessage>;
}
