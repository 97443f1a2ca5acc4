import { useEffect, useState } from 'preact/hooks';
import { api, ApiFailure, Me } from '../api';

interface Key {
  id: string;
  name: string;
  user_id: string;
  role: string;
  is_active: boolean;
  allowed_models: string[] | null;
  created_at: string;
  last_used_at: string | null;
}
interface KeyPage {
  data: Key[];
  next_cursor: string | null;
}

const PAGE = 20;

export function KeysPage({ me }: { me: Me }) {
  const [user, setUser] = useState('');
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [page, setPage] = useState<KeyPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [confirming, setConfirming] = useState<Key | null>(null);
  const canChange = me.role === 'admin';
  const cursor = cursors[cursors.length - 1];

  const load = () => {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (cursor) q.set('after', cursor);
    if (user.trim()) q.set('user_id', user.trim());
    api<KeyPage>('GET', `/api/keys?${q}`).then(setPage, (e: Error) => setError(e.message));
  };
  useEffect(load, [cursor, user]);

  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      load();
    } catch (e) {
      setError(e instanceof ApiFailure ? `${e.message} (${e.code})` : String(e));
    }
  };

  return (
    <div>
      {canChange && (
        <CreateKey
          onCreated={(k) => {
            setCreated(k);
            load();
          }}
          onError={setError}
        />
      )}
      {created && (
        <section class="secret" aria-live="polite">
          <h2>Key “{created.name}” created</h2>
          <p>Copy it now: it is shown only this once.</p>
          <code data-testid="new-key">{created.key}</code>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(created.key)}>
            Copy
          </button>
          <button type="button" class="link" onClick={() => setCreated(null)}>
            Done
          </button>
        </section>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <label class="search">
        Filter by user
        <input
          type="search"
          value={user}
          placeholder="user id"
          onInput={(e) => {
            setUser(e.currentTarget.value);
            setCursors([undefined]);
          }}
        />
      </label>
      <div class="scroll">
        <table>
          <caption>API keys, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">User</th>
              <th scope="col">Role</th>
              <th scope="col">Models</th>
              <th scope="col">Last used</th>
              <th scope="col">State</th>
              {canChange && <th scope="col">Actions</th>}
            </tr>
          </thead>
          <tbody>
            {page?.data.map((k) => (
              <tr>
                <td>{k.name}</td>
                <td>{k.user_id}</td>
                <td>{k.role}</td>
                <td>{k.allowed_models?.join(', ') ?? 'all'}</td>
                <td>{k.last_used_at?.replace('T', ' ').slice(0, 16) ?? 'never'}</td>
                <td>{k.is_active ? 'active' : 'disabled'}</td>
                {canChange && (
                  <td class="actions">
                    <button
                      type="button"
                      onClick={() =>
                        void act(() =>
                          api('PATCH', `/api/keys/${k.id}`, { is_active: !k.is_active }),
                        )
                      }
                    >
                      {k.is_active ? 'Disable' : 'Enable'}
                    </button>
                    <button type="button" class="danger" onClick={() => setConfirming(k)}>
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="pager">
        <button
          type="button"
          disabled={cursors.length === 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <button
          type="button"
          disabled={!page?.next_cursor}
          onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
        >
          Next
        </button>
      </div>
      {confirming && (
        <div role="dialog" aria-modal="true" aria-labelledby="confirm-title" class="dialog">
          <h2 id="confirm-title">Delete key “{confirming.name}”?</h2>
          <p>Programs using it stop working at once. This cannot be undone.</p>
          <button
            type="button"
            class="danger"
            onClick={() => {
              const id = confirming.id;
              setConfirming(null);
              void act(() => api('DELETE', `/api/keys/${id}`));
            }}
          >
            Delete for good
          </button>
          <button type="button" onClick={() => setConfirming(null)}>
            Cancel
          </button>
        </div>
      )}
    </div>
  );
}

function CreateKey({
  onCreated,
  onError,
}: {
  onCreated: (k: { name: string; key: string }) => void;
  onError: (message: string) => void;
}) {
  const [form, setForm] = useState({
    name: '',
    user_id: '',
    role: 'user',
    models: '',
    per_second: '',
    burst: '',
    quota: '',
    period: 'day',
  });
  const set = (field: keyof typeof form) => (e: { currentTarget: { value: string } }) =>
    setForm({ ...form, [field]: e.currentTarget.value });

  const submit = async (event: Event) => {
    event.preventDefault();
    const body: Record<string, unknown> = {
      name: form.name,
      user_id: form.user_id,
      role: form.role,
    };
    if (form.models.trim())
      body.allowed_models = form.models
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean);
    if (form.per_second && form.burst)
      body.rate_limit = { per_second: Number(form.per_second), burst: Number(form.burst) };
    if (form.quota) body.token_quota = { limit: Number(form.quota), period: form.period };
    try {
      const created = await api<{ name: string; key: string }>('POST', '/api/keys', body);
      onCreated(created);
      setForm({ ...form, name: '' });
    } catch (e) {
      onError(e instanceof ApiFailure ? `${e.message} (${e.code})` : String(e));
    }
  };

  return (
    <form class="create-key" onSubmit={(e) => void submit(e)}>
      <h2>Create a key</h2>
      <label>
        Name
        <input name="name" required value={form.name} onInput={set('name')} />
      </label>
      <label>
        User
        <input name="user_id" required value={form.user_id} onInput={set('user_id')} />
      </label>
      <label>
        Role
        <select name="role" value={form.role} onChange={set('role')}>
          <option value="user">user</option>
          <option value="service">service</option>
        </select>
      </label>
      <label>
        Allowed models
        <input
          name="allowed_models"
          placeholder="all"
          value={form.models}
          onInput={set('models')}
        />
      </label>
      <label>
        Rate /s
        <input
          name="per_second"
          inputMode="decimal"
          value={form.per_second}
          onInput={set('per_second')}
        />
      </label>
      <label>
        Burst
        <input name="burst" inputMode="numeric" value={form.burst} onInput={set('burst')} />
      </label>
      <label>
        Token quota
        <input name="quota" inputMode="numeric" value={form.quota} onInput={set('quota')} />
      </label>
      <label>
        Per
        <select name="period" value={form.period} onChange={set('period')}>
          <option value="day">day</option>
          <option value="month">month</option>
          <option value="total">total</option>
        </select>
      </label>
      <button type="submit">Create key</button>
    </form>
  );
}
