// Small helpers shared by every module: DOM building, ids, times.

/** Builds an element: h('button', {class: 'x', onclick: fn, 'aria-label': 'Send'}, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A client message id: unique per device, safe in the server's `A-Z a-z 0-9 - _ . :` set. */
export function clientMessageId() {
  return `web-${crypto.randomUUID()}`;
}

/** The largest message id: a `before` cursor for the newest page that marks nothing read. */
export const NEWEST = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** Message ids are UUIDv7 strings: they sort by time as plain strings. */
export const maxId = (a, b) => (!a ? b : !b ? a : a > b ? a : b);

export const SYSTEM_USER = '00000000-0000-0000-0000-000000000000';

export function timeOf(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function lastSeenText(iso) {
  if (!iso) return 'offline';
  const d = new Date(iso);
  const today = new Date();
  const same = d.toDateString() === today.toDateString();
  return `last seen ${same ? 'today' : d.toLocaleDateString()} at ${timeOf(iso)}`;
}

/** Calls `fn` at most once per `ms` (leading edge). */
export function throttle(fn, ms) {
  let last = 0;
  return (...args) => {
    const now = Date.now();
    if (now - last >= ms) {
      last = now;
      fn(...args);
    }
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
