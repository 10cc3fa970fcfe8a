// The client's state and the protocol around it: chats and their messages (deduplicated by
// id), receipts and ticks, typing, presence, the catch-up sync after every CONN, read
// receipts only for what was shown, and the offline outbox.
//
// Message actions (docs/api.md, docs/realtime.md): messages keep their reply quote, reactions
// (one per member), `edited` and `deleted`, from history pages (the truth when they were
// fetched) and from the RCT / EDIT / DEL frames, which js/actions.js hands to applyReaction /
// applyEdit / applyDelete through `frameHandlers` (frame types this file does not handle).
// Every change bumps the message's `rev`, which tells the view to redraw it. `send()` takes
// extra MSG fields (`{rp}` for a reply); see docs/web.md.

import { NEWEST, maxId, clientMessageId, SYSTEM_USER } from './util.js';

const RANK = { pending: -1, sent: 0, delivered: 1, read: 2 };
/** Resend an unacknowledged MSG after this long (same clientMessageId: never a duplicate). */
const ACK_TIMEOUT_MS = 8_000;
/** ERR codes after which the same frame may succeed later. */
const RETRYABLE = new Set(['rate_limited', 'concurrent_update', 'internal', 'unavailable']);
const TYPING_SHOWN_MS = 6_000;
const PAGE = 30;

/** Registered by features that add frame types: `frameHandlers.set('RCT', (store, d) => …)`. */
export const frameHandlers = new Map();

export class Store extends EventTarget {
  constructor(api, socket) {
    super();
    this.api = api;
    this.socket = socket;
    this.me = api.me;
    /** key ('d:' + peer id, or 'g:' + group id) → chat */
    this.chats = new Map();
    this.contacts = new Map();
    this.profiles = new Map();
    this.pendingRequests = [];
    this.sentRequests = [];
    this.openKey = null;
    this.syncing = null;
    this.outboxKey = `whatspe.outbox.${this.me.id}`;
    this.outbox = loadOutbox(this.outboxKey);
    for (const o of this.outbox) this.showPending(o);
    socket.addEventListener('frame', (e) => this.onFrame(e.detail));
    socket.addEventListener('state', (e) => {
      if (e.detail === 'ready') this.onReady();
      else this.live = false;
      this.emit('connection');
    });
    this.live = false;
    this.retryTimer = setInterval(() => this.flush(), 2_000);
  }

  stop() {
    clearInterval(this.retryTimer);
  }

  emit(what, key) {
    this.dispatchEvent(new CustomEvent('change', { detail: { what, key } }));
  }

  // ------------------------------------------------------------------ chats and messages

  chat(key) {
    let c = this.chats.get(key);
    if (!c) {
      const group = key.startsWith('g:');
      c = {
        key,
        kind: group ? 'group' : 'direct',
        peerId: group ? null : key.slice(2),
        groupId: group ? key.slice(2) : null,
        chatId: group ? key.slice(2) : null,
        peer: null,
        group: null,
        lastMessage: null,
        unreadCount: 0,
        updatedAt: null,
        messages: new Map(),
        loaded: false,
        older: undefined, // the next `before` cursor; null: nothing older
        peerCursors: { dlv: null, read: null },
        memberCursors: new Map(),
        members: null,
        groupInfo: null,
        typingUntil: 0,
        readSent: null,
        readWanted: null,
        dlvSent: null,
        // The newest id up to which this device holds the chat's history without a gap:
        // moved by history pages, and by MSG frames once the sync after a CONN is done
        // (frames that arrive before it may overtake what was missed while offline).
        syncedUpTo: null,
      };
      this.chats.set(key, c);
    }
    return c;
  }

  /** The chat with this chat id (frames such as RCT name chats by id), if this device has it. */
  chatById(chatId) {
    for (const c of this.chats.values()) if (c.chatId === chatId) return c;
    return null;
  }

