/**
 * The neutral message form in which /c1 history is stored: independent of any wire format, so
 * one conversation can be served by an `openai` upstream on one turn and an `anthropic` one on
 * the next. `wire/openai` and `wire/anthropic` map their messages to and from this form.
 */
export type NeutralRole = 'system' | 'user' | 'assistant' | 'tool';

export type NeutralPart =
  | { type: 'text'; text: string }
  /** An image: inline base64 (`data`) or, for models that accept URLs, a URL. */
  | { type: 'image'; mediaType: string | null; data?: string; url?: string }
  /** Audio, video or a file: always inline (URLs are refused at the door). */
  | {
      type: 'media';
      kind: 'audio' | 'video' | 'file';
      mediaType: string | null;
      data: string;
      name?: string;
    }
  /** A tool call made by the assistant; `arguments` is the JSON text as the model produced it. */
  | { type: 'tool_call'; id: string; name: string; arguments: string }
  /** A tool's answer, sent by the client in reply to a tool call. */
  | { type: 'tool_result'; toolCallId: string; content: string; isError?: boolean }
  /** Visible reasoning ("thinking") the model returned; `signature` is kept for Anthropic. */
  | { type: 'reasoning'; text: string; signature?: string };

export interface NeutralMessage {
  role: NeutralRole;
  parts: NeutralPart[];
  /** OpenAI's optional participant name. */
  name?: string;
}
