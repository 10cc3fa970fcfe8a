// The WebSocket client, as docs/realtime.md's reconnect protocol says:
//   1. connect with a fresh access token (as a Sec-WebSocket-Protocol entry: a URL may be
//      logged); a refused upgrade is invisible to a browser, so after a socket that never
//      opened the next try first asks GET /api/user, which refreshes an expired token (and a
//      refresh that the server refuses signs out);
//   2. PING at once; ready once both CONN and PONG arrived ('ready' event: sync, flush);
//   3. PING every `hb` seconds (CONN's, 300); a PING unanswered for PONG_TIMEOUT_MS means the
//      socket is dead even if the browser has not noticed: close it;
//   4. on any close or error, reconnect after min(30 s, 0.5 s × 2^attempt) × random(0.5, 1.5);
//      at once when the browser comes back online.

const PONG_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_MS = 30_000;

export function backoff(attempt) {
  return Math.min(MAX_BACKOFF_MS, 500 * 2 ** attempt) * (0.5 + Math.random());
}

export class Socket extends EventTarget {
  constructor(api, url) {
    super();
    this.api = api;
    this.url = url;
    this.ws = null;
    this.state = 'idle'; // idle | connecting | ready | waiting | stopped
    this.attempt = 0;
    this.failedOpens = 0;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.hb = 300;
    this.onOnline = () => this.state === 'waiting' && this.connectNow();
    this.onOffline = () => this.abandon(4000, 'offline');
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
  }

  get ready() {
    return this.state === 'ready';
  }

  start() {
    if (this.state === 'idle' || this.state === 'stopped') this.connectNow();
  }

  stop() {
    this.state = 'stopped';
    clearTimeout(this.timer);
    this.clearTimers();
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    if (this.ws) this.ws.close(1000, 'bye');
    this.ws = null;
  }

  setState(s) {
    this.state = s;
    this.dispatchEvent(new CustomEvent('state', { detail: s }));
  }

  connectNow() {
    clearTimeout(this.timer);
    this.open().catch(() => this.scheduleReconnect());
  }

  async open() {
    if (this.state === 'stopped') return;
    this.setState('connecting');
    // A refused upgrade (401) is invisible to a browser: after a socket that never opened,
    // ask the REST API, which refreshes an expired token (and signs out a revoked session).
    if (this.failedOpens >= 1) await this.api.get('/api/user');
    const token = await this.api.freshToken();
    const ws = new WebSocket(this.url, [token]);
    this.ws = ws;
    let opened = false;
    let conn = false;
    let pong = false;
    ws.onopen = () => {
      opened = true;
      this.failedOpens = 0;
      ws.send(JSON.stringify({ t: 'PING' }));
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.t === 'CONN') {
        conn = true;
        this.hb = frame.d?.hb || 300;
        this.connection = frame.d;
      } else if (frame.t === 'PONG') {
        pong = true;
        clearTimeout(this.pongTimer);
      }
      if (conn && pong && this.state === 'connecting' && this.ws === ws) {
        this.attempt = 0;
        this.setState('ready');
        this.schedulePing();
      }
      if (frame.t !== 'PONG' && frame.t !== 'CONN') {
        this.dispatchEvent(new CustomEvent('frame', { detail: frame }));
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      if (!opened) this.failedOpens++;
      this.dispatchEvent(new CustomEvent('closed', { detail: { code: ev.code, opened } }));
      if (this.state === 'stopped') return;
      if (ev.code === 1000 && opened) {
        // The server ends a socket with 1000 when the session ended: find out whether it did.
        this.api.get('/api/user').then(
          () => this.scheduleReconnect(),
          (e) => (e.status === 401 ? this.stop() : this.scheduleReconnect()),
        );
        this.setState('waiting');
        return;
      }
      this.scheduleReconnect();
    };
  }

  scheduleReconnect() {
    if (this.state === 'stopped' || !this.api.signedIn) return;
    this.setState('waiting');
    const delay = backoff(this.attempt++);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connectNow(), delay);
  }

  schedulePing() {
    clearTimeout(this.pingTimer);
    this.pingTimer = setTimeout(() => {
      this.ping();
      this.schedulePing();
    }, this.hb * 1000);
  }

  /** A PING that must be answered within PONG_TIMEOUT_MS, else the socket is dead. */
  ping() {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(JSON.stringify({ t: 'PING' }));
    clearTimeout(this.pongTimer);
    this.pongTimer = setTimeout(() => this.abandon(4001, 'no pong'), PONG_TIMEOUT_MS);
  }

  /**
   * Gives up on the current socket at once: on a dead network the browser's closing handshake
   * can take minutes to report, so the close is not waited for.
   */
  abandon(code, reason) {
    const ws = this.ws;
    if (!ws) return;
    ws.onclose({ code, reason, synthetic: true });
    try {
      ws.close(code, reason);
    } catch {
      // already closing
    }
  }

  clearTimers() {
    clearTimeout(this.pingTimer);
    clearTimeout(this.pongTimer);
  }

  /** Sends a frame if the socket is ready; false otherwise (the caller keeps it). */
  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
