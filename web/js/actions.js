// Message actions (DESIGN §10; docs/api.md "Message actions"): reply, react, edit and delete
// for everyone, built on the extension points of js/extensions.js and js/store.js.
//
// - Reply: the quote goes with the send as the MSG frame's `rp` (a composer extra); replies
//   show the quote (`q` on frames, `replyTo` in history).
// - React: a few emoji in the message's options; one reaction per member, a new one replaces
//   yours, your own again takes it back. Reactions show in a row under the bubble; tapping a
//   reaction there does the same as in the options.
// - Edit: your text messages within 15 minutes; the new text goes in the composer.
// - Delete for everyone: your messages within 48 hours, after a confirmation; a tombstone.
//
// Actions go over REST (the socket has no action frames to send); each is shown at once and
// taken back with a message if the server refuses it. RCT / EDIT / DEL frames bring everyone
// else's (and this user's other devices').

import { h, kindName, SYSTEM_USER } from './util.js';
import { messageActions, messageDecorators, composerExtras } from './extensions.js';
import { frameHandlers } from './store.js';

/** The quick reactions (WhatsApp's), with the names their buttons carry. */
export const QUICK_REACTIONS = [
  ['👍', 'thumbs up'],
  ['❤️', 'red heart'],
  ['😂', 'tears of joy'],
  ['😮', 'surprise'],
  ['😢', 'crying'],
  ['🙏', 'thank you'],
];
/** The server's windows (docs/api.md), less a margin: its clock decides, not this one. */
const EDIT_WINDOW_MS = 15 * 60_000 - 15_000;
const DELETE_WINDOW_MS = 48 * 3600_000 - 60_000;

// ------------------------------------------------------------------ frames

frameHandlers.set('RCT', (store, d) => {
  const chat = store.chatOfAction(d);
  if (chat) store.applyReaction(chat, d.id, d.u, d.e ?? null);
});
frameHandlers.set('EDIT', (store, d) => {
  const chat = store.chatOfAction(d);
  if (chat) store.applyEdit(chat, d.id, d.x, d.ts);
});
frameHandlers.set('DEL', (store, d) => {
  const chat = store.chatOfAction(d);
  if (chat) store.applyDelete(chat, d.id, d.ts);
});

// ------------------------------------------------------------------ which actions apply

/** A stored message of a person (not a group notice) in a chat I am still in. */
function actionable(store, chat, m) {
  return !m.pending && !m.deleted && !m.event && m.senderId !== SYSTEM_USER && !chat.left;
}
const mine = (store, m) => m.senderId === store.me.id;
const age = (m) => Date.now() - Date.parse(m.createdAt);

messageActions.push(
  {
    label: 'React',
    available: actionable,
    render: (store, chat, m, ui, close) => picker(store, chat, m, ui, close),
  },
  { label: 'Reply', available: actionable, run: startReply },
  {
    label: 'Edit',
    available: (store, chat, m) => actionable(store, chat, m) && mine(store, m) && m.type === 'text' && age(m) < EDIT_WINDOW_MS,
    run: startEdit,
  },
  {
    label: 'Delete',
    danger: true,
    available: (store, chat, m) => actionable(store, chat, m) && mine(store, m) && age(m) < DELETE_WINDOW_MS,
    run: deleteForEveryone,
  },
);

// ------------------------------------------------------------------ reply

/** The message being answered ({key, id}): the next send in that chat carries it as `rp`. */
let replying = null;

composerExtras.push((chat) => (replying && replying.key === chat.key ? { rp: replying.id } : null));

/** What a quote shows of a message: its text, a media caption, or the kind of media. */
export function quoteText(q) {
  return q.text || (q.type === 'text' ? '' : kindName(q.type));
}

function startReply(store, chat, m, ui) {
  const r = { key: chat.key, id: m.id };
  replying = r;
  ui.composeMode({
    label: `Replying to ${store.nameOf(m.senderId)}`,
    preview: quoteText(store.quoteOf(m)),
    cancelLabel: 'Cancel reply',
    onClose: () => {
      if (replying === r) replying = null;
    },
  });
}

// ------------------------------------------------------------------ react

