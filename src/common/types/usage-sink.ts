import { AuthContext } from 'src/common/types/auth-context';

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/**
 * Where the proxy reports the token usage of every upstream answer (JSON, streams, abandoned
 * streams, /c1 turns finished in the background). Provided globally by the throttling module,
 * which records it per key, model and day and enforces quotas from it.
 */
export interface UsageSink {
  record(auth: AuthContext, modelAlias: string, usage: TokenUsage): void;
}

export const USAGE_SINK = Symbol('USAGE_SINK');
