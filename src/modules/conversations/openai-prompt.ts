import { PreparedChat } from 'src/modules/proxy/chat-completions.service';
import { NeutralMessage } from 'src/modules/proxy/wire/neutral';
import { neutralToOpenAI, OpenAIMessage } from 'src/modules/proxy/wire/openai/openai-neutral';

/** A neutral message in OpenAI form: the messages it becomes, and their JSON without brackets. */
interface RenderedMessage {
  messages: OpenAIMessage[];
  json: string;
}

const renderings = new WeakMap<NeutralMessage, RenderedMessage>();

/**
 * Sets `chat.body.messages` to the OpenAI rendering of `window` (failed tool results marked)
 * and `chat.messagesJson` to its JSON, which `bodyFor` splices into the upstream body. Each
 * message is rendered and serialised once per message object and kept as long as it lives:
 * `C1TurnService` hands over the same objects for the messages the history cache holds (a
 * stored message never changes), so a turn on a 1,000-turn conversation renders and
 * serialises only its new messages instead of 2,000.
 */
export function renderOpenAIPrompt(chat: PreparedChat, window: NeutralMessage[]): void {
  const messages: OpenAIMessage[] = [];
  const json: string[] = [];
  for (const message of window) {
    let rendered = renderings.get(message);
    if (!rendered) {
      const openai = neutralToOpenAI(message, { markToolErrors: true });
      rendered = { messages: openai, json: JSON.stringify(openai).slice(1, -1) };
      renderings.set(message, rendered);
    }
    for (const m of rendered.messages) {
      messages.push(m);
    }
    if (rendered.json !== '') {
      json.push(rendered.json);
    }
  }
  chat.body.messages = messages;
  chat.messagesJson = `[${json.join(',')}]`;
}