function picker(store, chat, m, ui, close) {
  const current = m.reactions[store.me.id] ?? null;
  return h(
    'div',
    { class: 'reaction-picker', role: 'group', 'aria-label': 'React' },
    QUICK_REACTIONS.map(([emoji, name]) =>
      h(
        'button',
        {
          type: 'button',
          class: 'emoji',
          'aria-label': `React with ${emoji}`,
          'aria-pressed': String(current === emoji),
          title: current === emoji ? `Remove your ${name}` : `React with ${name}`,
          onclick: () => {
            close();
            react(store, chat, m.id, emoji, ui);
          },
        },
        emoji,
      ),
    ),
  );
}

const queues = new Map();

/**
 * Sets my reaction to `emoji`, or takes it back when it is already mine. Shown at once; the
 * requests for one message go one after another, so the server ends with the last tap.
 */
function react(store, chat, id, emoji, ui) {
  const m = chat.messages.get(id);
  if (!m || m.deleted) return;
  const me = store.me.id;
  const before = m.reactions[me] ?? null;
  const next = before === emoji ? null : emoji;
  store.applyReaction(chat, id, me, next);
  const run = async () => {
    const path = `/api/chats/${await store.chatIdOf(chat)}/messages/${id}/reactions`;
    if (next) await store.api.post(path, { emoji: next });
    else await store.api.del(path);
  };
  const queued = (queues.get(id) ?? Promise.resolve()).then(run).catch((e) => {
    if ((m.reactions[me] ?? null) === next) store.applyReaction(chat, id, me, before);
    ui.toast(refusal(e, 'react to'));
  });
  queues.set(id, queued);
  queued.finally(() => queues.get(id) === queued && queues.delete(id));
}

// ------------------------------------------------------------------ edit

function startEdit(store, chat, m, ui) {
  ui.composeMode({
    label: 'Edit message',
    preview: m.content,
    cancelLabel: 'Cancel edit',
    text: m.content,
    submitLabel: 'Save',
    onSubmit: (text) => {
      if (!text.trim()) {
        ui.toast('A message cannot be empty');
        return false;
      }
      if (text !== m.content) saveEdit(store, chat, m, text, ui);
      return true;
    },
  });
}

async function saveEdit(store, chat, m, text, ui) {
  const before = { content: m.content, edited: m.edited, editedAt: m.editedAt };
  store.applyEdit(chat, m.id, text, null);
  try {
    const v = await store.api.patch(`/api/chats/${await store.chatIdOf(chat)}/messages/${m.id}`, { content: text });
    store.applyEdit(chat, m.id, v.content, v.editedAt);
  } catch (e) {
    if (!m.deleted && m.content === text) {
      Object.assign(m, before);
      store.changed(chat, m);
    }
    ui.toast(refusal(e, 'edit'));
  }
}

// ------------------------------------------------------------------ delete for everyone

async function deleteForEveryone(store, chat, m, ui) {
  const ok = await ui.confirm({
    title: 'Delete message?',
    text: 'Everyone in this chat will see “This message was deleted” instead.',
    confirmLabel: 'Delete for everyone',
    danger: true,
  });
  if (!ok || m.deleted) return;
  const before = { ...m };
  store.applyDelete(chat, m.id, null);
  try {
    const v = await store.api.del(`/api/chats/${await store.chatIdOf(chat)}/messages/${m.id}`);
    m.deletedAt = v?.deletedAt ?? m.deletedAt;
  } catch (e) {
    if (e.code === 'message_deleted') return; // deleted already (another device)
    Object.assign(m, before);
    store.changed(chat, m);
    ui.toast(refusal(e, 'delete'));
  }
}

/** Why the server refused an action, in words. */
function refusal(e, what) {
  if (e.network) return `You are offline: could not ${what} the message`;
  if (e.code === 'too_late') {
    return what === 'edit' ? 'Messages can be edited for 15 minutes only' : 'Messages can be deleted for everyone for 48 hours only';
  }
  if (e.code === 'message_deleted') return 'This message was deleted';
  return `Could not ${what} the message: ${e.message}`;
}

// ------------------------------------------------------------------ what a bubble shows

