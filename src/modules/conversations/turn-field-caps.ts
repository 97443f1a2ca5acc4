import { ApiError } from 'src/common/errors/api-error';

/** Longest participant name, tool-call id or tool name a /c1 turn stores (#22 item 2). */
export const MAX_IDENTIFIER_CHARS = 256;
/** Longest reasoning signature a /c1 turn stores (Anthropic's are a few hundred bytes). */
export const MAX_SIGNATURE_CHARS = 64 * 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function check(value: unknown, path: string, max: number): void {
  if (typeof value === 'string' && value.length > max) {
    throw new ApiError('invalid_field', `${path} must be at most ${max} characters`, {
      param: path,
    });
  }
}

/** Ids, names and signatures of one content block (Chat Completions part or Anthropic block). */
function checkBlock(block: Obj, path: string): void {
  check(block.id, `${path}.id`, MAX_IDENTIFIER_CHARS);
  check(block.name, `${path}.name`, MAX_IDENTIFIER_CHARS);
  check(block.tool_use_id, `${path}.tool_use_id`, MAX_IDENTIFIER_CHARS);
  check(block.signature, `${path}.signature`, MAX_SIGNATURE_CHARS);
}

/**
 * Refuses, with 400 `invalid_field` at the exact path, the small fields of a /c1 turn that a
 * conversation stores and forwards on every later turn but that no client needs large: a
 * message's `name`, tool-call ids and tool names (256 characters) and reasoning signatures
 * (64 KiB). Texts, tool arguments and results are bounded by the body size and counted by the
 * history window; these would otherwise be a way to grow memory and prompts unnoticed.
 * Covers both wire formats (`messages[i].tool_calls[j]…` and `messages[i].content[k]…`).
 */
export function assertTurnFieldCaps(messages: unknown, path = 'messages'): void {
  if (!Array.isArray(messages)) {
    return;
  }
  for (let i = 0; i < messages.length; i++) {
    const message: unknown = messages[i];
    if (!isObj(message)) {
      continue;
    }
    const at = `${path}[${i}]`;
    check(message.name, `${at}.name`, MAX_IDENTIFIER_CHARS);
    check(message.tool_call_id, `${at}.tool_call_id`, MAX_IDENTIFIER_CHARS);
    if (Array.isArray(message.tool_calls)) {
      message.tool_calls.forEach((call: unknown, j) => {
        if (isObj(call)) {
          check(call.id, `${at}.tool_calls[${j}].id`, MAX_IDENTIFIER_CHARS);
          if (isObj(call.function)) {
            check(call.function.name, `${at}.tool_calls[${j}].function.name`, MAX_IDENTIFIER_CHARS);
          }
        }
      });
    }
    if (Array.isArray(message.content)) {
      message.content.forEach((block: unknown, k) => {
        if (isObj(block)) {
          checkBlock(block, `${at}.content[${k}]`);
        }
      });
    }
  }
}
