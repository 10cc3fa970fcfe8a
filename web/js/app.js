// The signed-in app: chat list, contacts, the conversation, groups.

import { h, mount, icon, timeOf, lastSeenText, throttle, kindName, SYSTEM_USER } from './util.js';
import { ACCEPT, upload, downloadUrl } from './media.js';
import { messageActions, messageDecorators, composerExtras } from './extensions.js';
import { groupInfo, newGroup } from './groups.js';

const TICKS = {
  pending: ['clock', 'Sending'],
  failed: ['!', 'Not sent'],
  sent: ['✓', 'Sent'],
  delivered: ['✓✓', 'Delivered'],
  read: ['✓✓', 'Read'],
};

/** What a message deleted for everyone shows, on both sides (and in the chat list). */
export const DELETED_TEXT = 'This message was deleted';
/** What the sender of a deleted message sees instead (as WhatsApp says it). */
export const DELETED_OWN_TEXT = 'You deleted this message';

const EVENT_TEXT = {
  created: 'created the group',
  added: 'added',
  removed: 'removed',
  left: 'left',
  joined: 'joined with an invite link',
  promoted: 'made an admin:',
  demoted: 'dismissed as admin:',
  updated: 'changed the group info',
};

export class AppView {
  constructor(root, api, socket, store) {
    this.root = root;
    this.api = api;
    this.socket = socket;
    this.store = store;
    this.tab = 'chats';
    this.openKey = null;
    this.els = new Map(); // message key → element (the open chat's)
    this.visible = new Set(); // incoming message ids on screen
    this.scheduled = new Set();
    this.build();
    this.listeners = [
      [store, 'change', (e) => this.onChange(e.detail)],
      [window, 'hashchange', () => this.route()],
      [document, 'visibilitychange', () => this.markVisible()],
    ];
    for (const [target, type, fn] of this.listeners) target.addEventListener(type, fn);
    this.route();
  }

  /** Detaches the view (on sign-out). */
  destroy() {
    for (const [target, type, fn] of this.listeners) target.removeEventListener(type, fn);
    this.observer?.disconnect();
    this.topObserver?.disconnect();
  }

  // ------------------------------------------------------------------ layout

  build() {
    const me = this.api.me;
    this.status = h('p', { class: 'connection', role: 'status', 'aria-live': 'polite' });
    this.chatList = h('ul', { class: 'chat-list', 'aria-label': 'Chats' });
    this.contactsPanel = h('div', { class: 'contacts-panel' });
    this.tabs = {
      chats: h('button', { role: 'tab', id: 'tab-chats', 'aria-controls': 'panel-chats', onclick: () => this.showTab('chats') }, 'Chats'),
      contacts: h('button', { role: 'tab', id: 'tab-contacts', 'aria-controls': 'panel-contacts', onclick: () => this.showTab('contacts') }, 'Contacts'),
    };
    this.panels = {
      chats: h('section', { id: 'panel-chats', role: 'tabpanel', 'aria-labelledby': 'tab-chats' }, this.chatList),
      contacts: h('section', { id: 'panel-contacts', role: 'tabpanel', 'aria-labelledby': 'tab-contacts' }, this.contactsPanel),
    };
    this.sidebar = h(
      'aside',
      { class: 'sidebar', 'aria-label': 'Chats and contacts' },
      h(
        'header',
        { class: 'bar' },
        h('h1', { class: 'me' }, me.username),
        h('button', { type: 'button', onclick: () => newGroup(this), 'aria-label': 'New group' }, 'New group'),
        h('button', { type: 'button', onclick: () => this.api.logout().catch(() => {}) }, 'Log out'),
      ),
      h('div', { role: 'tablist', class: 'tabs', 'aria-label': 'Views', onkeydown: (ev) => this.tabKeys(ev) }, this.tabs.chats, this.tabs.contacts),
      this.panels.chats,
      this.panels.contacts,
    );
    this.conversation = h('main', { class: 'conversation', 'aria-label': 'Conversation' });
    this.dialog = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' });
    this.shell = h('div', { class: 'shell' }, this.status, this.sidebar, this.conversation, this.dialog);
    mount(this.root, this.shell);
    this.showTab('chats');
    this.renderConnection();
    this.renderEmpty();
  }

