import { useState } from 'preact/hooks';
import { checkToken, saveToken } from '../api.js';

/** The admin-token login: the token from pql.yaml, PQL_ADMIN_TOKEN or the one `pql serve` printed. */
export function LoginPage({ onLogin }: { onLogin: (token: string) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    const answer = await checkToken(token.trim());
    setBusy(false);
    if (answer === 'ok') {
      saveToken(token.trim());
      onLogin(token.trim());
    } else {
      setError(
        answer === 'forbidden'
          ? 'That token may not read: use the admin token (not a write key).'
          : 'The server did not answer; is pql serve running?',
      );
    }
  }

  return (
    <main class="login">
      <h1>PQL dashboard</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label for="token">Admin token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="current-password"
          required
          value={token}
          onInput={(e) => setToken((e.target as HTMLInputElement).value)}
        />
        <p class="hint">
          From <code>pql.yaml</code> (<code>adminToken</code>), <code>PQL_ADMIN_TOKEN</code>, or the line{' '}
          <code>admin token …</code> that <code>pql serve</code> and <code>npm start</code> print. It is kept
          in this browser until you log out.
        </p>
        {error !== null && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
