import type { RequestLog } from 'src/common/logging/request-log';
import { systemClock } from 'src/common/time/clock';
import { ResponseEvent } from 'src/modules/responses/response-events';
import { ResponsesRepository, StoredEvent } from 'src/modules/responses/responses.repository';

/** How often buffered events are written (and the heartbeat renewed while events flow). */
const FLUSH_MS = 200;

const TERMINAL = new Set([
  'response.completed',
  'response.incomplete',
  'response.failed',
  'response.cancelled',
]);

/**
 * The event log of a background response, in the database: events are buffered and written
 * in one transaction every 200 ms (and at the end), which also renews the run's heartbeat and
 * reads whether a cancel was requested on any instance. A crash loses at most the last 200 ms
 * of events; whoever resolves the run continues the sequence after the last stored one, so a
 * resumed stream never has a gap or a duplicate. The heartbeat is renewed every `heartbeatMs`
 * even when the upstream is silent.
 */
export class DurableEventSink {
  private buffer: StoredEvent[] = [];
  private isFinal = false;
  private writing: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private lastWrite = systemClock();

  constructor(
    private readonly repository: ResponsesRepository,
    /** The logger of the request that started the run. */
    private readonly log: RequestLog,
    private readonly responseId: string,
    private readonly heartbeatMs: number,
    private readonly onCancelRequested: () => void,
  ) {
    this.timer = setInterval(() => {
      if (this.buffer.length > 0 || systemClock() - this.lastWrite >= this.heartbeatMs) {
        void this.flush();
      }
    }, FLUSH_MS);
    this.timer.unref();
  }

  send(events: ResponseEvent[]): void {
    for (const event of events) {
      this.buffer.push({ sequenceNumber: event.sequence_number, data: JSON.stringify(event) });
      if (TERMINAL.has(event.type)) {
        this.isFinal = true;
      }
    }
  }

  /** Writes what is left, the final event included; resolves once it is stored. */
  async end(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Writes one batch at a time, in order. A failed write keeps its events for the next. */
  private flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      const batch = this.buffer;
      const isFinal = this.isFinal;
      this.buffer = [];
      this.lastWrite = systemClock();
      try {
        const isCancelRequested = await this.repository.appendEvents(
          this.responseId,
          batch,
          isFinal,
        );
        if (isCancelRequested && !isFinal) {
          this.onCancelRequested();
        }
      } catch (error) {
        this.buffer = [...batch, ...this.buffer];
        this.log.error(
          { context: 'responses' },
          `could not store events of response ${this.responseId}: ${(error as Error).message}`,
        );
      }
    });
    return this.writing;
  }
}
