import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, Me } from '../api';
import { Message, Transcript } from './transcript';

interface Conversation {
  id: string;
  title: string | null;
  model: string | null;
  busy: boolean;
  updated_at: number;
}
interface Detail extends Conversation {
  messages: Message[];
  forks: { id: string; title: string | null; updated_at: number }[];
}

const when = (s: number) => new Date(s * 1000).toISOString().replace('T', ' ').slice(0, 16);

/** `#/conversations/<user>` lists a user's conversations; `#/conversations/<user>/<id>` reads one. */
export function ConversationsPage({ me, arg }: { me: Me; arg: string | null }) {
  const [userId, id] = (arg ?? '').split('/') as [string, string | undefined];
  const [query, setQuery] = useState(userId ?? '');
  const [list, setList] = useState<Conversation[] | null>(null);
  const [detail, setDetail] = useState<Detail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const base = (user: string) => `/api/users/${encodeURIComponent(user)}/conversations`;

  useEffect(() => {
    setError(null);
    setList(null);
    setDetail(null);
    if (!userId) return;
    api<{ data: Conversation[] }>('GET', `${base(userId)}?limit=50`).then(
      (r) => setList(r.data),
      (e: Error) => setError(e.message),
    );
    if (id) {
      api<Detail>('GET', `${base(userId)}/${id}`).then(setDetail, (e: ApiFailure) =>
        setError(e.message),
      );
    }
  }, [userId, id]);

  const remove = async () => {
    setConfirming(false);
    try {
      await api('DELETE', `${base(userId)}/${id}`);
      location.hash = `#/conversations/${encodeURIComponent(userId)}`;
    } catch (e) {
      setError((e as Error).message);
    }
  };

  return (
    <div class="conversations">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          location.hash = `#/conversations/${encodeURIComponent(query.trim())}`;
        }}
      >
        <label>
          User id
          <input
            name="user"
            value={query}
            placeholder="e.g. alice or console:admin"
            onInput={(e) => setQuery(e.currentTarget.value)}
          />
        </label>
        <button type="submit">Find conversations</button>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <div class="split">
        {list && (
          <nav aria-label="Conversations of this user" class="list">
            {list.length === 0 && <p>No conversations.</p>}
            <ul>
              {list.map((c) => (
                <li>
                  <a
                    href={`#/conversations/${encodeURIComponent(userId)}/${c.id}`}
                    aria-current={c.id === id ? 'page' : undefined}
                  >
                    {c.title ?? c.id.slice(0, 8)}{' '}
                    <small>
                      {when(c.updated_at)}
                      {c.busy ? ' · busy' : ''}
                    </small>
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {detail && (
          <section class="detail" aria-label="Transcript">
            <h2>{detail.title ?? detail.id}</h2>
            <p class="hint">
              {detail.model ?? ''} · updated {when(detail.updated_at)}
              {detail.forks.length > 0 && ' · forks: '}
              {detail.forks.map((f) => (
                <a href={`#/conversations/${encodeURIComponent(userId)}/${f.id}`}>
                  {f.title ?? f.id.slice(0, 8)}{' '}
                </a>
              ))}
            </p>
            <Transcript messages={detail.messages} />
            {me.role === 'admin' && (
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                Delete conversation
              </button>
            )}
          </section>
        )}
      </div>
      {confirming && (
        <div role="dialog" aria-modal="true" aria-labelledby="confirm-delete" class="dialog">
          <h2 id="confirm-delete">Delete this conversation?</h2>
          <p>It is removed for good.</p>
          <button type="button" class="danger" onClick={() => void remove()}>
            Delete for good
          </button>
          <button type="button" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}