  keyOfMessage(m) {
    if (m.receiverId === m.chatId) return `g:${m.chatId}`;
    return `d:${m.senderId === this.me.id ? m.receiverId : m.senderId}`;
  }

  /**
   * A REST message (MessageView) in the client's shape. `seenAt` is when the request that
   * brought it was made: its reactions are the truth as of then (see mergeSnapshot).
   */
  fromRest(m, seenAt = Date.now()) {
    return {
      id: m.id,
      chatId: m.chatId ?? null,
      cm: m.clientMessageId ?? null,
      senderId: m.senderId,
      content: m.content,
      type: m.type,
      status: m.status,
      createdAt: m.createdAt,
      media: m.deleted ? null : m.media ?? null,
      event: m.event ?? null,
      replyTo: m.deleted ? null : m.replyTo ?? null,
      forwarded: !!m.forwarded,
      edited: !!m.edited,
      editedAt: m.editedAt ?? null,
      deleted: !!m.deleted,
      deletedAt: m.deletedAt ?? null,
      reactions: reactionsByUser(m.reactions),
      snapshotAt: seenAt,
      rev: 0,
    };
  }

  /** A MSG frame in the client's shape. */
  fromFrame(d) {
    return {
      id: d.id,
      cm: null,
      senderId: d.s,
      content: d.c,
      type: d.t,
      status: d.st,
      createdAt: d.ts,
      media: d.mid ? { mediaId: d.mid, caption: d.cap ?? null, thumbnail: d.th ?? null } : null,
      event: null,
      more: !!d.more,
      replyTo: d.q ?? null,
      forwarded: !!d.fw,
      edited: false,
      editedAt: null,
      deleted: false,
      deletedAt: null,
      reactions: {},
      snapshotAt: 0, // a MSG frame says nothing about later actions
      rev: 0,
    };
  }

  /** Adds (or merges) a message; true when it was new. Deduplicates by id. */
  addMessage(chat, msg) {
    const had = chat.messages.get(msg.id);
    if (had) {
      if (RANK[msg.status] > RANK[had.status]) had.status = msg.status;
      if (msg.snapshotAt) this.mergeSnapshot(chat, had, msg);
      else if (had.more && !msg.more) {
        had.content = msg.content;
        had.more = false;
        had.rev++;
      }
      return false;
    }
    // Our own message whose ACK has not come yet (another device's echo, or a REST page).
    if (msg.cm && chat.messages.has(`cm:${msg.cm}`)) chat.messages.delete(`cm:${msg.cm}`);
    chat.messages.set(msg.id, msg);
    if (!chat.lastMessage || msg.id > (chat.lastMessage.id ?? '')) {
      chat.lastMessage = { ...msg, chatId: chat.chatId };
      chat.updatedAt = msg.createdAt;
    }
    return true;
  }

  /**
   * A history page's copy of a message this device holds: its actions as of the request.
   * A delete is final; an edit is taken when newer than the one shown; reactions are replaced
   * unless a reaction changed here (a frame, or a tap) after the request was made.
   */
  mergeSnapshot(chat, had, snap) {
    let changed = false;
    if (had.more && !snap.more) {
      had.content = snap.content;
      had.more = false;
      changed = true;
    }
    if (snap.cm && !had.cm) {
      // My message, whose ACK has not come: this page names it (as a new one would, above).
      had.cm = snap.cm;
      chat.messages.delete(`cm:${snap.cm}`);
      changed = true;
    }
    if (snap.deleted && !had.deleted) {
      tombstone(had, snap.deletedAt);
      changed = true;
    } else if (!had.deleted) {
      if (snap.edited && (!had.editedAt || snap.editedAt > had.editedAt)) {
        Object.assign(had, { content: snap.content, edited: true, editedAt: snap.editedAt });
        changed = true;
      }
      if (snap.replyTo && !had.replyTo) {
        had.replyTo = snap.replyTo;
        changed = true;
      }
      if (snap.forwarded && !had.forwarded) {
        had.forwarded = true;
        changed = true;
      }
      if (snap.snapshotAt > (had.reactedAt ?? 0) && !sameReactions(had.reactions, snap.reactions)) {
        had.reactions = snap.reactions;
        changed = true;
      }
    }
    if (changed) this.changed(chat, had);
  }

