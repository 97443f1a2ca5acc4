import { TokenUsage } from 'src/common/types/usage-sink';
import { TokenEstimator } from 'src/common/tokens/token-estimator';

function textOf(content: unknown): string {
  if (typeof content === 'string') {
    return content;
  }
  if (Array.isArray(content)) {
    let text = '';
    for (const part of content as { type?: unknown; text?: unknown }[]) {
      if (part && typeof part.text === 'string') {
        text += part.text;
      }
    }
    return text;
  }
  return '';
}

/**
 * Usage of a stream that ended before the upstream reported it (the client hung up on /v1 and
 * the upstream was aborted, or the stream was cut): prompt tokens counted with a real
 * tokenizer over the messages' text (3 per message, OpenAI's accounting; bounded in time by
 * `TokenEstimator`, sampled beyond its budget), completion tokens
 * as the number of content events received (servers send about one token per event). An
 * estimate, so that abandoning streams does not escape quotas.
 */
export function estimateUsage(messages: unknown, contentEvents: number): Promise<TokenUsage> {
  const estimator = new TokenEstimator();
  let prompt = 3;
  if (Array.isArray(messages)) {
    for (const message of messages as { content?: unknown }[]) {
      prompt += 3 + estimator.count(textOf(message?.content));
    }
  }
  return Promise.resolve({ promptTokens: prompt, completionTokens: contentEvents });
}