/** A reply's quote, at the top of the bubble; a click brings the quoted message into view. */
messageDecorators.push((store, chat, m, bubble, ui) => {
  const had = bubble.querySelector(':scope > .quote');
  const q = m.replyTo;
  if (had && had.dataset.id === q?.id) return;
  had?.remove();
  if (!q) return;
  const who = store.nameOf(q.senderId);
  const quote = h(
    'button',
    {
      type: 'button',
      class: 'quote',
      dataset: { id: q.id },
      'aria-label': `In reply to ${who}: ${quoteText(q)}`,
      title: 'Show the message',
      onclick: () => ui.reveal(q.id) || ui.toast('That message is further back: scroll up to see it'),
    },
    h('span', { class: 'quote-sender' }, who),
    h('span', { class: 'quote-text' }, q.type === 'image' ? h('span', { 'aria-hidden': 'true' }, '📷 ') : null, quoteText(q)),
  );
  const sender = bubble.querySelector(':scope > .sender');
  if (sender) sender.after(quote);
  else bubble.prepend(quote);
});

/** *Forwarded*, over a forwarded message. */
messageDecorators.push((store, chat, m, bubble) => {
  const had = bubble.querySelector(':scope > .forwarded');
  if (!!had === !!m.forwarded) return;
  if (had) return had.remove();
  bubble.prepend(h('span', { class: 'forwarded' }, h('span', { 'aria-hidden': 'true' }, '↪ '), 'Forwarded'));
});

/** *edited*, beside the time. */
messageDecorators.push((store, chat, m, bubble) => {
  const meta = bubble.querySelector(':scope > .meta');
  const had = meta?.querySelector('.edited');
  if (!meta || !!had === !!m.edited) return;
  if (had) return had.remove();
  meta.prepend(h('span', { class: 'edited' }, 'edited'));
});

/** The reactions row under the bubble: each emoji with its count; mine is marked. */
messageDecorators.push((store, chat, m, bubble, ui) => {
  const stack = bubble.parentElement;
  const had = stack.querySelector(':scope > .reactions');
  const focused = had?.contains(document.activeElement) ? document.activeElement.dataset.emoji : null;
  const by = new Map();
  for (const [user, emoji] of Object.entries(m.reactions ?? {})) {
    if (!by.has(emoji)) by.set(emoji, []);
    by.get(emoji).push(user);
  }
  const me = store.me.id;
  const order = (e) => {
    const i = QUICK_REACTIONS.findIndex(([q]) => q === e);
    return i < 0 ? QUICK_REACTIONS.length : i;
  };
  const groups = [...by.entries()].sort((a, b) => b[1].length - a[1].length || order(a[0]) - order(b[0]) || (a[0] < b[0] ? -1 : 1));
  const key = groups.map(([e, users]) => `${e}:${users.sort().join(',')}`).join(';');
  if ((had?.dataset.key ?? '') === key) return;
  had?.remove();
  if (!groups.length) {
    if (focused) bubble.closest('li')?.querySelector('.msg-options')?.focus();
    return;
  }
  const enabled = actionable(store, chat, m);
  const row = h(
    'div',
    { class: 'reactions', role: 'group', 'aria-label': 'Reactions', dataset: { key } },
    groups.map(([emoji, users]) => {
      const names = users
        .map((u) => store.nameOf(u))
        .sort((a, b) => (a === 'You' ? -1 : b === 'You' ? 1 : a.localeCompare(b)))
        .join(', ');
      const isMine = users.includes(me);
      return h(
        'button',
        {
          type: 'button',
          class: `reaction${isMine ? ' mine' : ''}`,
          dataset: { emoji },
          'aria-pressed': String(isMine),
          'aria-label': `${emoji} ${users.length}: ${names}`,
          title: isMine ? `${names}. Tap to remove your reaction` : `${names}. Tap to react with ${emoji}`,
          disabled: !enabled,
          onclick: () => react(store, chat, m.id, emoji, ui),
        },
        h('span', { 'aria-hidden': 'true' }, emoji),
        users.length > 1 ? h('span', { class: 'count', 'aria-hidden': 'true' }, String(users.length)) : null,
      );
    }),
  );
  stack.append(row);
  if (focused) (row.querySelector(`[data-emoji="${CSS.escape(focused)}"]`) ?? bubble.closest('li')?.querySelector('.msg-options'))?.focus();
});
