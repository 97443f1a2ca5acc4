import type { StreamInspector } from 'src/modules/proxy/stream/stream-runner';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import { Logger } from '@nestjs/common';
import { ApiError } from 'src/common/errors/api-error';
import { OutputScanner, sensitiveWordsError } from 'src/modules/policy/output-scanner';
import { PolicyRule, PolicyScope } from 'src/modules/policy/policy.schema';
import { RuleMatcher } from 'src/modules/policy/rule-matcher';

type JsonLike = Record<string, unknown>;

/**
 * The content policy (POLICY_FILE, SPEC "History"): what must not reach a model, and what a
 * model must not answer. Rules are compiled once per model alias and scope at start; a model
 * with no rules costs nothing per request.
 */
export class PolicyService {
  private readonly matchers = new Map<string, RuleMatcher>();

  constructor(rules: PolicyRule[], aliases: Iterable<string>) {
    for (const alias of aliases) {
      for (const scope of ['input', 'output'] as PolicyScope[]) {
        const applicable = rules.filter(
          (r) => r.scope === scope && (r.models === null || r.models.includes(alias)),
        );
        if (applicable.length > 0) {
          this.matchers.set(`${scope}:${alias}`, new RuleMatcher(applicable));
        }
      }
    }
    if (rules.length > 0) {
      new Logger('policy').log(`content policy: ${rules.length} rule(s) compiled`);
    }
  }

  /**
   * Checks the messages a client sent (Chat Completions form) before anything is stored or
   * forwarded. Throws 400 `prompt_blocked` with `param` at the offending text
   * (`messages[0].content`, `messages[1].content[2].text`).
   */
  checkInput(alias: string, messages: unknown): void {
    const matcher = this.matchers.get(`input:${alias}`);
    if (!matcher || !Array.isArray(messages)) {
      return;
    }
    messages.forEach((message: unknown, i) => {
      const content = (message as JsonLike | null)?.content;
      const texts: [string, string][] = [];
      if (typeof content === 'string') {
        texts.push([`messages[${i}].content`, content]);
      } else if (Array.isArray(content)) {
        content.forEach((part: unknown, j) => {
          const text = (part as JsonLike | null)?.text;
          if (typeof text === 'string') {
            texts.push([`messages[${i}].content[${j}].text`, text]);
          }
        });
      }
      for (const [param, text] of texts) {
        checkPromptText(matcher, text, param);
      }
    });
  }

  /**
   * Checks one text a client sent outside its messages (the Responses API's `instructions`),
   * like a message's: 400 `prompt_blocked` with `param`.
   */
  checkInputText(alias: string, text: string, param: string): void {
    const matcher = this.matchers.get(`input:${alias}`);
    if (matcher) {
      checkPromptText(matcher, text, param);
    }
  }

  /** Checks a complete (JSON) answer: every choice's text. Throws `sensitive_words_detected`. */
  checkAnswer(alias: string, answer: JsonLike): void {
    const matcher = this.matchers.get(`output:${alias}`);
    const choices = answer.choices;
    if (!matcher || !Array.isArray(choices)) {
      return;
    }
    for (const choice of choices) {
      const content = ((choice as JsonLike | null)?.message as JsonLike | undefined)?.content;
      const rule = typeof content === 'string' ? matcher.find(content) : null;
      if (rule) {
        throw sensitiveWordsError(rule.name);
      }
    }
  }

  /** Checks a complete Anthropic Messages answer: its text blocks. */
  checkMessage(alias: string, message: { content?: unknown }): void {
    const matcher = this.matchers.get(`output:${alias}`);
    if (!matcher || !Array.isArray(message.content)) {
      return;
    }
    for (const block of message.content) {
      const text = (block as JsonLike | null)?.text;
      const rule = typeof text === 'string' ? matcher.find(text) : null;
      if (rule) {
        throw sensitiveWordsError(rule.name);
      }
    }
  }

  /**
   * A scanner for a streamed answer, fed with each chunk (Chat Completions chunk form) and
   * ended at the terminal event; null when no output rule applies to the model.
   */
  streamScanner(alias: string, isAnthropic: boolean): StreamPolicy | null {
    const matcher = this.matchers.get(`output:${alias}`);
    return matcher ? new StreamPolicy(new OutputScanner(matcher), isAnthropic) : null;
  }
}

function checkPromptText(matcher: RuleMatcher, text: string, param: string): void {
  const rule = matcher.find(text);
  if (rule) {
    throw new ApiError(
      'prompt_blocked',
      `The prompt was blocked by the content policy (rule "${rule.name}")`,
      { param },
    );
  }
}

/**
 * Feeds a streamed answer to an `OutputScanner` (the stream runner's inspector): Chat
 * Completions chunks, or Anthropic events when the upstream speaks Messages natively.
 */
export class StreamPolicy implements StreamInspector {
  constructor(
    private readonly scanner: OutputScanner,
    private readonly isAnthropic: boolean,
  ) {}

  see(event: SseEvent): void {
    this.pushEvent(event, this.isAnthropic);
  }

  /** Throws `sensitive_words_detected` at the chunk that completes a hit. */
  push(chunk: JsonLike | null): void {
    const choices = chunk?.choices;
    if (!Array.isArray(choices)) {
      return;
    }
    for (const choice of choices) {
      const c = choice as JsonLike;
      const content = (c.delta as JsonLike | undefined)?.content;
      if (typeof content === 'string') {
        this.scanner.push(content, typeof c.index === 'number' ? c.index : 0);
      }
    }
  }

  /**
   * Feeds one upstream event as it arrived: a Chat Completions chunk, or an Anthropic
   * `content_block_delta` (`anthropic` true). Events that cannot carry text are not parsed.
   */
  pushEvent(event: { data: string; isComment: boolean }, isAnthropic: boolean): void {
    if (event.isComment || !event.data.includes(isAnthropic ? 'text_delta' : '"content"')) {
      return;
    }
    let parsed: JsonLike | null = null;
    try {
      parsed = JSON.parse(event.data) as JsonLike;
    } catch {
      return;
    }
    if (!isAnthropic) {
      this.push(parsed);
      return;
    }
    const delta = parsed?.delta as JsonLike | undefined;
    if (delta?.type === 'text_delta' && typeof delta.text === 'string') {
      this.scanner.push(delta.text, typeof parsed.index === 'number' ? parsed.index : 0);
    }
  }

  end(): void {
    this.scanner.end();
  }
}