  /** A message changed (an action): redraw it, and the chat list if it is the last one. */
  changed(chat, m) {
    m.rev = (m.rev ?? 0) + 1;
    if (chat.lastMessage?.id === m.id) {
      chat.lastMessage = { ...chat.lastMessage, ...pick(m, ['content', 'edited', 'editedAt', 'deleted', 'deletedAt', 'media']) };
      this.emit('chats');
    }
    this.emit('messages', chat.key);
  }

  /**
   * The chat an action frame (RCT, EDIT, DEL: `{c, id, g?}`) is about. A 1:1 chat is keyed by
   * the peer, whom the frame does not name when I sent the message: the chat holding the
   * message (or showing it as its last) is the one.
   */
  chatOfAction(d) {
    if (d.g) return this.chats.get(`g:${d.g}`) ?? null;
    const byId = this.chatById(d.c);
    if (byId) return byId;
    for (const c of this.chats.values()) {
      if (c.messages.has(d.id) || c.lastMessage?.id === d.id) {
        c.chatId = d.c;
        return c;
      }
    }
    return null;
  }

  /** `user` reacted with `emoji` (null: took their reaction back). One per user. */
  applyReaction(chat, id, user, emoji) {
    const m = chat.messages.get(id);
    if (!m || m.deleted) return;
    m.reactedAt = Date.now();
    if ((m.reactions[user] ?? null) === (emoji ?? null)) return;
    const next = { ...m.reactions };
    if (emoji) next[user] = emoji;
    else delete next[user];
    m.reactions = next;
    this.changed(chat, m);
  }

  /** The sender edited a message (`at`: the server's editedAt; null while my edit is on its way). */
  applyEdit(chat, id, text, at) {
    const apply = (m) => {
      if (!m || m.deleted || (at && m.editedAt && m.editedAt > at)) return false;
      Object.assign(m, { content: text, edited: true, editedAt: at ?? m.editedAt ?? null });
      return true;
    };
    const m = chat.messages.get(id);
    if (apply(m)) this.changed(chat, m);
    else if (!m && apply(chat.lastMessage?.id === id ? chat.lastMessage : null)) this.emit('chats');
  }

  /** The sender deleted a message for everyone: a tombstone from now on. */
  applyDelete(chat, id, at) {
    const m = chat.messages.get(id);
    if (m && !m.deleted) {
      tombstone(m, at);
      this.changed(chat, m);
    } else if (!m && chat.lastMessage?.id === id && !chat.lastMessage.deleted) {
      tombstone(chat.lastMessage, at);
      this.emit('chats');
    }
  }

  /** What a reply shows of `m` (the server's quote: the first 100 characters of its text). */
  quoteOf(m) {
    if (!m) return null;
    const text = m.type === 'text' ? m.content : m.media?.caption;
    return { id: m.id, senderId: m.senderId, type: m.type, text: text ? [...text].slice(0, 100).join('') : undefined };
  }

  /** The chat's id (REST paths of actions need it): a 1:1 chat opened only live may lack it. */
  async chatIdOf(chat) {
    if (!chat.chatId) {
      const page = await this.api.call('GET', this.historyPath(chat, `before=${NEWEST}&limit=1`));
      if (page.data[0]) chat.chatId = page.data[0].chatId;
    }
    if (!chat.chatId) throw new Error('This chat has no messages yet');
    return chat.chatId;
  }

