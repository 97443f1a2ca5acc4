import {
  ConversationDetailResponseDto,
  ConversationMessageDto,
} from 'src/modules/conversations/dto/conversations.dto';

const ROLE_TITLES: Record<string, string> = {
  system: 'System',
  user: 'User',
  assistant: 'Assistant',
  tool: 'Tool',
};

const isoTime = (seconds: number) =>
  new Date(seconds * 1000).toISOString().replace('T', ' ').replace('.000Z', ' UTC');

/** A fenced block whose fence is longer than any backtick run inside `text`. */
function fenced(text: string, language = ''): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${language}\n${text}\n${fence}`;
}

function contentText(content: ConversationMessageDto['content']): string {
  if (content === null) {
    return '';
  }
  if (typeof content === 'string') {
    return content;
  }
  return content
    .map((part) => {
      switch (part.type) {
        case 'text':
          return String(part.text);
        case 'image_url':
          return '*[image]*';
        case 'input_audio':
          return '*[audio]*';
        default:
          return `*[${String(part.type)}]*`;
      }
    })
    .join('\n\n');
}

function renderMessage(m: ConversationMessageDto): string {
  const facts = [isoTime(m.created_at), m.status];
  if (m.model) {
    facts.push(m.model);
  }
  if (m.finish_reason) {
    facts.push(`finish: ${m.finish_reason}`);
  }
  if (m.error) {
    facts.push(`error: ${m.error.code}`);
  }
  const lines = [`### ${ROLE_TITLES[m.role] ?? m.role} · ${facts.join(' · ')}`, ''];
  if (m.tool_call_id) {
    lines.push(`*Result of tool call \`${m.tool_call_id}\`*`, '');
  }
  if (m.reasoning_content) {
    lines.push('> **Reasoning**', ...m.reasoning_content.split('\n').map((l) => `> ${l}`), '');
  }
  for (const result of m.tool_results ?? []) {
    lines.push(
      `**Tool result** \`${String(result.tool_call_id)}\``,
      '',
      fenced(contentText(result.content as ConversationMessageDto['content'])),
      '',
    );
  }
  const text = contentText(m.content);
  if (text) {
    lines.push(text, '');
  } else if (m.status === 'failed') {
    lines.push('*No answer: the turn failed.*', '');
  }
  for (const call of m.tool_calls ?? []) {
    const fn = call.function as { name?: string; arguments?: string } | undefined;
    lines.push(
      `**Tool call** \`${fn?.name ?? 'unknown'}\` (\`${String(call.id)}\`)`,
      '',
      fenced(fn?.arguments ?? '', 'json'),
      '',
    );
  }
  return lines.join('\n');
}

/** A conversation as a Markdown document that reads like the chat it was. */
export function conversationToMarkdown(c: ConversationDetailResponseDto): string {
  const header = [
    `# ${c.title ?? 'Conversation'}`,
    '',
    `- Conversation: \`${c.id}\``,
    ...(c.model ? [`- Model: ${c.model}`] : []),
    `- Started: ${isoTime(c.created_at)}`,
    `- Last active: ${isoTime(c.updated_at)}`,
    `- Messages: ${c.messages.length}`,
    '',
    '---',
    '',
  ];
  return header.join('\n') + c.messages.map(renderMessage).join('\n');
}
