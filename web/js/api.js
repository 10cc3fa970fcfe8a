// The REST client: bearer tokens, refresh with rotating refresh tokens, errors, paging.
//
// The session ({accessToken, refreshToken, expiresAt, user}) lives in localStorage so a
// reload stays signed in. Refresh tokens rotate on every use and a rotated token presented
// again revokes the whole session, so exactly one refresh runs at a time across every tab
// (Web Locks), and a tab re-reads the stored session before refreshing: another tab may
// already have rotated it.

const SESSION_KEY = 'whatspe.session';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_MS = 60_000;

export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
  /** True when the request never reached the server (offline, DNS, connection refused). */
  get network() {
    return this.status === 0;
  }
}

export class Api extends EventTarget {
  constructor(base = '') {
    super();
    this.base = base.replace(/\/$/, '');
    this.session = load();
    this.refreshing = null;
  }

  get signedIn() {
    return !!this.session;
  }
  get me() {
    return this.session?.user;
  }

  /** Stores a session from an auth answer ({accessToken, refreshToken, expiresIn, user?}). */
  setSession(auth, user) {
    this.session = {
      accessToken: auth.accessToken,
      refreshToken: auth.refreshToken,
      expiresAt: Date.now() + (auth.expiresIn ?? 900) * 1000,
      user: user ?? this.session?.user,
    };
    save(this.session);
  }

  setUser(user) {
    if (!this.session) return;
    this.session.user = user;
    save(this.session);
  }

  /** Forgets the session (after logout, or when the server refused it). */
  clear(reason) {
    this.session = null;
    localStorage.removeItem(SESSION_KEY);
    this.dispatchEvent(new CustomEvent('signedout', { detail: reason }));
  }

  /** An access token valid for at least the refresh margin (refreshing first if needed). */
  async freshToken() {
    if (!this.session) throw new ApiError(401, 'missing_token', 'signed out');
    if (this.session.expiresAt - Date.now() < REFRESH_MARGIN_MS) await this.refresh();
    return this.session.accessToken;
  }

  /** Rotates the refresh token once, whoever asks; signs out when the server refuses it. */
  refresh() {
    if (!this.refreshing) {
      const held = this.session?.refreshToken;
      const run = async () => {
        // Another tab may have rotated the token while we waited for the lock.
        const stored = load();
        if (stored && stored.refreshToken !== held && stored.expiresAt - Date.now() > REFRESH_MARGIN_MS) {
          this.session = stored;
          return;
        }
        const token = stored?.refreshToken ?? held;
        if (!token) throw new ApiError(401, 'missing_token', 'signed out');
        let auth;
        try {
          auth = await this.call('POST', '/api/auth/refresh', { refreshToken: token }, { auth: false });
        } catch (e) {
          if (e.status === 401) this.clear(e.code);
          throw e;
        }
        this.setSession(auth.data, stored?.user ?? this.session?.user);
      };
      const locked = navigator.locks ? navigator.locks.request('whatspe-refresh', run) : run();
      this.refreshing = locked.finally(() => (this.refreshing = null));
    }
    return this.refreshing;
  }

  /**
   * One request: `{data, next}` (`next` is `X-Next-Cursor`). Signed requests refresh an
   * expiring token first and, on a 401 for an expired token, refresh once and retry.
   */
  async call(method, path, body, { auth = true, token, retried = false } = {}) {
    const headers = {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (auth) headers.Authorization = `Bearer ${await this.freshToken()}`;
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, 'network', 'You are offline');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!res.ok) {
      const err = data?.error ?? {};
      if (res.status === 401 && auth && !token && !retried && this.session) {
        if (['token_expired', 'invalid_token'].includes(err.code)) {
          await this.refresh();
          return this.call(method, path, body, { auth, retried: true });
        }
        if (['session_revoked', 'missing_token'].includes(err.code)) this.clear(err.code);
      }
      const retryAfter = Number(res.headers.get('Retry-After')) || undefined;
      throw new ApiError(res.status, err.code, err.message, retryAfter);
    }
    return { data, next: res.headers.get('X-Next-Cursor') };
  }

  async get(path) {
    return (await this.call('GET', path)).data;
  }
  async post(path, body = {}) {
    return (await this.call('POST', path, body)).data;
  }
  async patch(path, body) {
    return (await this.call('PATCH', path, body)).data;
  }
  async put(path) {
    return (await this.call('PUT', path)).data;
  }
  async del(path) {
    return (await this.call('DELETE', path)).data;
  }

  /** Every page of a cursor-paged list (bounded: `maxPages`). */
  async all(path, maxPages = 20) {
    const out = [];
    let cursor = null;
    for (let i = 0; i < maxPages; i++) {
      const sep = path.includes('?') ? '&' : '?';
      const { data, next } = await this.call('GET', cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
      out.push(...data);
      if (!next) break;
      cursor = next;
    }
    return out;
  }

  async logout() {
    try {
      await this.call('POST', '/api/auth/logout', {});
    } finally {
      this.clear('logout');
    }
  }
}

function load() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY)) || null;
  } catch {
    return null;
  }
}

function save(s) {
  localStorage.setItem(SESSION_KEY, JSON.stringify(s));
}
