import { Inject, Injectable } from '@nestjs/common';
import { ApiError } from 'src/common/errors/api-error';
import type { RequestLog } from 'src/common/logging/request-log';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { LifecycleService, shutdownError } from 'src/modules/lifecycle/lifecycle.service';
import { TokenUsage } from 'src/common/types/usage-sink';
import { StoredMessage, TurnFailure } from 'src/modules/conversations/conversation.types';
import { estimateTokens } from 'src/modules/conversations/history-window';
import { History, linkChain } from 'src/modules/conversations/history-chain';
import { unstoredMessage } from 'src/modules/conversations/turn-messages';
import { TurnReaper } from 'src/modules/conversations/turn-reaper';
import {
  ClaimedTurn,
  ReplayedTurn,
  TurnClaim,
  TurnStore,
} from 'src/modules/conversations/turn-store';

/** A turn to run, in no API's terms: what the controller read from the request. */
export interface TurnCommand {
  /** Catalog alias serving the turn (stored with the answer, or with the failure). */
  model: string;
  /** What to claim and store; null for a turn that is not stored (`store: false`). */
  claim: TurnClaim | null;
  /** A turn that is not stored: the history it extends and its inputs. */
  unstored?: { history: StoredMessage[]; inputs: StoredMessage[] };
  /** The id to store the answer under, when the API named it up front (a streamed item). */
  answerId?: string;
  /**
   * What a client hang-up does: `detach` (the default of every API) reads the answer to its
   * end and stores it; `abort` stops the upstream (`/c1`'s `x-on-disconnect: cancel`), and
   * the turn is stored `failed`, or `incomplete` with what arrived.
   */
  onClientGone: 'abort' | 'detach';
  /** The request's logger: what the engine logs about the turn carries its `reqId`. */
  log: RequestLog;
}

/** An assistant answer in neutral form, ready to store. */
export interface TurnAnswer {
  message: NeutralMessage;
  /** In Chat Completions' terms (`stop`, `length`, `tool_calls`…), whatever the API. */
  finishReason: string | null;
  usage: TokenUsage | null;
}

/** How a forwarded turn ended, as the sink saw it. */
export type TurnOutcome =
  | { status: 'completed' | 'incomplete'; answer: TurnAnswer }
  /** `errorCode`: a catalog code, or `cancelled` (a cancelled background response). */
  | { status: 'failed'; errorCode: string };

/**
 * What `settle` stored: the assistant message (unstored for `store: false`, or when the failure
 * could not be stored), and the `storage_error` the answer could not be stored with.
 */
export interface SettledTurn {
  assistant: StoredMessage;
  error: ApiError | null;
}

/** A claimed turn on its way upstream, as the sink sees it. */
export interface ForwardedTurn {
  /** null for a turn that is not stored. */
  claimed: ClaimedTurn | null;
  /** The messages the turn extends (its chain: not walked unless needed), and its inputs. */
  history: History;
  inputs: StoredMessage[];
  /** Aborted at the end of a shutdown's grace period. */
  shutdown: AbortSignal;
  /** The command's hang-up policy, for the sink to apply to its client. */
  onClientGone: 'abort' | 'detach';
  /** Stores how the turn ended; once per turn (before the stream's last bytes, for a stream). */
  settle(outcome: TurnOutcome): Promise<SettledTurn>;
}

/**
 * One API's side of a turn (`/c1/chat/completions`, `/c1/messages`, `/v1/responses`): it
 * holds the request and its reply, renders the prompt and the answer in the API's shapes, and
 * applies the hang-up policy the client asked for.
 */
export interface TurnSink {
  /** An Idempotency-Key seen before with the same request: answer with its stored answer. */
  replay(replayed: StoredReplay): Promise<void> | void;
  /** Sets what goes upstream: the system prompt, the history window and the new turn. */
  render(turn: ForwardedTurn): void;
  /**
   * Calls the upstream and answers the client, handing the outcome to `turn.settle` once.
   * Throws when the turn failed before anything was answered (the engine stores the failure
   * then, unless it was settled).
   */
  forward(turn: ForwardedTurn): Promise<void>;
}

/** A replay whose request matched and whose answer is stored. */
export interface StoredReplay extends ReplayedTurn {
  assistant: StoredMessage;
}

/**
 * Runs a turn of a stored conversation for every API that has them: one claim-and-load visit
 * to the store before anything goes upstream, one forward (the sink's), one settle (finish or
 * fail). Knows nothing of HTTP: a controller's adapter turns the request into a `TurnCommand`
 * and a `TurnSink`.
 *
 * - Every turn is tracked by the lifecycle until `forward` returns: a shutdown waits for it,
 *   and at the end of the grace period aborts `shutdown` (the sink stops its upstream and
 *   settles what arrived).
 * - A repeated Idempotency-Key with the same fingerprint is replayed; another fingerprint is
 *   400 `invalid_field`; one still running is 409 `conversation_busy`.
 * - A turn that fails before it is settled (rendering, the upstream refusing) is stored
 *   `failed` with the error's catalog code, and the error rethrown. When the database cannot
 *   store that either, the reaper does as soon as it answers again.
 */
