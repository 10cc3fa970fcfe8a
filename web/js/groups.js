// Groups: create, members, admins, invite links, leave (docs/api.md#groups).

import { h, mount } from './util.js';

function showDialog(view, title, ...body) {
  const d = view.dialog;
  mount(
    d,
    h(
      'div',
      { class: 'dialog-body' },
      h('header', { class: 'bar' }, h('h2', { id: 'dialog-title' }, title), h('button', { type: 'button', onclick: () => d.close(), 'aria-label': 'Close' }, '✕')),
      ...body,
    ),
  );
  if (!d.open) d.showModal();
}

function contactChecklist(view, exclude = new Set()) {
  const boxes = [...view.store.contacts.values()]
    .filter((c) => !exclude.has(c.id))
    .sort((a, b) => a.username.localeCompare(b.username))
    .map((c) => h('li', {}, h('label', { class: 'check' }, h('input', { type: 'checkbox', value: c.id }), ` ${c.username}`)));
  const list = h('ul', { class: 'checklist' }, boxes.length ? boxes : h('li', { class: 'empty' }, 'No contacts to add'));
  const chosen = () => [...list.querySelectorAll('input:checked')].map((i) => i.value);
  return { list, chosen };
}

export function newGroup(view) {
  const name = h('input', { id: 'group-name', required: true, maxlength: 100, autocomplete: 'off' });
  const { list, chosen } = contactChecklist(view);
  const error = h('p', { class: 'error', role: 'alert' });
  const form = h(
    'form',
    {
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const g = await view.api.post('/api/groups', { name: name.value, memberIds: chosen() });
          view.dialog.close();
          await view.store.sync();
          location.hash = `#/chat/g:${g.id}`;
        } catch (e) {
          error.textContent = e.message;
        }
      },
    },
    h('label', { for: 'group-name' }, 'Group name'),
    name,
    h('fieldset', {}, h('legend', {}, 'Members'), list),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Create group'),
  );
  showDialog(view, 'New group', form);
  name.focus();
}

export async function groupInfo(view, chat) {
  const { api, store } = view;
  let g;
  try {
    g = await store.loadGroup(chat);
  } catch (e) {
    view.toast(e.message);
    return;
  }
  const me = api.me.id;
  const admin = g.members.some((m) => m.userId === me && m.role === 'admin');
  const error = h('p', { class: 'error', role: 'alert' });
  const act = (fn) => async () => {
    try {
      await fn();
      await groupInfo(view, chat);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  const members = g.members.map((m) => {
    const name = store.nameOf(m.userId);
    const buttons = [];
    if (admin && m.userId !== me) {
      buttons.push(
        m.role === 'admin'
          ? h('button', { type: 'button', onclick: act(() => api.del(`/api/groups/${g.id}/admins/${m.userId}`)) }, 'Dismiss as admin', h('span', { class: 'sr-only' }, ` ${name}`))
          : h('button', { type: 'button', onclick: act(() => api.put(`/api/groups/${g.id}/admins/${m.userId}`)) }, 'Make admin', h('span', { class: 'sr-only' }, ` ${name}`)),
        h('button', { type: 'button', onclick: act(() => api.del(`/api/groups/${g.id}/members/${m.userId}`)) }, 'Remove', h('span', { class: 'sr-only' }, ` ${name}`)),
      );
    }
    return h('li', { class: 'person' }, h('span', { class: 'name' }, name), m.role === 'admin' ? h('span', { class: 'badge' }, 'admin') : null, ...buttons);
  });
  const parts = [
    g.description ? h('p', {}, g.description) : null,
    h('h3', {}, `${g.memberCount} members`),
    h('ul', { 'aria-label': 'Members' }, members),
  ];
  const canAdd = admin || g.settings?.add === 'all';
  if (canAdd) {
    const { list, chosen } = contactChecklist(view, new Set(g.members.map((m) => m.userId)));
    parts.push(
      h(
        'form',
        {
          onsubmit: (ev) => {
            ev.preventDefault();
            const ids = chosen();
            if (ids.length) act(() => api.post(`/api/groups/${g.id}/members`, { userIds: ids }))();
          },
        },
        h('fieldset', {}, h('legend', {}, 'Add members'), list),
        h('button', { type: 'submit' }, 'Add'),
      ),
    );
  }
  if (admin) {
    const link = h('input', { id: 'invite-link', readonly: true, value: g.inviteCode ? inviteUrl(g.inviteCode) : '' });
    parts.push(
      h('label', { for: 'invite-link' }, 'Invite link'),
      h(
        'div',
        { class: 'row' },
        link,
        h(
          'button',
          {
            type: 'button',
            onclick: act(async () => {
              const r = await api.post(`/api/groups/${g.id}/invite`);
              link.value = inviteUrl(r.inviteCode);
            }),
          },
          g.inviteCode ? 'Reset link' : 'Create link',
        ),
        h('button', { type: 'button', onclick: () => navigator.clipboard?.writeText(link.value).then(() => view.toast('Link copied'), () => link.select()) }, 'Copy'),
      ),
    );
  }
  parts.push(
    error,
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        onclick: async () => {
          try {
            await api.del(`/api/groups/${g.id}/members/${me}`);
            chat.left = true;
            view.dialog.close();
            location.hash = '#/';
          } catch (e) {
            error.textContent = e.message;
          }
        },
      },
      'Leave group',
    ),
  );
  showDialog(view, g.name, ...parts);
}

function inviteUrl(code) {
  return `${location.origin}${location.pathname}#/join/${code}`;
}