  /** The tick of one of my messages: the server's status, moved on by receipts since. */
  statusOf(chat, m) {
    if (m.pending) return m.failed ? 'failed' : 'pending';
    let s = m.status;
    const up = (to) => {
      if (RANK[to] > RANK[s]) s = to;
    };
    if (chat.kind === 'direct') {
      if (chat.peerCursors.read && chat.peerCursors.read >= m.id) up('read');
      else if (chat.peerCursors.dlv && chat.peerCursors.dlv >= m.id) up('delivered');
    } else if (chat.members) {
      // WhatsApp's rule: every member who was there when it was sent (but the sender).
      const others = chat.members.filter((x) => x.userId !== m.senderId && x.joinedAt <= m.createdAt);
      if (others.length) {
        const all = (field) => others.every((x) => (chat.memberCursors.get(x.userId)?.[field] ?? '') >= m.id);
        if (all('read')) up('read');
        else if (all('dlv')) up('delivered');
      }
    }
    return s;
  }

  /**
   * The messages of a chat, oldest first, pending ones last. The echo of my own message (a
   * MSG frame, which carries no clientMessageId) can overtake its ACK: while a pending
   * message with the same content waits for its ACK, such an unclaimed echo is not shown
   * (the ACK claims it; see onAck), so the message never shows twice.
   */
  sorted(chat) {
    const all = [...chat.messages.values()];
    const pending = all.filter((m) => m.pending).sort((a, b) => (a.createdAt < b.createdAt ? -1 : 1));
    const waiting = new Set(pending.filter((m) => !m.failed).map((m) => `${m.type}\n${m.content}`));
    const done = all
      .filter((m) => !m.pending && !(m.senderId === this.me.id && !m.cm && waiting.has(`${m.type}\n${m.content}`)))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    return done.concat(pending);
  }

  historyPath(chat, query) {
    if (chat.kind === 'direct') return `/api/messages/${chat.peerId}?${query}`;
    return `/api/chats/${chat.chatId}/messages?${query}`;
  }

  /**
   * One page of older history (the newest page first). `before` pages never mark anything
   * read: reads are sent only for what the user saw (markSeen).
   */
  async loadOlder(chat) {
    if (chat.older === null || chat.loadingOlder) return false;
    chat.loadingOlder = true;
    try {
      const before = chat.older ?? NEWEST;
      const seenAt = Date.now();
      let page;
      try {
        page = await this.api.call('GET', this.historyPath(chat, `before=${before}&limit=${PAGE}`));
      } catch (e) {
        if (e.status === 404 && chat.kind === 'direct') page = { data: [], next: null };
        else throw e;
      }
      for (const m of page.data) {
        if (!chat.chatId) chat.chatId = m.chatId;
        this.addMessage(chat, this.fromRest(m, seenAt));
      }
      if (!chat.older && page.data.length) chat.syncedUpTo = maxId(chat.syncedUpTo, page.data[0].id);
      chat.older = page.next ?? null;
      chat.loaded = true;
      this.emit('messages', chat.key);
      return page.data.length > 0;
    } finally {
      chat.loadingOlder = false;
    }
  }

  /** Everything newer than what the chat holds (catch-up pages mark it delivered). */
  async catchUp(chat) {
    let after = chat.syncedUpTo;
    if (!after) {
      chat.older = undefined;
      return this.loadOlder(chat);
    }
    for (let i = 0; i < 50; i++) {
      const seenAt = Date.now();
      const page = await this.api.call('GET', this.historyPath(chat, `after=${after}&limit=100`));
      for (const m of page.data) this.addMessage(chat, this.fromRest(m, seenAt));
      if (page.data.length) chat.syncedUpTo = maxId(chat.syncedUpTo, page.data[page.data.length - 1].id);
      if (!page.next || !page.data.length) break;
      after = page.next;
    }
    this.emit('messages', chat.key);
  }

  /**
   * The newest page again, for the actions (reactions, edits, deletes) on messages this device
   * already held while its socket was down: their frames are not replayed, history has them.
   * A `before` page, so it marks nothing read.
   */
  async refreshRecent(chat) {
    const seenAt = Date.now();
    const page = await this.api.call('GET', this.historyPath(chat, `before=${NEWEST}&limit=${PAGE}`));
    for (const m of page.data) this.addMessage(chat, this.fromRest(m, seenAt));
    this.emit('messages', chat.key);
  }