@Injectable()
export class TurnEngine {
  constructor(
    private readonly store: TurnStore,
    private readonly lifecycle: LifecycleService,
    private readonly reaper: TurnReaper,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async run(command: TurnCommand, sink: TurnSink): Promise<void> {
    const shutdown = new AbortController();
    const work = this.lifecycle.track('turn', () => shutdown.abort(shutdownError()));
    try {
      await this.runTracked(command, sink, shutdown.signal);
    } finally {
      work.done();
    }
  }

  private async runTracked(command: TurnCommand, sink: TurnSink, shutdown: AbortSignal) {
    let claimed: ClaimedTurn | null = null;
    let history: History;
    let inputs: StoredMessage[];
    if (command.claim) {
      const outcome = await this.store.claimAndLoad(command.claim);
      if (outcome.kind === 'replay') {
        await sink.replay(checkedReplay(outcome, command.claim));
        return;
      }
      claimed = outcome;
      history = outcome.history;
      inputs = outcome.turn.inputs;
    } else {
      history = linkChain(command.unstored?.history ?? []);
      inputs = command.unstored?.inputs ?? [];
    }
    let isSettled = false;
    const turn: ForwardedTurn = {
      claimed,
      history,
      inputs,
      shutdown,
      onClientGone: command.onClientGone,
      settle: (outcome) => {
        if (isSettled) {
          throw new Error('a turn is settled once');
        }
        isSettled = true;
        return this.settle(command, claimed, outcome);
      },
    };
    try {
      sink.render(turn);
      await sink.forward(turn);
    } catch (error) {
      if (!isSettled) {
        isSettled = true;
        await this.failQuietly(command, claimed, codeOf(error));
      }
      throw error;
    }
  }

  private async settle(
    command: TurnCommand,
    claimed: ClaimedTurn | null,
    outcome: TurnOutcome,
  ): Promise<SettledTurn> {
    if (outcome.status === 'failed') {
      return {
        assistant: await this.failQuietly(command, claimed, outcome.errorCode),
        error: null,
      };
    }
    const { answer, status } = outcome;
    const result = {
      id: command.answerId,
      parts: answer.message.parts,
      status,
      finishReason: answer.finishReason,
      promptTokens: answer.usage?.promptTokens ?? null,
      completionTokens: answer.usage?.completionTokens ?? null,
      tokenEstimate: estimateTokens(answer.message),
      model: command.model,
    };
    if (!claimed) {
      return {
        assistant: unstoredMessage({ role: 'assistant', ...result }, this.clock()),
        error: null,
      };
    }
    try {
      return { assistant: await this.store.finish(claimed, result), error: null };
    } catch (error) {
      // A stream ends with the error event, without the exception filter's line: this is the
      // operator's line about the request.
      command.log.error(
        { context: 'conversations' },
        `could not store the answer of conversation ${claimed.turn.conversation.id}: ${reasonOf(error)}`,
      );
      const storageError =
        error instanceof ApiError
          ? error
          : new ApiError('storage_error', 'The database could not complete the request', {
              cause: error,
            });
      const assistant = await this.failQuietly(command, claimed, storageError.code);
      return { assistant, error: storageError };
    }
  }

  /**
   * Marks the turn failed with `errorCode`. When the database cannot do that now, the reaper
   * does it as soon as it answers again (so the conversation does not stay busy). Returns the
   * failed answer (unstored when it could not be stored, or the turn is not stored).
   */
  private async failQuietly(
    command: TurnCommand,
    claimed: ClaimedTurn | null,
    errorCode: string,
  ): Promise<StoredMessage> {
    const failure: TurnFailure = { id: command.answerId, errorCode, model: command.model };
    if (claimed) {
      try {
        return await this.store.fail(claimed, failure);
      } catch (storeError) {
        command.log.error(
          { context: 'conversations' },
          `could not mark turn of conversation ${claimed.turn.conversation.id} failed: ${reasonOf(storeError)}`,
        );
        if (!(storeError instanceof ApiError && storeError.code === 'conversation_conflict')) {
          this.reaper.settleLater(claimed.turn, failure);
        }
      }
    }
    return unstoredMessage(
      {
        role: 'assistant',
        parts: [],
        tokenEstimate: 0,
        status: 'failed',
        ...failure,
      },
      this.clock(),
    );
  }
}

/** What went wrong, for the log: the database's own message under a `storage_error`. */
function reasonOf(error: unknown): string {
  const cause = error instanceof ApiError ? error.cause : undefined;
  const described = cause instanceof Error ? cause : error;
  return described instanceof Error ? described.message : String(described);
}

function codeOf(error: unknown): string {
  return error instanceof ApiError ? error.code : 'internal_error';
}

function checkedReplay(replayed: ReplayedTurn, claim: TurnClaim): StoredReplay {
  if (replayed.fingerprint !== claim.idempotency?.fingerprint) {
    throw new ApiError(
      'invalid_field',
      'This Idempotency-Key was already used with a different request; use a new key',
      { param: 'idempotency-key' },
    );
  }
  if (!replayed.assistant) {
    throw new ApiError(
      'conversation_busy',
      'The request with this Idempotency-Key is still in progress',
    );
  }
  return { ...replayed, assistant: replayed.assistant };
}
