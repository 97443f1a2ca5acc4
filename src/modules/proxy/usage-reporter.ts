import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { TokenUsage, USAGE_SINK, UsageSink } from 'src/common/types/usage-sink';
import { UpstreamClient } from 'src/modules/proxy/upstream/upstream.client';

/**
 * Reports the usage of one upstream answer, once: token metrics, then the `USAGE_SINK`
 * (per-key accounting and quotas). A failing sink is logged, never the caller's failure.
 */
@Injectable()
export class UsageReporter {
  private readonly logger = new Logger('usage');

  constructor(
    private readonly upstream: UpstreamClient,
    @Optional() @Inject(USAGE_SINK) private readonly sink?: UsageSink,
  ) {}

  report(auth: AuthContext, alias: string, usage: TokenUsage): void {
    this.upstream.countTokens(alias, usage.promptTokens, usage.completionTokens);
    if (!this.sink) {
      return;
    }
    try {
      this.sink.record(auth, alias, usage);
    } catch (error) {
      this.logger.error(`usage sink failed: ${(error as Error).message}`);
    }
  }
}