  showTab(tab) {
    this.tab = tab;
    for (const [name, btn] of Object.entries(this.tabs)) {
      btn.setAttribute('aria-selected', String(name === tab));
      btn.tabIndex = name === tab ? 0 : -1;
      this.panels[name].hidden = name !== tab;
    }
    if (tab === 'contacts') this.renderContacts();
  }

  /** The tabs pattern: arrow keys (and Home / End) move between tabs. */
  tabKeys(ev) {
    const order = ['chats', 'contacts'];
    const i = order.indexOf(this.tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: order.length - 1 }[ev.key];
    if (next === undefined) return;
    ev.preventDefault();
    const tab = order[(next + order.length) % order.length];
    this.showTab(tab);
    this.tabs[tab].focus();
  }

  route() {
    const hash = decodeURIComponent(location.hash.slice(1));
    const join = hash.match(/^\/join\/([A-Za-z0-9_-]+)$/);
    if (join) {
      this.api
        .post(`/api/groups/join/${join[1]}`)
        .then((g) => this.store.sync().then(() => (location.hash = `#/chat/g:${g.id}`)))
        .catch((e) => this.toast(e.code === 'invite_not_found' ? 'This invite link is no longer valid' : e.message));
      return;
    }
    const chat = hash.match(/^\/chat\/([dg]:[0-9a-f-]{36})$/);
    this.open(chat ? chat[1] : null);
  }

