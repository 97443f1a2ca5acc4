import { ExecutionContext, Injectable } from '@nestjs/common';
import { ApiKeyGuard } from 'src/modules/auth/api-key.guard';
import { RateLimitGuard } from 'src/modules/throttling/rate-limit.guard';
import { QuotaGuard } from 'src/modules/usage/quota.guard';

/** A guard that answers synchronously when it can: Parley's guards never return observables. */
export interface AccessGuard {
  canActivate(context: ExecutionContext): boolean | Promise<boolean>;
}

/**
 * The one global guard: authentication, then the rate limit, then the token quota. The order
 * is a decision, not a side effect of module registration: the rate limit and the quota read
 * `request.auth`, which the API-key guard sets, and a rate-limited request is refused before
 * its quota is looked up. A guard that answers synchronously keeps the chain synchronous, so
 * the common case costs no promise.
 */
@Injectable()
export class RequestGuardChain implements AccessGuard {
  private readonly chain: readonly AccessGuard[];

  constructor(auth: ApiKeyGuard, rateLimit: RateLimitGuard, quota: QuotaGuard) {
    this.chain = [auth, rateLimit, quota];
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    return runInOrder(this.chain, context, 0);
  }
}

/** Runs `guards` from index `from` on, stopping at the first refusal. */
export function runInOrder(
  guards: readonly AccessGuard[],
  context: ExecutionContext,
  from: number,
): boolean | Promise<boolean> {
  for (let i = from; i < guards.length; i++) {
    const allowed = guards[i].canActivate(context);
    if (allowed === true) {
      continue;
    }
    if (allowed === false) {
      return false;
    }
    return allowed.then((ok) => ok && runInOrder(guards, context, i + 1));
  }
  return true;
}
