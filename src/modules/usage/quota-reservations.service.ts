import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { QuotaReservationsRepository } from 'src/modules/usage/quota-reservations.repository';
import { Clock, CLOCK } from 'src/common/time/clock';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { UtcDays } from 'src/modules/usage/usage-period';
import { UsageRecorder } from 'src/modules/usage/usage-recorder.service';

/** Beyond the longest a request can last: then a reservation lapses (a crashed instance's). */
const HELD_MARGIN_MS = 60_000;
/**
 * How long a settled reservation stands for its usage if that usage is never written (the
 * instance died before its next flush). Normally it is deleted within a second, by the flush.
 */
export const SETTLED_HOLD_MS = 10 * 60_000;
const PURGE_INTERVAL_MS = 60_000;

interface Reservation {
  id: string;
  keyId: string;
  state: 'held' | 'settled' | 'released';
}

/**
 * Token quotas under concurrency (issue #22 item 5). Before a request of a key with a quota is
 * forwarded, its maximum is reserved in the database (`QuotaReservationsRepository.reserve`,
 * atomic across instances): admitted while written usage plus live reservations are below the
 * limit, so at most one request's worth goes over it. When the request's usage is recorded the
 * reservation shrinks to it, and is deleted once that usage is written to `usage_daily`; a
 * request that ends without usage (refused, failed, aborted) releases it; a crash leaves it to
 * lapse after the longest a request can last.
 *
 * The request carries its reservation through its own copy of the auth context (`reserve`
 * returns it; the guard puts it on the request): the usage sink is given that context, and
 * nothing else between the guard and the sink has to know about quotas.
 */
@Injectable()
export class QuotaReservations implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly byAuth = new WeakMap<AuthContext, Reservation>();
  private readonly held = new Set<Reservation>();
  /** Per key: this instance's settle/release writes still running (see `reserve`). */
  private readonly writes = new Map<string, Promise<void>>();
  private readonly heldMs: number;
  private readonly logger = new Logger('Quota');
  private readonly purges = new PeriodicTask(() => this.repository.purgeExpired(this.clock()), {
    everyMs: PURGE_INTERVAL_MS,
    onError: (error) =>
      this.logger.warn(`could not purge lapsed quota reservations: ${String(error)}`),
  });

  constructor(
    private readonly repository: QuotaReservationsRepository,
    private readonly recorder: UsageRecorder,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly days: UtcDays = new UtcDays(),
  ) {
    this.heldMs = config.upstream.totalTimeoutMs + HELD_MARGIN_MS;
    recorder.onRecorded((_keyId, _day, tokens, auth) => this.settle(auth, tokens));
  }

  /**
   * Reserves `tokens` for one request of `auth`'s key (which has a quota). Resolves with the
   * request's own auth context, which carries the reservation, or null when the key is at its
   * limit. Waits first for this instance's pending settle/release writes of the key, so a
   * client's next request sees its previous one settled.
   */
  async reserve(auth: AuthContext, tokens: number): Promise<AuthContext | null> {
    const quota = auth.tokenQuota!;
    await this.writes.get(auth.keyId);
    const now = this.clock();
    const window = this.days.windowOf(quota.period, now);
    const id = randomUUID();
    const isAdmitted = await this.repository.reserve({
      id,
      keyId: auth.keyId,
      tokens,
      expiresAt: now + this.heldMs,
      limit: quota.limit,
      from: window.from,
      to: window.to,
      now,
    });
    if (!isAdmitted) {
      return null;
    }
    const reservation: Reservation = { id, keyId: auth.keyId, state: 'held' };
    const own = Object.freeze({ ...auth });
    this.byAuth.set(own, reservation);
    this.held.add(reservation);
    return own;
  }

  /**
   * The request's response is over. Its reservation is released unless usage settled it, or
   * the work goes on without the client (`/c1` finishes a turn after a hang-up: its usage
   * settles the reservation later, or it lapses).
   */
  end(auth: AuthContext, isWorkContinuing: boolean): void {
    const reservation = this.byAuth.get(auth);
    if (reservation?.state !== 'held') {
      return;
    }
    if (isWorkContinuing) {
      // Settled by its usage later, or left to lapse: not kept here, so that a turn that
      // never reports usage holds no memory.
      this.held.delete(reservation);
      return;
    }
    this.release(reservation);
  }

  /** Tokens held by live reservations of a key (for the refusal message). */
  reservedTokens(keyId: string): Promise<number> {
    return this.repository.reserved(keyId, this.clock());
  }

  onApplicationBootstrap(): void {
    this.purges.start();
  }

  /** After the HTTP server closed: what is still held belongs to requests that are over. */
  async onApplicationShutdown(): Promise<void> {
    await this.purges.stop();
    for (const reservation of [...this.held]) {
      this.release(reservation);
    }
    await Promise.all([...this.writes.values()]);
  }

  private settle(auth: AuthContext, tokens: number): void {
    const reservation = this.byAuth.get(auth);
    if (reservation?.state !== 'held') {
      return;
    }
    reservation.state = 'settled';
    this.held.delete(reservation);
    const { id, keyId } = reservation;
    this.track(keyId, this.repository.settle(id, tokens, this.clock() + SETTLED_HOLD_MS));
    // The usage was just added to the recorder's pending batch: once that batch is written,
    // usage_daily counts it and the reservation must stop counting it.
    this.recorder.whenWritten(() => this.track(keyId, this.repository.release([id])));
  }

  private release(reservation: Reservation): void {
    reservation.state = 'released';
    this.held.delete(reservation);
    this.track(reservation.keyId, this.repository.release([reservation.id]));
  }

  private track(keyId: string, write: Promise<void>): void {
    const logged = write.catch((error: unknown) =>
      // The row then lapses by itself (held: after the longest request; settled: later).
      this.logger.warn(`could not update a quota reservation: ${String(error)}`),
    );
    const all = Promise.all([this.writes.get(keyId), logged]).then(() => undefined);
    this.writes.set(keyId, all);
    void all.then(() => {
      if (this.writes.get(keyId) === all) {
        this.writes.delete(keyId);
      }
    });
  }
}
