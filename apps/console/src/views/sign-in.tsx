import { useEffect, useRef, useState } from 'preact/hooks';
import type { Session } from '../api';
import { message } from '../format';
import { signIn } from '../session';

export function SignIn({ onSignedIn }: { onSignedIn: (session: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  // The page's one field takes the focus, also after signing out (the focused button is gone then).
  useEffect(() => field.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(key.trim()));
    } catch (failure) {
      setError(message(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <h1>Conveyor console</h1>
      <p>Sign in with an API key or the admin key. It is kept for this browser tab only.</p>
      <form onSubmit={submit}>
        <label for="api-key">API key</label>
        <input ref={field} id="api-key" type="password" autoComplete="off" required value={key} onInput={(event) => setKey(event.currentTarget.value)} />
        <button type="submit" disabled={busy || !key.trim()}>
          Sign in
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