  // ------------------------------------------------------------------ the sync

  /** After every CONN: the chat list, what each loaded chat missed, the outbox. */
  onReady() {
    // A MSG sent on the socket that just went away may never have arrived (or its ACK may
    // be lost): send everything unacknowledged again at once, with the same cm.
    for (const o of this.outbox) o.sentAt = 0;
    const attempt = () =>
      this.sync().then(
        () => (this.live = this.socket.ready),
        (e) => {
          // Frames keep coming, but the gap is not closed until a sync succeeds.
          console.warn('sync failed', e);
          setTimeout(() => this.socket.ready && !this.live && attempt(), 3_000);
        },
      );
    attempt();
    this.flush();
    this.sendReads();
  }

  sync() {
    if (!this.syncing) {
      this.syncing = this.runSync().finally(() => (this.syncing = null));
    }
    return this.syncing;
  }

  async runSync() {
    const [entries] = await Promise.all([
      this.api.all('/api/chats?limit=100', 5),
      this.loadContacts(),
      this.loadRequests(),
    ]);
    for (const e of entries) {
      const key = e.kind === 'group' ? `g:${e.chatId}` : `d:${e.peer.id}`;
      const chat = this.chat(key);
      chat.chatId = e.chatId;
      if (e.peer) {
        chat.peer = e.peer;
        this.profiles.set(e.peer.id, e.peer);
      }
      if (e.group) chat.group = e.group;
      chat.unreadCount = e.unreadCount;
      chat.updatedAt = e.updatedAt;
      if (e.lastMessage) chat.lastMessage = { ...this.fromRest(e.lastMessage), chatId: e.chatId };
      if (chat.loaded) {
        if (e.lastMessage && (!chat.syncedUpTo || e.lastMessage.id > chat.syncedUpTo)) await this.catchUp(chat);
        // Actions taken on held messages while this device was away.
        await this.refreshRecent(chat);
      } else if (!chat.loaded && e.unreadCount > 0 && e.lastMessage && e.lastMessage.senderId !== this.me.id) {
        // This device has the chat's newest message (as the list's preview): delivered.
        this.delivered(chat, e.lastMessage.id, true);
      }
    }
    for (const chat of this.chats.values()) {
      if (chat.kind === 'group' && chat.loaded) this.loadGroup(chat).catch(() => {});
    }
    this.emit('chats');
  }

  async loadContacts() {
    const list = await this.api.all('/api/contacts?limit=100', 10);
    this.contacts = new Map(list.map((c) => [c.id, c]));
    for (const c of list) this.profiles.set(c.id, c);
    this.emit('contacts');
  }

  async loadRequests() {
    const [pending, sent] = await Promise.all([
      this.api.get('/api/contacts/requests/pending'),
      this.api.get('/api/contacts/requests/sent'),
    ]);
    this.pendingRequests = pending;
    this.sentRequests = sent;
    for (const r of pending) if (r.sender) this.profiles.set(r.sender.id, r.sender);
    for (const r of sent) if (r.receiver) this.profiles.set(r.receiver.id, r.receiver);
    this.emit('contacts');
  }

  async loadGroup(chat) {
    const g = await this.api.get(`/api/groups/${chat.groupId}`);
    chat.groupInfo = g;
    chat.members = g.members;
    chat.group = { id: g.id, name: g.name, avatar: g.avatar, memberCount: g.memberCount };
    await Promise.all(g.members.map((m) => this.profile(m.userId).catch(() => null)));
    this.emit('group', chat.key);
    return g;
  }

  /** A user's public profile (cached). */
  async profile(id) {
    if (this.profiles.has(id)) return this.profiles.get(id);
    if (id === this.me.id) return this.me;
    const p = await this.api.get(`/api/users/${id}`);
    this.profiles.set(id, p);
    return p;
  }