  toast(text) {
    const t = document.getElementById('toast');
    t.textContent = text;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (t.textContent = ''), 5000);
  }

  onChange({ what, key }) {
    if (what === 'connection') return this.renderConnection();
    if (what === 'chats' || what === 'presence' || what === 'typing') this.later('chats');
    if (what === 'contacts' || what === 'presence') this.later('contacts');
    if (key && key === this.openKey) {
      if (what === 'messages' || what === 'ticks') this.later('messages');
      if (what === 'presence' || what === 'typing' || what === 'group' || what === 'messages') this.later('header');
    }
  }

  /** Coalesces renders into the next frame. */
  later(part) {
    if (this.scheduled.has(part)) return;
    this.scheduled.add(part);
    requestAnimationFrame(() => {
      this.scheduled.delete(part);
      if (part === 'chats') this.renderChats();
      if (part === 'contacts' && this.tab === 'contacts') this.renderContacts();
      if (part === 'messages') this.renderMessages();
      if (part === 'header') this.renderHeader();
    });
  }

  renderConnection() {
    const s = this.socket.state;
    const text = s === 'ready' ? '' : navigator.onLine === false ? 'Offline: messages are sent when you are back online' : 'Connecting…';
    this.status.textContent = text;
    this.status.hidden = !text;
    document.body.dataset.connection = s;
  }

  // ------------------------------------------------------------------ chat list

  presenceText(userId) {
    return this.store.online(userId) ? 'online' : lastSeenText(this.store.lastSeen(userId));
  }

  preview(chat) {
    const m = chat.lastMessage;
    if (!m) return '';
    if (m.event) return this.eventText(m);
    const who = chat.kind === 'group' && m.senderId !== SYSTEM_USER ? `${this.store.nameOf(m.senderId)}: ` : '';
    if (m.deleted) return m.senderId === this.api.me.id ? DELETED_OWN_TEXT : `${who}${DELETED_TEXT}`;
    const body = m.type === 'text' ? m.content : m.media?.caption || kindName(m.type);
    return who + body;
  }

  renderChats() {
    const chats = [...this.store.chats.values()]
      .filter((c) => c.lastMessage || c.key === this.openKey || c.kind === 'group' || this.store.typing(c))
      .sort((a, b) => ((b.lastMessage?.id ?? b.updatedAt ?? '') > (a.lastMessage?.id ?? a.updatedAt ?? '') ? 1 : -1));
    if (!chats.length) {
      mount(this.chatList, h('li', { class: 'empty' }, 'No chats yet. Find people under Contacts.'));
      return;
    }
    mount(
      this.chatList,
      chats.map((c) => {
        const title = this.store.title(c);
        const typing = this.store.typing(c);
        const sub = typing ? 'typing…' : this.preview(c);
        const online = c.kind === 'direct' && this.store.online(c.peerId);
        return h(
          'li',
          { dataset: { key: c.key } },
          h(
            'a',
            {
              href: `#/chat/${c.key}`,
              class: `chat-item${c.key === this.openKey ? ' current' : ''}`,
              'aria-current': c.key === this.openKey ? 'page' : undefined,
            },
            h('span', { class: `avatar${online ? ' online' : ''}`, 'aria-hidden': 'true' }, title.slice(0, 1).toUpperCase()),
            h(
              'span',
              { class: 'chat-text' },
              h('span', { class: 'chat-title' }, title, online ? h('span', { class: 'sr-only' }, ' (online)') : null),
              h('span', { class: `chat-preview${typing ? ' typing' : ''}` }, sub),
            ),
            h(
              'span',
              { class: 'chat-meta' },
              c.lastMessage ? h('time', { datetime: c.lastMessage.createdAt }, timeOf(c.lastMessage.createdAt)) : null,
              c.unreadCount > 0 ? h('span', { class: 'unread', 'aria-label': `${c.unreadCount} unread` }, String(c.unreadCount)) : null,
            ),
          ),
        );
      }),
    );
  }

  // ------------------------------------------------------------------ contacts

  renderContacts() {
    const s = this.store;
    const results = h('ul', { class: 'results', 'aria-label': 'Search results' });
    const query = h('input', { id: 'search', type: 'search', autocomplete: 'off', placeholder: 'Username or +phone' });
    const search = h(
      'form',
      {
        role: 'search',
        onsubmit: async (ev) => {
          ev.preventDefault();
          const q = query.value.trim();
          if (!q) return;
          try {
            const found = await this.api.get(`/api/users/search?query=${encodeURIComponent(q)}`);
            mount(
              results,
              found.length
                ? found.map((u) => this.userRow(u))
                : h('li', { class: 'empty' }, 'Nobody found'),
            );
          } catch (e) {
            mount(results, h('li', { class: 'error' }, e.message));
          }
        },
      },
      h('label', { for: 'search' }, 'Find people'),
      h('div', { class: 'row' }, query, h('button', { type: 'submit' }, 'Search')),
    );
    const pending = s.pendingRequests.map((r) =>
      h(
        'li',
        { class: 'person' },
        h('span', { class: 'name' }, r.sender?.username ?? 'Someone'),
        h('button', { type: 'button', class: 'primary', onclick: () => this.answer(r, 'accept') }, 'Accept', h('span', { class: 'sr-only' }, ` ${r.sender?.username}`)),
        h('button', { type: 'button', onclick: () => this.answer(r, 'reject') }, 'Reject', h('span', { class: 'sr-only' }, ` ${r.sender?.username}`)),
      ),
    );
    const sent = s.sentRequests.map((r) => h('li', { class: 'person' }, h('span', { class: 'name' }, r.receiver?.username ?? 'Someone'), h('span', { class: 'muted' }, 'waiting')));
    const contacts = [...s.contacts.values()]
      .sort((a, b) => a.username.localeCompare(b.username))
      .map((c) =>
        h(
          'li',
          { class: 'person' },
          h('span', { class: `avatar small${c.online ? ' online' : ''}`, 'aria-hidden': 'true' }, c.username.slice(0, 1).toUpperCase()),
          h('span', { class: 'name' }, c.username, h('span', { class: 'muted' }, ` · ${this.presenceText(c.id)}`)),
          h('a', { href: `#/chat/d:${c.id}`, class: 'button' }, 'Message', h('span', { class: 'sr-only' }, ` ${c.username}`)),
        ),
      );
    mount(
      this.contactsPanel,
      search,
      results,
      pending.length ? [h('h2', {}, 'Requests'), h('ul', { 'aria-label': 'Contact requests' }, pending)] : null,
      sent.length ? [h('h2', {}, 'Sent'), h('ul', { 'aria-label': 'Sent requests' }, sent)] : null,
      h('h2', {}, 'Contacts'),
      contacts.length ? h('ul', { 'aria-label': 'Contacts' }, contacts) : h('p', { class: 'empty' }, 'No contacts yet.'),
    );
  }

  userRow(u) {
    const s = this.store;
    let action;
    if (s.contacts.has(u.id)) action = h('a', { href: `#/chat/d:${u.id}`, class: 'button' }, 'Message');
    else if (s.sentRequests.some((r) => r.receiverId === u.id)) action = h('span', { class: 'muted' }, 'Requested');
    else {
      action = h(
        'button',
        {
          type: 'button',
          class: 'primary',
          onclick: async (ev) => {
            ev.target.disabled = true;
            try {
              await this.api.post('/api/contacts/request', { receiverId: u.id });
              ev.target.replaceWith(h('span', { class: 'muted' }, 'Requested'));
              await Promise.all([s.loadRequests(), s.loadContacts()]);
            } catch (e) {
              ev.target.disabled = false;
              this.toast(e.message);
            }
          },
        },
        'Add contact',
        h('span', { class: 'sr-only' }, ` ${u.username}`),
      );
    }
    return h('li', { class: 'person' }, h('span', { class: 'name' }, u.username, h('span', { class: 'muted' }, ` · ${u.status ?? ''}`)), action);
  }

  async answer(r, how) {
    try {
      await this.api.post(`/api/contacts/${how}/${r.id}`);
      await Promise.all([this.store.loadRequests(), this.store.loadContacts()]);
    } catch (e) {
      this.toast(e.message);
    }
  }

  // ------------------------------------------------------------------ conversation

  renderEmpty() {
    mount(this.conversation, h('div', { class: 'placeholder' }, h('p', {}, 'Pick a chat, or find people under Contacts.')));
    this.shell.dataset.view = 'list';
  }

  open(key) {
    this.composeMode(null);
    if (this.sheet?.open) this.sheet.close();
    if (this.observer) this.observer.disconnect();
    if (this.topObserver) this.topObserver.disconnect();
    this.els = new Map();
    this.visible = new Set();
    this.openKey = key;
    this.store.openKey = key;
    this.renderChats();
    if (!key) return this.renderEmpty();
    const chat = this.store.chat(key);
    this.shell.dataset.view = 'chat';
    this.header = h('header', { class: 'bar conv-header' });
    this.list = h('ol', { class: 'messages', role: 'log', 'aria-label': `Messages with ${this.store.title(chat)}`, tabindex: '0' });
    this.top = h('li', { class: 'top', 'aria-hidden': 'true' });
    this.list.append(this.top);
    this.composerBar = h('div', { class: 'composer-bar', id: 'composer-bar', hidden: true });
    this.composer = this.buildComposer(chat);
    mount(this.conversation, this.header, this.list, this.composerBar, this.composer);
    this.renderHeader();
    this.observer = new IntersectionObserver((entries) => this.onSeen(entries), { root: this.list, threshold: 0.6 });
    this.topObserver = new IntersectionObserver(
      (entries) => entries.some((e) => e.isIntersecting) && this.loadOlder(chat),
      { root: this.list, rootMargin: '200px 0px 0px 0px' },
    );
    if (chat.kind === 'direct' && !chat.peer) this.store.profile(chat.peerId).then((p) => ((chat.peer = p), this.renderHeader()), () => {});
    if (chat.kind === 'group') this.store.loadGroup(chat).catch(() => {});
    const first = chat.loaded ? Promise.resolve() : this.store.loadOlder(chat);
    first
      .catch((e) => this.toast(e.message))
      .finally(() => {
        this.renderMessages(true);
        this.topObserver.observe(this.top);
      });
    this.composerInput.focus();
  }

  async loadOlder(chat) {
    if (chat.older === null || !chat.loaded || chat.loadingOlder) return;
    const before = this.list.scrollHeight;
    const got = await this.store.loadOlder(chat).catch(() => false);
    if (!got) return;
    this.renderMessages();
    this.list.scrollTop += this.list.scrollHeight - before;
  }

  renderHeader() {
    const chat = this.store.chats.get(this.openKey);
    if (!chat || !this.header) return;
    const title = this.store.title(chat);
    let sub;
    if (chat.kind === 'direct') sub = this.store.typing(chat) ? 'typing…' : this.presenceText(chat.peerId);
    else if (chat.left) sub = 'You are no longer a member';
    else sub = chat.members ? chat.members.map((m) => this.store.nameOf(m.userId)).join(', ') : '';
    mount(
      this.header,
      h('a', { href: '#/', class: 'button back', 'aria-label': 'Back to chats' }, '←'),
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, title.slice(0, 1).toUpperCase()),
      h('div', { class: 'conv-title' }, h('h2', {}, title), h('p', { class: `presence${this.store.typing(chat) ? ' typing' : ''}`, 'aria-live': 'polite' }, sub)),
      chat.kind === 'group' ? h('button', { type: 'button', onclick: () => groupInfo(this, chat) }, 'Group info') : null,
    );
  }

  buildComposer(chat) {
    const input = h('textarea', {
      id: 'composer',
      rows: 1,
      placeholder: 'Message',
      'aria-label': 'Message',
      autocomplete: 'off',
    });
    this.composerInput = input;
    const typing = throttle(() => this.store.sendTyping(chat), 3000);
    input.addEventListener('input', () => input.value && typing());
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      } else if (ev.key === 'Escape' && this.mode) {
        ev.preventDefault();
        this.composeMode(null);
      }
    });
    const file = h('input', { type: 'file', id: 'attach', accept: ACCEPT, class: 'sr-only' });
    file.addEventListener('change', async () => {
      const f = file.files[0];
      file.value = '';
      if (f) await this.sendFile(chat, f, input.value.trim());
    });
    const form = h(
      'form',
      {
        class: 'composer',
        onsubmit: (ev) => {
          ev.preventDefault();
          const text = input.value;
          if (this.mode?.onSubmit) {
            // Editing: the text replaces the message's (the mode decides what to do with it).
            if (this.mode.onSubmit(text) === false) return;
            this.composeMode(null);
            input.value = '';
            return;
          }
          if (!text.trim()) return;
          this.store.send(chat, { content: text, extra: this.extras(chat) });
          this.composeMode(null);
          input.value = '';
          input.focus();
        },
      },
      h('label', { for: 'attach', class: 'button attach', title: 'Attach a photo or file' }, icon('attach'), h('span', { class: 'sr-only' }, 'Attach a photo or file')),
      file,
      input,
      h('button', { type: 'submit', class: 'primary send' }, 'Send'),
    );
    this.sendButton = form.querySelector('.send');
    this.attachButton = form.querySelector('.attach');
    if (chat.left) form.hidden = true;
    return form;
  }

  /** Every composer extra (`{rp}` while replying), merged: the extra MSG fields of a send. */
  extras(chat) {
    return Object.assign({}, ...composerExtras.map((x) => x(chat) ?? {}));
  }

  /**
   * The bar above the composer (replying to, or editing, a message), or none (null).
   * `{label, preview, cancelLabel, text?, submitLabel?, onSubmit?(text), onClose?()}`: `text`
   * fills the box; `onSubmit` takes the next submit instead of a send (false: keep the mode).
   * Closed after a send, by its cancel button, by Escape in the box, and when the chat changes.
   */
  composeMode(mode) {
    const old = this.mode;
    this.mode = mode;
    if (old && old !== mode) old.onClose?.();
    const bar = this.composerBar;
    const input = this.composerInput;
    if (!bar || !input) return;
    // The bar takes room from the messages: keep the newest in view if they were.
    const l = this.list;
    const atBottom = l && l.scrollHeight - l.scrollTop - l.clientHeight < 60;
    requestAnimationFrame(() => atBottom && (l.scrollTop = l.scrollHeight));
    // The text an edit put in the box is not a draft: it goes with the edit.
    if (old?.text !== undefined && old !== mode) input.value = '';
    if (!mode) {
      bar.hidden = true;
      bar.replaceChildren();
      input.removeAttribute('aria-describedby');
      if (this.sendButton) this.sendButton.textContent = 'Send';
      if (this.attachButton) this.attachButton.hidden = false;
      return;
    }
    mount(
      bar,
      h(
        'div',
        { class: 'composer-bar-body', id: 'composer-bar-text' },
        h('span', { class: 'composer-bar-label' }, mode.label),
        mode.preview ? h('span', { class: 'composer-bar-preview' }, mode.preview) : null,
      ),
      h('button', { type: 'button', class: 'icon-button', 'aria-label': mode.cancelLabel, title: mode.cancelLabel, onclick: () => (this.composeMode(null), input.focus()) }, '✕'),
    );
    bar.hidden = false;
    input.setAttribute('aria-describedby', 'composer-bar-text');
    if (mode.text !== undefined) input.value = mode.text;
    if (this.sendButton) this.sendButton.textContent = mode.submitLabel ?? 'Send';
    if (this.attachButton) this.attachButton.hidden = !!mode.onSubmit;
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
  }

  async sendFile(chat, file, caption) {
    this.toast(`Uploading ${file.name}…`);
    try {
      const up = await upload(this.api, file);
      this.store.send(chat, { type: up.kind, mediaId: up.mediaId, caption, thumbnail: up.thumbnail, extra: this.extras(chat) });
      this.composeMode(null);
      if (caption) this.composerInput.value = '';
      this.toast('');
    } catch (e) {
      this.toast(e.network ? 'You are offline: files are sent only online' : `Could not send the file: ${e.message}`);
    }
  }

  eventText(m) {
    const e = m.event;
    const by = this.store.nameOf(e.by);
    const users = (e.users ?? []).map((u) => this.store.nameOf(u)).join(', ');
    const what = EVENT_TEXT[e.ev] ?? e.ev;
    return ['left', 'created', 'joined', 'updated'].includes(e.ev) ? `${by} ${what}` : `${by} ${what} ${users}`;
  }

  renderMessages(initial = false) {
    const chat = this.store.chats.get(this.openKey);
    if (!chat || !this.list) return;
    const l = this.list;
    const atBottom = initial || l.scrollHeight - l.scrollTop - l.clientHeight < 60;
    let mineAdded = false;
    const seen = new Set();
    let prev = this.top;
    for (const m of this.store.sorted(chat)) {
      seen.add(m.id);
      let el = this.els.get(m.id);
      if (!el && m.cm) {
        // A pending message that got its id: keep its element.
        el = this.els.get(`cm:${m.cm}`);
        if (el) this.els.delete(`cm:${m.cm}`);
      }
      if (!el) {
        el = this.messageEl(chat, m);
        this.els.set(m.id, el);
        if (m.senderId === this.api.me.id) mineAdded = true;
        if (!m.pending && m.senderId !== this.api.me.id && m.senderId !== SYSTEM_USER) this.observer.observe(el);
      } else if (!m.deleted !== !el.classList.contains('deleted')) {
        // Deleted for everyone: the bubble becomes a tombstone (or back, if the delete failed).
        const had = el.contains(document.activeElement);
        const fresh = this.messageEl(chat, m);
        this.observer.unobserve(el);
        el.replaceWith(fresh);
        el = fresh;
        this.els.set(m.id, el);
        if (m.senderId !== this.api.me.id) this.observer.observe(el);
        if (had) this.list.focus();
      } else {
        this.update(chat, m, el);
        this.els.set(m.id, el);
      }
      if (prev.nextSibling !== el) prev.after(el);
      prev = el;
    }
    for (const [id, el] of this.els) {
      if (!seen.has(id)) {
        el.remove();
        this.els.delete(id);
      }
    }
    if (atBottom || mineAdded) l.scrollTop = l.scrollHeight;
    this.markVisible();
  }

  messageEl(chat, m) {
    const me = this.api.me.id;
    if (m.event || m.senderId === SYSTEM_USER) {
      return h('li', { class: 'msg system', dataset: { id: m.id } }, h('span', { class: 'bubble' }, m.event ? this.eventText(m) : m.content));
    }
    const mine = m.senderId === me;
    const bubble = h('div', { class: 'bubble' });
    const stack = h('div', { class: 'stack' }, bubble);
    const el = h('li', { class: `msg ${mine ? 'out' : 'in'}`, dataset: { id: m.id } }, stack);
    if (chat.kind === 'group' && !mine) bubble.append(h('span', { class: 'sender' }, this.store.nameOf(m.senderId)));
    const meta = h('span', { class: 'meta' }, h('time', { datetime: m.createdAt }, timeOf(m.createdAt)));
    if (m.deleted) {
      el.classList.add('deleted');
      bubble.append(h('span', { class: 'text tombstone' }, h('span', { 'aria-hidden': 'true' }, '🚫 '), mine ? DELETED_OWN_TEXT : DELETED_TEXT), meta);
      el.dataset.rev = String(m.rev ?? 0);
      return el;
    }
    if (m.media) bubble.append(this.mediaEl(m));
    else if (m.type !== 'text') bubble.append(h('span', { class: 'text' }, icon('file'), ` ${m.content}`));
    if (m.type === 'text') bubble.append(h('span', { class: 'text' }, m.content));
    bubble.append(meta);
    if (mine) meta.append(h('span', { class: 'tick' }));
    const options = h(
      'button',
      {
        type: 'button',
        class: 'msg-options',
        'aria-label': 'Message options',
        'aria-haspopup': 'dialog',
        title: 'Message options',
        onclick: (ev) => this.openActions(chat, el.dataset.id, ev.currentTarget),
      },
      h('span', { 'aria-hidden': 'true' }, '⌄'),
    );
    el.append(options);
    this.update(chat, m, el);
    return el;
  }

  /**
   * What depends on a message's actions: its text (edits), the options button (none on a
   * pending message, or when no action applies), and the decorators (a reply's quote,
   * reactions, *edited*). Redrawn whenever the message's `rev` moves.
   */
  decorate(chat, m, el) {
    el.dataset.rev = String(m.rev ?? 0);
    const bubble = el.querySelector('.bubble');
    const text = bubble.querySelector(':scope > .text');
    if (text && m.type === 'text' && text.textContent !== m.content) text.textContent = m.content;
    el.querySelector('.msg-options').hidden = m.pending || !messageActions.some((a) => a.available(this.store, chat, m));
    for (const d of messageDecorators) d(this.store, chat, m, bubble, this);
  }

  update(chat, m, el) {
    el.dataset.id = m.id;
    if (m.deleted) return;
    if (el.dataset.rev !== String(m.rev ?? 0) || el.dataset.pending !== String(!!m.pending)) {
      el.dataset.pending = String(!!m.pending);
      if (!m.deleted && !m.event && m.senderId !== SYSTEM_USER) this.decorate(chat, m, el);
    }
    if (m.media && !m.pending && !el.dataset.media) {
      el.dataset.media = 'loading';
      this.loadMedia(el, m);
    }
    if (m.senderId !== this.api.me.id || m.event) return;
    const status = this.store.statusOf(chat, m);
    if (el.dataset.status === status && !m.failed) return;
    el.dataset.status = status;
    const [glyph, label] = TICKS[status];
    const tick = el.querySelector('.tick');
    tick.className = `tick ${status}`;
    mount(tick, glyph === 'clock' ? icon('clock') : h('span', { 'aria-hidden': 'true' }, glyph), h('span', { class: 'sr-only' }, label));
    tick.title = label;
    el.querySelector('.failed')?.remove();
    if (m.failed) {
      el.querySelector('.bubble').append(
        h(
          'span',
          { class: 'failed', role: 'alert' },
          `Not sent: ${m.failed} `,
          h('button', { type: 'button', class: 'link', onclick: () => this.store.discard(m.cm) }, 'Discard'),
        ),
      );
    }
  }

  mediaEl(m) {
    const { caption, thumbnail } = m.media;
    const fig = h('figure', { class: `media ${m.type}` });
    if (m.type === 'image') {
      fig.append(
        h('img', {
          class: 'thumb',
          alt: caption ? `Photo: ${caption}` : 'Photo',
          src: thumbnail ? `data:image/jpeg;base64,${thumbnail}` : undefined,
          width: 240,
        }),
      );
    } else {
      fig.append(h('a', { href: '#', class: 'file' }, icon('file'), h('span', {}, m.type)));
    }
    if (caption) fig.append(h('figcaption', {}, caption));
    return fig;
  }

  /** Swaps the thumbnail for the full image (or names the file) once the message is stored. */
  loadMedia(el, m) {
    const img = el.querySelector('.media img');
    const link = el.querySelector('.media .file');
    downloadUrl(this.api, m.media.mediaId)
      .then((d) => {
        if (img) {
          const full = new Image();
          full.onload = () => {
            img.src = d.url;
            img.classList.replace('thumb', 'full');
          };
          full.src = d.url;
          img.onclick = () => window.open(d.url, '_blank', 'noopener');
        }
        if (link) {
          link.querySelector('span').textContent = d.fileName ?? m.type;
          link.onclick = async (ev) => {
            ev.preventDefault();
            const fresh = await downloadUrl(this.api, m.media.mediaId);
            window.open(fresh.url, '_blank', 'noopener');
          };
        }
      })
      .catch(() => {});
  }

  // ------------------------------------------------------------------ message actions

  /**
   * The message options (WhatsApp's long-press sheet): every action available now, drawn by
   * the action (`render`) or as a button (`run`). A modal dialog: focus stays inside, Escape
   * or a click outside closes it, and focus goes back to the message's options button.
   */
  openActions(chat, id, trigger) {
    const m = chat.messages.get(id);
    if (!m || m.pending || m.deleted) return;
    const actions = messageActions.filter((a) => a.available(this.store, chat, m));
    if (!actions.length) return;
    const sheet = this.ensureSheet();
    const close = () => sheet.open && sheet.close();
    const who = m.senderId === this.api.me.id ? 'Your message' : `Message from ${this.store.nameOf(m.senderId)}`;
    const snippet = m.type === 'text' ? m.content : m.media?.caption || kindName(m.type);
    this.sheetReturn = trigger;
    mount(
      sheet,
      h('h2', { id: 'sheet-title', class: 'sheet-title' }, who),
      h('p', { class: 'sheet-snippet' }, snippet),
      actions.map((a) =>
        a.render
          ? a.render(this.store, chat, m, this, close)
          : h('button', { type: 'button', class: `sheet-action${a.danger ? ' danger' : ''}`, onclick: () => (close(), a.run(this.store, chat, m, this)) }, a.label),
      ),
      h('button', { type: 'button', class: 'sheet-action', onclick: close }, 'Cancel'),
    );
    if (!sheet.open) sheet.showModal();
    sheet.querySelector('button:not([disabled])')?.focus();
  }

  /** Asks in the sheet: resolves true when the user confirms. */
  confirm({ title, text, confirmLabel, danger = false }) {
    const sheet = this.ensureSheet();
    return new Promise((resolve) => {
      const done = (ok) => {
        sheet.removeEventListener('close', onClose);
        if (sheet.open) sheet.close();
        resolve(ok);
      };
      // (A close event still on its way from the sheet this replaced is not the answer.)
      const onClose = () => sheet.open || done(false);
      mount(
        sheet,
        h('h2', { id: 'sheet-title', class: 'sheet-title' }, title),
        text ? h('p', { class: 'sheet-snippet' }, text) : null,
        h('button', { type: 'button', class: `sheet-action${danger ? ' danger' : ''}`, onclick: () => done(true) }, confirmLabel),
        h('button', { type: 'button', class: 'sheet-action', onclick: () => done(false) }, 'Cancel'),
      );
      sheet.addEventListener('close', onClose);
      if (!sheet.open) sheet.showModal();
      sheet.querySelector('.sheet-action').focus();
    });
  }

  ensureSheet() {
    if (!this.sheet) {
      this.sheet = h('dialog', { class: 'sheet', 'aria-labelledby': 'sheet-title' });
      // A click on the backdrop (the dialog itself, outside its content box) closes it.
      this.sheet.addEventListener('click', (ev) => {
        if (ev.target !== this.sheet) return;
        const r = this.sheet.getBoundingClientRect();
        const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
        if (!inside) this.sheet.close();
      });
      this.sheet.addEventListener('close', () => {
        if (this.sheet.open) return; // reopened (a confirmation) before this event came
        const back = this.sheetReturn;
        this.sheetReturn = null;
        if (back?.isConnected && document.activeElement !== this.composerInput) back.focus();
      });
      this.shell.append(this.sheet);
    }
    return this.sheet;
  }

  /** Brings a message into view and flashes it (a quote's target). */
  reveal(id) {
    const el = this.els.get(id);
    if (!el) return false;
    el.scrollIntoView({ block: 'center', behavior: 'smooth' });
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
    return true;
  }

  onSeen(entries) {
    for (const e of entries) {
      const id = e.target.dataset.id;
      if (e.isIntersecting) this.visible.add(id);
      else this.visible.delete(id);
    }
    this.markVisible();
  }

  /** Read receipts: only for incoming messages on screen while the page is visible. */
  markVisible() {
    if (document.visibilityState !== 'visible' || !this.openKey || !this.visible.size) return;
    const chat = this.store.chats.get(this.openKey);
    let newest = null;
    for (const id of this.visible) if (!newest || id > newest) newest = id;
    if (chat && newest) this.store.markSeen(chat, newest);
  }
}
