import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Agent, request } from 'undici';

export interface FetchedMetrics {
  status: number;
  text: string;
}

/** Failure of one metrics read, with whether the server was reached at all. */
export class MetricsFetchError extends Error {
  constructor(
    message: string,
    readonly isReachable: boolean,
  ) {
    super(message);
  }
}

/**
 * The scraper's HTTP (a side effect behind an injectable, so the scraper is testable with a
 * fake): GET with a deadline for the whole exchange and a cap on the body. Its own small
 * keep-alive agent, apart from the generation pools, so a hanging metrics endpoint never holds
 * a connection a chat request could use.
 */
@Injectable()
export class MetricsFetcher implements OnApplicationShutdown {
  private readonly agent = new Agent({ connections: 2, keepAliveTimeout: 30_000 });

  async fetch(
    url: string,
    options: { timeoutMs: number; maxBytes: number; authorization: string | null },
  ): Promise<FetchedMetrics> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    let response;
    try {
      response = await request(url, {
        method: 'GET',
        dispatcher: this.agent,
        signal,
        headers: {
          accept: 'text/plain, application/json',
          ...(options.authorization ? { authorization: options.authorization } : {}),
        },
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      });
    } catch (error) {
      throw new MetricsFetchError(
        signal.aborted ? `no answer within ${options.timeoutMs} ms` : describe(error),
        false,
      );
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > options.maxBytes) {
          response.body.destroy();
          throw new MetricsFetchError(`answer larger than ${options.maxBytes} bytes`, true);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (error instanceof MetricsFetchError) {
        throw error;
      }
      throw new MetricsFetchError(
        signal.aborted ? `answer not complete within ${options.timeoutMs} ms` : describe(error),
        true,
      );
    }
    return { status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.agent.destroy();
  }
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; cause?: { code?: unknown }; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : e?.cause?.code;
  return typeof code === 'string' ? code : 'request failed';
}