  nameOf(id) {
    if (id === this.me.id) return 'You';
    if (id === SYSTEM_USER) return 'WhatsPe';
    return this.profiles.get(id)?.username ?? 'Someone';
  }

  title(chat) {
    if (chat.kind === 'group') return chat.group?.name ?? chat.groupInfo?.name ?? 'Group';
    return chat.peer?.username ?? this.profiles.get(chat.peerId)?.username ?? 'Contact';
  }

  online(userId) {
    return !!this.contacts.get(userId)?.online;
  }

  lastSeen(userId) {
    return this.contacts.get(userId)?.lastSeen ?? this.profiles.get(userId)?.lastSeen ?? null;
  }

  typing(chat) {
    return chat.typingUntil > Date.now();
  }

  // ------------------------------------------------------------------ frames

  onFrame(f) {
    const d = f.d ?? {};
    switch (f.t) {
      case 'MSG':
        return this.onMessage(d);
      case 'ACK':
        return this.onAck(d);
      case 'ERR':
        return this.onError(d);
      case 'READ':
      case 'DLV':
        return this.onReceipt(f.t === 'READ' ? 'read' : 'dlv', d);
      case 'TYPING': {
        const chat = this.chat(`d:${d.s}`);
        chat.typingUntil = Date.now() + TYPING_SHOWN_MS;
        this.emit('typing', chat.key);
        setTimeout(() => this.emit('typing', chat.key), TYPING_SHOWN_MS + 50);
        return;
      }
      case 'PRES': {
        const c = this.contacts.get(d.u);
        if (c) {
          c.online = d.on;
          if (d.ls) c.lastSeen = d.ls;
        }
        const p = this.profiles.get(d.u);
        if (p && d.ls) p.lastSeen = d.ls;
        this.emit('presence', `d:${d.u}`);
        return;
      }
      case 'REQ':
        this.loadRequests().catch(() => {});
        return;
      case 'REQ_ACC':
        this.loadContacts().catch(() => {});
        this.loadRequests().catch(() => {});
        return;
      case 'GRP':
        return this.onGroupEvent(d);
      default: {
        const handler = frameHandlers.get(f.t);
        if (handler) handler(this, d);
      }
    }
  }

  onMessage(d) {
    const key = d.g ? `g:${d.g}` : `d:${d.s === this.me.id ? d.r : d.s}`;
    const chat = this.chat(key);
    if (d.g) chat.chatId = d.g;
    const msg = this.fromFrame(d);
    // The chat list's unread count covers everything up to its last message.
    const newer = !chat.lastMessage || msg.id > chat.lastMessage.id;
    const isNew = this.addMessage(chat, msg);
    if (this.live && chat.loaded) chat.syncedUpTo = maxId(chat.syncedUpTo, msg.id);
    if (!chat.peer && chat.kind === 'direct') this.profile(chat.peerId).then((p) => ((chat.peer = p), this.emit('chats')), () => {});
    if (chat.kind === 'group' && !chat.group) this.loadGroup(chat).catch(() => {});
    if (isNew && d.s !== this.me.id) {
      if (newer) chat.unreadCount += 1;
      chat.typingUntil = 0;
      this.delivered(chat, d.id, false);
    }
    if (msg.more) this.catchUp(chat).catch(() => {});
    this.emit('messages', key);
    this.emit('chats');
  }

  /** A delivery receipt for everything up to `id` (over the socket, else REST). */
  delivered(chat, id, viaRest) {
    if (chat.dlvSent && chat.dlvSent >= id) return;
    chat.dlvSent = id;
    const target = chat.kind === 'group' ? { g: chat.groupId } : { p: chat.peerId };
    if (!viaRest && this.socket.send({ t: 'DLV', d: { ...target, upTo: id } })) return;
    const req = chat.chatId
      ? this.api.post(`/api/chats/${chat.chatId}/delivered`, { upTo: id })
      : this.api.post('/api/messages/delivered', { peerId: chat.peerId, upTo: id });
    req.catch(() => (chat.dlvSent = null));
  }

