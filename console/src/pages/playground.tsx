import { useEffect, useRef, useState } from 'preact/hooks';
import { api, Me, reattach, streamTurn } from '../api';
import { Message, Transcript } from './transcript';

interface Conversation {
  id: string;
  title: string | null;
  busy: boolean;
  updated_at: number;
  messages?: Message[];
}

const POLL_MS = 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Chat with a catalog model through /c1 as the signed-in user (`console:<name>`), streamed.
 * The open conversation is in the address (`#/playground/<id>`), so a reload comes back to it;
 * a reload mid-answer re-attaches to the stream or, where the gateway cannot, polls the
 * conversation until the turn it finishes in the background is stored.
 */
export function PlaygroundPage({ me, arg }: { me: Me; arg: string | null }) {
  const [models, setModels] = useState<string[]>([]);
  const [model, setModel] = useState('');
  const [list, setList] = useState<Conversation[]>([]);
  const [conversationId, setConversationId] = useState<string | null>(arg);
  const [messages, setMessages] = useState<Message[]>([]);
  const [streaming, setStreaming] = useState<string | null>(null);
  const [resuming, setResuming] = useState(false);
  const [prompt, setPrompt] = useState('');
  const [error, setError] = useState<string | null>(null);
  const alive = useRef(true);

  const refreshList = () =>
    api<{ data: Conversation[] }>('GET', '/c1/conversations?limit=50').then(
      (r) => setList(r.data),
      () => undefined,
    );

  const open = async (id: string) => {
    const detail = await api<Conversation>('GET', `/c1/conversations/${id}`);
    setMessages(detail.messages ?? []);
    return detail;
  };

  useEffect(() => {
    alive.current = true;
    api<{ data: { id: string }[] }>('GET', '/v1/models').then(
      (r) => {
        setModels(r.data.map((m) => m.id));
        setModel((current) => current || r.data[0]?.id || '');
      },
      (e: Error) => setError(e.message),
    );
    void refreshList();
    return () => {
      alive.current = false;
    };
  }, []);

  useEffect(() => {
    setConversationId(arg);
    setMessages([]);
    if (!arg) return;
    void (async () => {
      try {
        let detail = await open(arg);
        if (!detail.busy) return;
        setResuming(true);
        let text = '';
        const attached = await reattach(arg, (delta) => setStreaming((text += delta))).catch(
          () => false,
        );
        while (!attached && detail.busy && alive.current) {
          await sleep(POLL_MS);
          detail = await open(arg);
        }
        if (attached) await open(arg);
      } catch (e) {
        setError((e as Error).message);
      } finally {
        setResuming(false);
        setStreaming(null);
      }
    })();
  }, [arg]);

  const send = async (event: Event) => {
    event.preventDefault();
    const text = prompt.trim();
    if (!text || streaming !== null) return;
    setPrompt('');
    setError(null);
    setMessages((m) => [
      ...m,
      {
        id: `local-${Date.now()}`,
        role: 'user',
        content: text,
        status: 'completed',
        model: null,
        error: null,
      },
    ]);
    let answer = '';
    setStreaming('');
    let id = conversationId;
    try {
      await streamTurn(
        { model, messages: [{ role: 'user', content: text }] },
        conversationId,
        (started) => {
          id = started;
          setConversationId(started);
          // The address names the conversation from the first byte on: a reload resumes it.
          history.replaceState(null, '', `#/playground/${started}`);
        },
        (delta) => setStreaming((answer += delta)),
      );
    } catch (e) {
      setError((e as Error).message);
    }
    setStreaming(null);
    if (id) await open(id);
    void refreshList();
  };

  return (
    <div class="playground">
      <nav class="sidebar" aria-label="Your playground conversations">
        <a
          href="#/playground"
          class="new"
          onClick={() => {
            setConversationId(null);
            setMessages([]);
          }}
        >
          New conversation
        </a>
        <ul>
          {list.map((c) => (
            <li>
              <a
                href={`#/playground/${c.id}`}
                aria-current={c.id === conversationId ? 'page' : undefined}
              >
                {c.title ?? c.id.slice(0, 8)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <section class="chat" aria-label="Chat">
        <p class="hint">
          You chat as user <code>console:{me.user}</code>.
        </p>
        <Transcript messages={messages} streaming={streaming} />
        {resuming && (
          <p class="hint" role="status">
            Resuming the answer…
          </p>
        )}
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <form class="composer" onSubmit={(e) => void send(e)}>
          <label>
            Model
            <select name="model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
              {models.map((m) => (
                <option value={m}>{m}</option>
              ))}
            </select>
          </label>
          <label class="grow">
            Message
            <textarea
              name="prompt"
              rows={3}
              value={prompt}
              onInput={(e) => setPrompt(e.currentTarget.value)}
            />
          </label>
          <button type="submit" disabled={streaming !== null || resuming || me.role !== 'admin'}>
            Send
          </button>
        </form>
      </section>
    </div>
  );
}
