import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, currentUser, Me, onSignedOut, rememberCsrf } from './api';
import { ConversationsPage } from './pages/conversations';
import { KeysPage } from './pages/keys';
import { OverviewPage } from './pages/overview';
import { PlaygroundPage } from './pages/playground';
import { SignInPage } from './pages/sign-in';
import { UsagePage } from './pages/usage';
import './styles.css';

const PAGES = [
  { path: 'overview', title: 'Overview' },
  { path: 'keys', title: 'Keys' },
  { path: 'usage', title: 'Usage' },
  { path: 'conversations', title: 'Conversations' },
  { path: 'playground', title: 'Playground' },
] as const;

/** `#/keys` or `#/playground/<conversation id>`: the page and its argument. */
function route(): { page: string; arg: string | null } {
  const [page, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  return {
    page: page || 'overview',
    arg: rest.length > 0 ? decodeURIComponent(rest.join('/')) : null,
  };
}

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [where, setWhere] = useState(route());

  useEffect(() => {
    void currentUser().then(setMe);
    onSignedOut(() => setMe(null));
    const onHash = () => setWhere(route());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (me === undefined) {
    return <p class="loading">Loading…</p>;
  }
  if (me === null) {
    return <SignInPage onSignedIn={setMe} />;
  }
  const signOut = async () => {
    await api('POST', '/api/logout');
    rememberCsrf(null);
    setMe(null);
  };
  const current = PAGES.find((p) => p.path === where.page) ?? PAGES[0];
  return (
    <div class="shell">
      <header class="top">
        <span class="brand">Parley</span>
        <nav aria-label="Console pages">
          {PAGES.map((p) => (
            <a href={`#/${p.path}`} aria-current={p.path === current.path ? 'page' : undefined}>
              {p.title}
            </a>
          ))}
        </nav>
        <span class="who">
          {me.user} ({me.role})
          <button type="button" class="link" onClick={() => void signOut()}>
            Sign out
          </button>
        </span>
      </header>
      <main>
        <h1>{current.title}</h1>
        {current.path === 'overview' && <OverviewPage />}
        {current.path === 'keys' && <KeysPage me={me} />}
        {current.path === 'usage' && <UsagePage />}
        {current.path === 'conversations' && <ConversationsPage me={me} arg={where.arg} />}
        {current.path === 'playground' && <PlaygroundPage me={me} arg={where.arg} />}
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
