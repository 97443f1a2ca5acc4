/** One conversation's messages, with the statuses Parley stores (pending, incomplete, failed). */
export interface Message {
  id: string;
  role: string;
  content: string | { type: string; text?: string }[] | null;
  status: string;
  model: string | null;
  error: { code: string } | null;
}

export function textOf(content: Message['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => part.text ?? `[${part.type}]`).join('');
}

export function Transcript({
  messages,
  streaming,
}: {
  messages: Message[];
  streaming?: string | null;
}) {
  return (
    <ol class="transcript">
      {messages.map((m) => (
        <li class={`msg ${m.role} ${m.status}`}>
          <div class="meta">
            <span class="role">{m.role}</span>
            {m.status !== 'completed' && <span class={`badge ${m.status}`}>{m.status}</span>}
            {m.error && <span class="badge failed">{m.error.code}</span>}
            {m.model && <span class="model">{m.model}</span>}
          </div>
          <div class="text">{textOf(m.content)}</div>
        </li>
      ))}
      {streaming !== undefined && streaming !== null && (
        <li class="msg assistant pending" aria-live="polite">
          <div class="meta">
            <span class="role">assistant</span>
            <span class="badge pending">streaming</span>
          </div>
          <div class="text" data-testid="streaming">
            {streaming}
          </div>
        </li>
      )}
    </ol>
  );
}
