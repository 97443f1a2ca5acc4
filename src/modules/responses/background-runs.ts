import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OnModuleInit,
} from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { databaseKind } from 'src/database/data-source';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import { NeutralPart } from 'src/kernel/neutral-history';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { TurnsRepository } from 'src/modules/conversations/turns.repository';
import { estimateTokens } from 'src/modules/conversations/history-window';
import { parseItemId } from 'src/modules/responses/response-items';
import { toResponseObject } from 'src/modules/responses/response-object';
import { viewOfTurn } from 'src/modules/responses/response-view';
import {
  ResponseRecord,
  ResponsesRepository,
  StoredEvent,
} from 'src/modules/responses/responses.repository';

const FINAL_EVENT: Record<string, string> = {
  completed: 'response.completed',
  incomplete: 'response.incomplete',
  failed: 'response.failed',
  cancelled: 'response.cancelled',
};

/**
 * The background generations: the ones running in this process (so a cancel received here
 * stops its upstream at once; one received by another instance is seen at the run's next
 * write), and the sweep that resolves runs whose process died. A run renews its heartbeat
 * while it lives; one whose heartbeat is older than BACKGROUND_STALE_SECS is taken over by one
 * instance (a conditional update), which stores what its event log holds as the answer
 * (`incomplete`; `failed` when nothing arrived), releases the conversation, and appends the
 * final event after the last stored one. Swept at start and every half of that interval, so
 * no response stays `in_progress` forever.
 */
@Injectable()
export class BackgroundRuns implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('responses');
  private readonly local = new Map<string, () => void>();
  private timer: NodeJS.Timeout | null = null;
  private isSweeping = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly responses: ResponsesRepository,
    private readonly conversations: ConversationsRepository,
    private readonly turns: TurnsRepository,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  register(id: string, cancel: () => void): void {
    this.local.set(id, cancel);
  }

  /**
   * Refuses a new background response when this instance runs BACKGROUND_MAX_RUNS already:
   * each holds an upstream stream with no client to pace it. Checked before anything is stored.
   */
  assertRoom(): void {
    if (this.local.size >= this.config.responses.backgroundMaxRuns) {
      throw new ApiError(
        'server_overloaded',
        'Too many background responses are running on this gateway; retry later',
        { headers: { 'retry-after': '5' } },
      );
    }
  }

  unregister(id: string): void {
    this.local.delete(id);
  }

  /** Stops a run of this process at once (true), or leaves it to its own process (false). */
  cancelLocal(id: string): boolean {
    const cancel = this.local.get(id);
    cancel?.();
    return cancel !== undefined;
  }

  /**
   * On SQLite one process owns the database, so every run still marked running at start was
   * cut by a crash: resolved now, before the turn reaper fails their turns (which would lose
   * what arrived). On PostgreSQL other instances may be running theirs: the heartbeat decides.
   */
  async onModuleInit(): Promise<void> {
    if (databaseKind(this.config.db.url) === 'sqlite') {
      await this.sweep(this.clock() + 1);
    }
  }

  onApplicationBootstrap(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), this.config.responses.backgroundStaleMs / 2);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
  }

  /** Resolves every run whose heartbeat is older than `cutoff`; returns how many. */
  async sweep(cutoff = this.clock() - this.config.responses.backgroundStaleMs): Promise<number> {
    if (this.isSweeping) {
      return 0;
    }
    this.isSweeping = true;
    let resolved = 0;
    try {
      for (const run of await this.responses.staleRuns(cutoff)) {
        if (this.local.has(run.id) || !(await this.responses.takeOver(run.id, run.heartbeatAt))) {
          continue;
        }
        await this.resolve(run);
        resolved++;
      }
    } catch (error) {
      this.logger.error(`background sweep failed: ${(error as Error).message}`);
    } finally {
      this.isSweeping = false;
    }
    return resolved;
  }

  private async resolve(run: ResponseRecord): Promise<void> {
    const events = await this.responses.allEvents(run.id);
    let messages = await this.responses.turnMessages(run.id);
    const pending = messages.filter((m) => m.status === 'pending');
    const conversation = await this.conversations.findConversation(run.userId, run.conversationId);
    if (pending.length > 0 && conversation) {
      const partial = answerFromEvents(events);
      const turn = { conversation, turnId: run.id, inputs: pending, system: null, isNew: false };
      try {
        if (partial.parts.length > 0) {
          const message = { role: 'assistant' as const, parts: partial.parts };
          await this.turns.finishTurn(turn, {
            id: partial.messageId ?? undefined,
            parts: partial.parts,
            status: 'incomplete',
            finishReason: null,
            promptTokens: null,
            completionTokens: null,
            tokenEstimate: estimateTokens(message),
            model: run.model,
          });
        } else {
          await this.turns.failTurn(turn, {
            errorCode: 'internal_error',
            model: run.model,
          });
        }
      } catch (error) {
        // The claim expired and the turn reaper resolved it already: its inputs are failed.
        this.logger.warn(`resolving response ${run.id}: ${(error as Error).message}`);
      }
      messages = await this.responses.turnMessages(run.id);
    }
    const response = toResponseObject(viewOfTurn({ ...run, runState: null }, messages));
    const last = events.length ? events[events.length - 1].sequenceNumber : -1;
    const final: StoredEvent = {
      sequenceNumber: last + 1,
      data: JSON.stringify({
        type: FINAL_EVENT[response.status as string] ?? 'response.failed',
        sequence_number: last + 1,
        response,
      }),
    };
    await this.responses.appendEvents(run.id, [final], true);
    this.logger.warn(
      `resolved background response ${run.id} left running: ${String(response.status)}`,
    );
  }
}

/** The answer as far as the stored events tell it (text deltas and tool call arguments). */
export function answerFromEvents(events: StoredEvent[]): {
  parts: NeutralPart[];
  messageId: string | null;
} {
  const parts: NeutralPart[] = [];
  const byIndex = new Map<number, NeutralPart>();
  let messageId: string | null = null;
  for (const stored of events) {
    const event = JSON.parse(stored.data) as JsonObject;
    const index = event.output_index as number;
    if (event.type === 'response.output_item.added') {
      const item = event.item as JsonObject;
      messageId ??= parseItemId(item.id)?.messageId ?? null;
      const part: NeutralPart =
        item.type === 'function_call'
          ? {
              type: 'tool_call',
              id: item.call_id as string,
              name: item.name as string,
              arguments: '',
            }
          : { type: 'text', text: '' };
      byIndex.set(index, part);
      parts.push(part);
    } else if (event.type === 'response.output_text.delta') {
      const part = byIndex.get(index);
      if (part?.type === 'text') {
        part.text += event.delta as string;
      }
    } else if (event.type === 'response.function_call_arguments.delta') {
      const part = byIndex.get(index);
      if (part?.type === 'tool_call') {
        part.arguments += event.delta as string;
      }
    }
  }
  return { parts, messageId };
}
