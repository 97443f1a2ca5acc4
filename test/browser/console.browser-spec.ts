import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Browser, BrowserContext, Page } from 'playwright-core';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';
import { launchChromium, screenshots, seriousAxeViolations } from 'test/support/browser';
import { CONSOLE_ADMIN_PASSWORD } from 'test/support/console-session';
import { fakeModelCatalog } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { startGateway, TestGateway } from 'test/support/start-gateway';

/**
 * The console in a real browser (issue #16): headless Chromium from Debian's package, the real
 * gateway on an ephemeral port, a fake vLLM upstream. Screenshots of every page at 1280×800 and
 * 390×844 go to test/browser/screenshots/ (git-ignored).
 */
jest.setTimeout(240_000);

describe('the console in Chromium', () => {
  let up: FakeUpstream;
  let gw: TestGateway;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const a11y: Record<string, unknown[]> = {};

  /** Every page is scanned by axe-core once it shows its content. */
  async function scan(name: string): Promise<void> {
    a11y[name] = await seriousAxeViolations(page);
  }

  async function go(hash: string, heading: string): Promise<void> {
    await page.goto(`${gw.url}/console#/${hash}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  beforeAll(async () => {
    up = await startFakeUpstream();
    gw = await startGateway({
      env: { CONSOLE_ADMIN_PASSWORD, CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE: '1000' },
      models: fakeModelCatalog(up.url),
    });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    await gw?.close();
    await up?.close();
  });

  it('signs in, creates a key and shows its secret once, finds its call in usage, reads a transcript, chats, resumes after a reload, signs out', async () => {
    // Sign-in page.
    await page.goto(`${gw.url}/console`);
    await page.getByLabel('Username').waitFor();
    await screenshots(page, 'sign-in');
    await scan('sign-in');
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong-password-here');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    await page.getByLabel('Password').fill(CONSOLE_ADMIN_PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'parley_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });

    // Keys: create one; the secret is shown once.
    await go('keys', 'Keys');
    const form = page.locator('form.create-key');
    await form.getByLabel('Name', { exact: true }).fill('browser-key');
    await form.getByLabel('User', { exact: true }).fill('bob');
    await form.getByRole('button', { name: 'Create key' }).click();
    const secret = (await page.getByTestId('new-key').textContent())!.trim();
    expect(secret).toMatch(/^pk-[A-Za-z0-9_-]{43}$/);
    await page.getByRole('cell', { name: 'browser-key' }).waitFor();
    await screenshots(page, 'keys');
    await scan('keys');
    await page.getByRole('button', { name: 'Done' }).click();
    await page.reload();
    await page.getByRole('cell', { name: 'browser-key' }).waitFor();
    expect(await page.content()).not.toContain(secret);

    // The key works over HTTP, as a program would use it.
    const completion = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'fake', messages: [{ role: 'user', content: 'count me' }] }),
    });
    expect(completion.status).toBe(200);
    const usage = ((await completion.json()) as { usage: { total_tokens: number } }).usage;
    expect(usage.total_tokens).toBeGreaterThan(0);

    // Usage: the call appears under user bob, in the table and on the chart.
    await new Promise((resolve) => setTimeout(resolve, 1_500)); // usage is flushed every second
    await go('usage', 'Usage');
    await page.getByLabel('Group by').selectOption('user');
    const row = page.getByRole('row').filter({ hasText: 'bob' });
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells).toEqual([
      'bob',
      '1',
      expect.any(String),
      expect.any(String),
      String(usage.total_tokens),
    ]);
    const bar = page.locator('figure.chart svg rect title', { hasText: 'bob' });
    expect(await bar.count()).toBe(1);
    expect(await bar.textContent()).toContain(`${usage.total_tokens} tokens, 1 requests`);
    await screenshots(page, 'usage');
    await scan('usage');

    // Conversations: bob has a completed and a failed turn; the admin reads and deletes one.
    const turn = (content: string) =>
      fetch(`${gw.url}/c1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake', messages: [{ role: 'user', content }] }),
      });
    expect((await turn('first question')).status).toBe(200);
    up.next({ kind: 'error', status: 500, body: { error: { message: 'GPU on fire' } } });
    expect((await turn('doomed question')).status).toBe(502);
    await go('conversations', 'Conversations');
    await page.getByLabel('User id').fill('bob');
    await page.getByRole('button', { name: 'Find conversations' }).click();
    const links = page
      .getByRole('navigation', { name: 'Conversations of this user' })
      .getByRole('link');
    await links.first().waitFor();
    expect(await links.count()).toBe(2);
    await links.nth(0).click(); // newest first: the failed turn
    const transcript = page.getByRole('region', { name: 'Transcript' });
    await transcript.locator('li.msg.user').getByText('doomed question').waitFor();
    await transcript.locator('.badge.failed').first().waitFor();
    await screenshots(page, 'conversations');
    await scan('conversations');
    await links.nth(1).click();
    await transcript.locator('li.msg.assistant').getByText('You said: first question').waitFor();
    await page.getByRole('button', { name: 'Delete conversation' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete for good' }).click();
    // A function, not a string: the console's CSP refuses eval, even from the test.
    await page.waitForFunction(
      () => (globalThis as any).document.querySelectorAll('nav.list li').length === 1,
    );

    // Playground: a streamed answer as console:admin.
    await go('playground', 'Playground');
    await page.getByLabel('Message').fill('hello playground');
    await page.getByRole('button', { name: 'Send' }).click();
    await page
      .locator('.transcript li.assistant')
      .getByText('You said: hello playground')
      .waitFor();
    await screenshots(page, 'playground');
    await scan('playground');

    // A reload mid-answer comes back to the conversation and sees the answer finish.
    up.options.streamChunks = 40;
    up.options.chunkDelayMs = 150;
    try {
      await page.getByLabel('Message').fill('a slow and long answer please');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.waitForFunction(
        () =>
          (
            (globalThis as any).document.querySelector('[data-testid="streaming"]')?.textContent ??
            ''
          ).length > 3,
      );
      const midway = (await page.getByTestId('streaming').textContent()) ?? '';
      expect(midway.length).toBeLessThan('You said: a slow and long answer please'.length);
      expect(page.url()).toMatch(/#\/playground\/[0-9a-f-]{36}$/);
      await page.reload();
      await page
        .locator('.transcript li.assistant')
        .getByText('You said: a slow and long answer please')
        .waitFor({ timeout: 30_000 });
      // The streamed text shows before the stream's end; once it ended the page reloads the
      // conversation, and the turn is stored as completed.
      await page
        .locator('.transcript .badge.pending')
        .first()
        .waitFor({ state: 'detached', timeout: 10_000 });
      expect(await page.locator('.transcript .badge.pending').count()).toBe(0);
    } finally {
      up.options.streamChunks = undefined;
      up.options.chunkDelayMs = undefined;
    }
    // Both turns belong to one conversation, listed in the sidebar.
    expect(await page.locator('.transcript li.assistant').allTextContents()).toEqual([
      expect.stringContaining('You said: hello playground'),
      expect.stringContaining('You said: a slow and long answer please'),
    ]);
    const sidebar = page.getByRole('navigation', { name: 'Your playground conversations' });
    expect(await sidebar.getByRole('listitem').count()).toBe(1);

    // Overview, with the traffic of this test.
    await go('overview', 'Overview');
    await page.getByText('Requests, last hour').waitFor();
    await page.getByRole('cell', { name: 'fake', exact: true }).first().waitFor();
    await screenshots(page, 'overview');
    await scan('overview');

    // Sign out: back to the sign-in page, and the session is gone on the server.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Username').waitFor();
    const me = await page.evaluate(async () => (await fetch('/api/me')).status);
    expect(me).toBe(401);

    expect(a11y).toEqual({
      'sign-in': [],
      keys: [],
      usage: [],
      conversations: [],
      playground: [],
      overview: [],
    });
  });

  it('refuses mutations from a page on another origin and cannot be framed by it', async () => {
    await gw.app.get(ConsoleUsersService).create('victim', 'victim-password-1', 'admin');
    const victim = await browser.newContext();
    const tab = await victim.newPage();
    await tab.goto(`${gw.url}/console`);
    await tab.getByLabel('Username').fill('victim');
    await tab.getByLabel('Password').fill('victim-password-1');
    await tab.getByRole('button', { name: 'Sign in' }).click();
    await tab.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const keysBefore = (await gw.admin('GET', '/api/keys?limit=100')).body.data.length;

    // The attacker's page: another origin, the same browser (so the same cookie jar).
    const attacker: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<!doctype html><title>attacker</title>
        <iframe id="frame" src="${gw.url}/console"></iframe>
        <form id="form" method="POST" action="${gw.url}/api/keys" enctype="text/plain" target="sink">
          <input name='{"name":"evil","user_id":"evil","x":"' value='"}'>
        </form><iframe name="sink"></iframe>
        <script>
          window.results = {};
          fetch('${gw.url}/api/keys', { method: 'POST', credentials: 'include', mode: 'no-cors',
            headers: { 'content-type': 'text/plain' }, body: '{"name":"evil2","user_id":"evil"}' })
            .then(() => (results.noCors = 'sent'), (e) => (results.noCors = String(e)));
          fetch('${gw.url}/api/keys', { method: 'POST', credentials: 'include',
            headers: { 'content-type': 'application/json' }, body: '{"name":"evil3","user_id":"evil"}' })
            .then((r) => (results.cors = r.status), (e) => (results.cors = 'blocked'));
          fetch('${gw.url}/api/logout', { method: 'POST', credentials: 'include', mode: 'no-cors' })
            .then(() => (results.logout = 'sent'), () => (results.logout = 'failed'));
          document.getElementById('form').submit();
        </script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    try {
      const evil = await victim.newPage();
      await evil.goto(`http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`);
      await evil.waitForFunction(
        () => {
          const r = (globalThis as any).results;
          return r && r.noCors && r.cors && r.logout;
        },
        undefined,
        { timeout: 10_000 },
      );
      const results = await evil.evaluate(() => (globalThis as any).results);
      // The cross-origin JSON call is stopped by the browser (no CORS), the others reach the
      // gateway with the cookie but without the CSRF token.
      expect(results.cors).toBe('blocked');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const keysAfter = (await gw.admin('GET', '/api/keys?limit=100')).body.data;
      expect(keysAfter.length).toBe(keysBefore);
      expect(keysAfter.map((k: { user_id: string }) => k.user_id)).not.toContain('evil');
      // The forged sign-out did not end the session.
      expect(await tab.evaluate(async () => (await fetch('/api/me')).status)).toBe(200);

      // The console refuses to render inside the attacker's frame (X-Frame-Options: DENY and
      // frame-ancestors 'none'): Chromium shows its error page there instead.
      const frame = await (await evil.$('#frame'))!.contentFrame();
      expect(frame).not.toBeNull();
      expect(frame!.url()).not.toMatch(/^http:\/\/127\.0\.0\.1:\d+\/console/);
      expect(await frame!.locator('input[name="username"]').count()).toBe(0);
    } finally {
      await new Promise((resolve) => attacker.close(resolve));
      await victim.close();
    }
  });

  it('serves hashed assets with a year of cache, and every console response with a strict CSP', async () => {
    const html = await fetch(`${gw.url}/console`);
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    expect(html.headers.get('x-frame-options')).toBe('DENY');
    const body = await html.text();
    expect(body).not.toMatch(/<script>|<style>|\son\w+=/); // nothing inline
    const assets = [...body.matchAll(/\/console\/assets\/(app-[A-Z0-9]+\.(?:js|css))/g)].map(
      (m) => m[1],
    );
    expect(assets).toHaveLength(2);
    for (const asset of assets) {
      const res = await fetch(`${gw.url}/console/assets/${asset}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(res.headers.get('x-frame-options')).toBe('DENY');
    }
    expect(body).not.toMatch(/https?:\/\//);
    // Only built files are served: a path outside them is refused, never read from disk.
    for (const path of ['..%2Fpackage.json', '%2e%2e%2fpackage.json', 'index.html']) {
      const res = await fetch(`${gw.url}/console/assets/${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: expect.any(Number) });
      expect([400, 404]).toContain(res.status);
    }
  });
});