  onReceipt(field, d) {
    if (d.g) {
      const chat = this.chat(`g:${d.g}`);
      const c = chat.memberCursors.get(d.p) ?? { dlv: null, read: null };
      c[field] = maxId(c[field], d.upTo);
      if (field === 'read') c.dlv = maxId(c.dlv, d.upTo);
      chat.memberCursors.set(d.p, c);
      this.emit('ticks', chat.key);
    } else {
      const chat = this.chat(`d:${d.p}`);
      chat.peerCursors[field] = maxId(chat.peerCursors[field], d.upTo);
      if (field === 'read') chat.peerCursors.dlv = maxId(chat.peerCursors.dlv, d.upTo);
      this.emit('ticks', chat.key);
    }
  }

  onGroupEvent(d) {
    const chat = this.chat(`g:${d.g}`);
    const gone = (d.ev === 'removed' || d.ev === 'left') && (d.users ?? []).includes(this.me.id);
    chat.left = gone;
    if (!gone) this.loadGroup(chat).catch(() => {});
    const after = chat.loaded ? this.catchUp(chat) : Promise.resolve();
    after.catch(() => {}).finally(() => this.sync().catch(() => {}));
  }

  // ------------------------------------------------------------------ reading

  /** The user saw `id` (an incoming message on screen): a read receipt, soon. */
  markSeen(chat, id) {
    if (chat.readSent && chat.readSent >= id) return;
    chat.readWanted = maxId(chat.readWanted, id);
    clearTimeout(chat.readTimer);
    chat.readTimer = setTimeout(() => this.sendRead(chat), 150);
  }

  sendReads() {
    for (const chat of this.chats.values()) if (chat.readWanted) this.sendRead(chat);
  }

  sendRead(chat) {
    const id = chat.readWanted;
    if (!id || (chat.readSent && chat.readSent >= id)) return;
    const target = chat.kind === 'group' ? { g: chat.groupId } : { p: chat.peerId };
    const done = () => {
      chat.readSent = maxId(chat.readSent, id);
      if (chat.readWanted === id) chat.readWanted = null;
      let unread = 0;
      for (const m of chat.messages.values()) if (!m.pending && m.senderId !== this.me.id && m.id > chat.readSent) unread++;
      chat.unreadCount = unread;
      this.emit('chats');
    };
    if (this.socket.send({ t: 'READ', d: { ...target, upTo: id } })) return done();
    const req = chat.chatId
      ? this.api.post(`/api/chats/${chat.chatId}/read`, { upTo: id })
      : this.api.post('/api/messages/read', { peerId: chat.peerId, upTo: id });
    // Offline: readWanted stays, and the next CONN sends it.
    req.then(done, () => {});
  }

  // ------------------------------------------------------------------ sending

  /**
   * Sends a message (text, or `{type, mediaId, caption, thumbnail}`) through the outbox.
   * `extra` is merged into the MSG frame (`{rp: id}`: a reply, shown with its quote at once).
   */
  send(chat, { content, type = 'text', mediaId, caption, thumbnail, extra = {} }) {
    const o = {
      cm: clientMessageId(),
      key: chat.key,
      to: chat.kind === 'group' ? { g: chat.groupId } : { r: chat.peerId },
      c: mediaId ?? content,
      t: type,
      cap: caption || undefined,
      th: thumbnail || undefined,
      extra,
      q: extra.rp ? this.quoteOf(chat.messages.get(extra.rp)) ?? undefined : undefined,
      createdAt: new Date().toISOString(),
      sentAt: 0,
    };
    this.outbox.push(o);
    this.saveOutbox();
    this.showPending(o);
    this.flush();
    return o.cm;
  }

