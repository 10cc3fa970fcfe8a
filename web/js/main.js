// Entry point: configuration, the session, then the sign-in flow or the app.

import { Api } from './api.js';
import { Socket } from './socket.js';
import { Store } from './store.js';
import { AppView } from './app.js';
import './actions.js'; // message actions: registers on the extension points
import { signIn } from './auth.js';

/**
 * config.json: {"apiBase": "", "wsUrl": ""}. Empty means this origin (the local gateway);
 * a deployment points them at the stack (docs/deploy.md#the-web-client).
 */
async function config() {
  try {
    const res = await fetch('config.json', { cache: 'no-cache' });
    if (res.ok) return await res.json();
  } catch {
    // no config: same origin
  }
  return {};
}

function wsUrl(cfg) {
  if (cfg.wsUrl) return cfg.wsUrl;
  const base = new URL(cfg.apiBase || location.origin, location.href);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  base.pathname = `${base.pathname.replace(/\/$/, '')}/ws`;
  return base.href;
}

async function main() {
  const root = document.getElementById('app');
  const cfg = await config();
  const api = new Api(cfg.apiBase || '');
  for (;;) {
    if (!api.signedIn) await signIn(root, api);
    try {
      // The stored session may be gone (revoked, or an old one): ask who we are.
      api.setUser(await api.get('/api/user'));
    } catch (e) {
      if (e.status === 401) {
        api.clear(e.code);
        continue;
      }
      // Offline: carry on with the stored user; the socket and the outbox wait.
    }
    const socket = new Socket(api, wsUrl(cfg));
    const store = new Store(api, socket);
    const view = new AppView(root, api, socket, store);
    window.whatspe = { api, socket, store, view }; // for the console and the browser tests
    socket.start();
    await new Promise((resolve) => api.addEventListener('signedout', resolve, { once: true }));
    socket.stop();
    store.stop();
    view.destroy();
    location.hash = '';
  }
}

main();
