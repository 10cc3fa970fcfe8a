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

/** A media message's kind, as a preview or a quote names it (`image` → Photo). */
export function kindName(type) {
  return type === 'image' ? 'Photo' : type[0].toUpperCase() + type.slice(1);
}

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

const ICONS = {
  attach: 'M16.5 6.5v10.2a4.5 4.5 0 0 1-9 0V5.8a3 3 0 0 1 6 0v9.9a1.5 1.5 0 0 1-3 0V6.5H9v9.2a3 3 0 0 0 6 0V5.8a4.5 4.5 0 0 0-9 0v10.9a6 6 0 0 0 12 0V6.5z',
  clock: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.1.8-1.2-4.5-2.7z',
  file: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm-1 7V3.5L18.5 9z',
};

/** An inline icon (decorative: the control around it carries the label). */
export function icon(name) {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', `icon icon-${name}`);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', ICONS[name]);
  path.setAttribute('fill', 'currentColor');
  svg.append(path);
  return svg;
}