  showPending(o) {
    const chat = this.chat(o.key);
    chat.messages.set(`cm:${o.cm}`, {
      id: `cm:${o.cm}`,
      cm: o.cm,
      pending: true,
      failed: o.failed ?? null,
      senderId: this.me.id,
      content: o.c,
      type: o.t,
      status: 'pending',
      createdAt: o.createdAt,
      media: o.t !== 'text' ? { mediaId: o.c, caption: o.cap ?? null, thumbnail: o.th ?? null } : null,
      event: null,
      replyTo: o.q ?? null,
      forwarded: false,
      edited: false,
      editedAt: null,
      deleted: false,
      deletedAt: null,
      reactions: {},
      snapshotAt: 0,
      rev: 0,
    });
    this.emit('messages', chat.key);
  }

  /** Sends every outbox entry not acknowledged within ACK_TIMEOUT_MS, with its own `cm`. */
  flush() {
    if (!this.socket.ready) return;
    const now = Date.now();
    for (const o of this.outbox) {
      if (o.failed || now - o.sentAt < ACK_TIMEOUT_MS) continue;
      const d = { ...o.to, c: o.c, t: o.t, cm: o.cm, ...o.extra };
      if (o.cap) d.cap = o.cap;
      if (o.th) d.th = o.th;
      if (!this.socket.send({ t: 'MSG', d })) return;
      o.sentAt = now;
    }
  }

  onAck(d) {
    const i = this.outbox.findIndex((o) => o.cm === d.cm);
    if (i < 0) return;
    const [o] = this.outbox.splice(i, 1);
    this.saveOutbox();
    const chat = this.chat(o.key);
    const pending = chat.messages.get(`cm:${o.cm}`);
    chat.messages.delete(`cm:${o.cm}`);
    const echo = chat.messages.get(d.id);
    if (echo) echo.cm = o.cm;
    else {
      this.addMessage(chat, {
        ...pending,
        id: d.id,
        pending: false,
        status: 'sent',
        createdAt: d.ts,
      });
    }
    this.emit('messages', chat.key);
    this.emit('chats');
  }

  onError(d) {
    if (!d.cm) return;
    const o = this.outbox.find((x) => x.cm === d.cm);
    if (!o) return;
    if (RETRYABLE.has(d.code)) {
      o.sentAt = Date.now() + ((d.retryAfter ?? 1) * 1000 - ACK_TIMEOUT_MS);
      return;
    }
    o.failed = d.msg || d.code;
    this.saveOutbox();
    this.showPending(o);
  }

  /** Drops a failed outbox entry. */
  discard(cm) {
    const i = this.outbox.findIndex((o) => o.cm === cm);
    if (i < 0) return;
    const [o] = this.outbox.splice(i, 1);
    this.saveOutbox();
    this.chat(o.key).messages.delete(`cm:${cm}`);
    this.emit('messages', o.key);
  }

  saveOutbox() {
    localStorage.setItem(this.outboxKey, JSON.stringify(this.outbox));
  }

  sendTyping(chat) {
    if (chat.kind === 'direct') this.socket.send({ t: 'TYPING', d: { r: chat.peerId } });
  }
}

/** `[{emoji, count, userIds}]` (history) → `{userId: emoji}` (one reaction per member). */
function reactionsByUser(summary) {
  const out = {};
  for (const r of summary ?? []) for (const u of r.userIds ?? []) out[u] = r.emoji;
  return out;
}

function sameReactions(a, b) {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** A message deleted for everyone: what the server keeps of it (sender, time), nothing more. */
function tombstone(m, at) {
  Object.assign(m, { deleted: true, deletedAt: at ?? null, content: '', media: null, replyTo: null, reactions: {}, edited: false });
}

function pick(o, keys) {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

function loadOutbox(key) {
  try {
    const list = JSON.parse(localStorage.getItem(key)) || [];
    return list.map((o) => ({ ...o, sentAt: 0 }));
  } catch {
    return [];
  }
}
