import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { forgetToken, setUnauthorizedHandler, storedToken } from './api.js';
import { LoginPage } from './pages/login-page.js';
import { QueuePage } from './pages/queue-page.js';
import { AccountPage } from './pages/account-page.js';
import { NearPqlsPage } from './pages/near-pqls-page.js';
import { DefinitionsPage } from './pages/definitions-page.js';
import { AlertsPage } from './pages/alerts-page.js';
import { CohortsPage } from './pages/cohorts-page.js';
import { DiscoveryPage } from './pages/discovery-page.js';
import './styles.css';

const NAV = [
  ['#/queue', 'PQL queue'],
  ['#/near', 'Near-PQLs'],
  ['#/cohorts', 'Cohort MRR'],
  ['#/discovery', 'Signal discovery'],
  ['#/definitions', 'Definitions'],
  ['#/alerts', 'Alerts & joins'],
] as const;

function currentRoute(): string[] {
  const hash = location.hash.replace(/^#\/?/, '');
  return (hash === '' ? 'queue' : hash).split('/').map((part) => decodeURIComponent(part));
}

function App() {
  const [token, setToken] = useState(storedToken());
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    setUnauthorizedHandler(() => {
      forgetToken();
      setToken(null);
    });
    return () => removeEventListener('hashchange', onHash);
  }, []);

  if (token === null) return <LoginPage onLogin={(t) => setToken(t)} />;

  const [page = 'queue', ...rest] = route;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/queue">
          PQL
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={href === `#/${page}` ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="link"
          onClick={() => {
            forgetToken();
            setToken(null);
          }}
        >
          Log out
        </button>
      </header>
      <main id="main">
        {page === 'queue' && <QueuePage />}
        {page === 'accounts' && rest[0] !== undefined && <AccountPage accountId={rest[0]} />}
        {page === 'near' && <NearPqlsPage />}
        {page === 'cohorts' && <CohortsPage />}
        {page === 'discovery' && <DiscoveryPage />}
        {page === 'definitions' && <DefinitionsPage selected={rest[0]} />}
        {page === 'alerts' && <AlertsPage />}
        {!['queue', 'accounts', 'near', 'cohorts', 'discovery', 'definitions', 'alerts'].includes(page) && (
          <p role="alert">No page “{page}”.</p>
        )}
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
