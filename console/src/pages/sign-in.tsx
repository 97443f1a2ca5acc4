import { useState } from 'preact/hooks';
import { api, ApiFailure, Me, rememberCsrf } from '../api';

export function SignInPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await api<Me>('POST', '/api/login', { username, password });
      rememberCsrf(me.csrf_token);
      onSignedIn(me);
    } catch (e) {
      setError(
        e instanceof ApiFailure && e.code === 'rate_limit_exceeded'
          ? 'Too many attempts: wait a minute and try again.'
          : 'Wrong username or password.',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in">
      <h1>Parley console</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          Username
          <input
            name="username"
            autocomplete="username"
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            required
          />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
    </main>
  );
}
