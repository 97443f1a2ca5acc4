import { setTimeout as sleep } from 'node:timers/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { Inject, Injectable } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import type { FastifyReply } from 'fastify';
import { SSE_HEADERS } from 'src/modules/proxy/sse/sse-pipe';
import { BackgroundRuns } from 'src/modules/responses/background-runs';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import {
  parseResponseId,
  responseIdOf,
  toResponseObject,
} from 'src/modules/responses/response-object';
import { inputItemsOf, viewOfTurn } from 'src/modules/responses/response-view';
import { ResponseRecord, ResponsesRepository } from 'src/modules/responses/responses.repository';
import { pageItems, ItemPageQuery } from 'src/modules/responses/item-page';

const POLL_MS = 150;
const CANCEL_WAIT_MS = 10_000;
const EVENT_PAGE = 500;
const KEEP_ALIVE_MS = 15_000;
/** A follower stops after this long (a run lasts at most the total upstream timeout). */
const FOLLOW_LIMIT_MS = 60 * 60 * 1000;
const TERMINAL_EVENTS = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
  'response.cancelled',
]);

const notFound = () =>
  new ApiError('response_not_found', 'No response with this id belongs to you', { param: null });

/**
 * Reading and deleting stored responses. Ownership is the caller's user: another user's
 * response answers exactly like a missing one (404 `response_not_found`).
 */
@Injectable()
export class ResponsesService {
  constructor(
    private readonly repository: ResponsesRepository,
    private readonly runs: BackgroundRuns,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  async findOwned(auth: AuthContext, id: string): Promise<ResponseRecord> {
    const turnId = parseResponseId(id);
    const record = turnId ? await this.repository.findOwned(auth.userId, turnId) : null;
    if (!record) {
      throw notFound();
    }
    return record;
  }

  async get(auth: AuthContext, id: string): Promise<JsonObject> {
    const { record, messages } = await this.findWithTurn(auth, id);
    return toResponseObject(viewOfTurn(record, messages));
  }

  /**
   * The response and its turn's messages. A turn whose messages are gone (its conversation was
   * deleted) is a response that no longer exists: 404, never `in_progress` forever.
   */
  private async findWithTurn(auth: AuthContext, id: string) {
    const record = await this.findOwned(auth, id);
    const messages = await this.repository.turnMessages(record.id);
    if (messages.length === 0) {
      throw notFound();
    }
    return { record, messages };
  }

  /** Forgets the response; the messages it added stay in its conversation (as on OpenAI). */
  async delete(auth: AuthContext, id: string): Promise<JsonObject> {
    const record = await this.findOwned(auth, id);
    if (!(await this.repository.deleteOwned(auth.userId, record.id))) {
      throw notFound();
    }
    return { id: responseIdOf(record.id), object: 'response.deleted', deleted: true };
  }

  /**
   * Stops a background response (on whichever instance runs it) and answers it once its run
   * has ended, with what arrived stored (`cancelled`). A response that already finished is
   * answered as it is.
   */
  async cancel(auth: AuthContext, id: string): Promise<JsonObject> {
    const record = await this.findOwned(auth, id);
    if (!record.settings.background) {
      throw new ApiError('invalid_field', 'Only background responses can be cancelled', {
        param: null,
      });
    }
    if (await this.repository.requestCancel(auth.userId, record.id)) {
      this.runs.cancelLocal(record.id);
      const until = this.clock() + CANCEL_WAIT_MS;
      while (this.clock() < until) {
        const current = await this.repository.findOwned(auth.userId, record.id);
        if (!current || current.runState === null) {
          break;
        }
        await sleep(POLL_MS);
      }
    }
    return this.get(auth, id);
  }

  /**
   * `GET /v1/responses/{id}?stream=true&starting_after=N`: the stored events of a background
   * response after N, then the new ones as they are stored (read from the database, so any
   * instance serves it), until the final event, or at once when the run has ended and every
   * event after N has been sent (a resume from the final event or past it).
   */
  async streamEvents(
    auth: AuthContext,
    id: string,
    startingAfter: unknown,
    reply: FastifyReply,
  ): Promise<void> {
    const record = await this.findOwned(auth, id);
    if (!record.settings.background) {
      throw new ApiError('invalid_field', 'Only background responses keep their events', {
        param: 'stream',
      });
    }
    let after = -1;
    if (startingAfter !== undefined && startingAfter !== '') {
      after = Number(startingAfter);
      if (!Number.isInteger(after) || after < -1) {
        throw new ApiError('invalid_field', 'starting_after must be a sequence number', {
          param: 'starting_after',
        });
      }
    }
    const raw = reply.raw;
    let isGone = false;
    raw.on('close', () => {
      isGone = !raw.writableFinished;
    });
    raw.writeHead(200, { ...reply.getHeaders(), ...SSE_HEADERS } as OutgoingHttpHeaders);
    const deadline = this.clock() + FOLLOW_LIMIT_MS;
    let lastWrite = this.clock();
    // Set once a read found the run ended: its final event (stored in the transaction that
    // ends it) is then already readable, so catching up after that leaves nothing to wait for.
    let hasRunEnded = false;
    while (!isGone && this.clock() < deadline) {
      const events = await this.repository.eventsAfter(record.id, after, EVENT_PAGE);
      let isFinal = false;
      if (events.length > 0) {
        const text = events
          .map((e) => {
            const type = (JSON.parse(e.data) as { type: string }).type;
            isFinal ||= TERMINAL_EVENTS.has(type);
            return `event: ${type}\ndata: ${e.data}\n\n`;
          })
          .join('');
        after = events[events.length - 1].sequenceNumber;
        lastWrite = this.clock();
        if (!raw.write(text)) {
          await new Promise<void>((resolve) => {
            raw.once('drain', resolve);
            raw.once('close', resolve);
          });
        }
      }
      if (isFinal) {
        break;
      }
      if (events.length < EVENT_PAGE) {
        if (hasRunEnded) {
          break;
        }
        hasRunEnded = await this.hasRunEnded(auth, record.id);
        if (hasRunEnded) {
          continue;
        }
        if (this.clock() - lastWrite > KEEP_ALIVE_MS) {
          raw.write(': keep-alive\n\n');
          lastWrite = this.clock();
        }
        await sleep(POLL_MS);
      }
    }
    if (!isGone) {
      raw.end();
    }
  }

  /** The run is over (or the response is gone): no event will be stored after this read. */
  private async hasRunEnded(auth: AuthContext, id: string): Promise<boolean> {
    const current = await this.repository.findOwned(auth.userId, id);
    return current === null || current.runState === null;
  }

  async inputItems(auth: AuthContext, id: string, query: ItemPageQuery): Promise<JsonObject> {
    const { messages } = await this.findWithTurn(auth, id);
    return pageItems(inputItemsOf(messages), query, 'desc');
  }
}
