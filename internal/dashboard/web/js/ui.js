// DOM building without innerHTML (ids and excerpts are untrusted text), and formatting.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function usd(v) {
  if (v === null || v === undefined) return '∞';
  const abs = Math.abs(v);
  const digits = abs !== 0 && abs < 0.01 ? 4 : 2;
  return '$' + v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export const int = (n) => (n || 0).toLocaleString('en-US');

// used is spent+reserved as a fraction of the limit; null when unlimited.
export function used(p) {
  if (p.limit_usd === null || p.limit_usd === undefined) return null;
  if (p.limit_usd === 0) return 1;
  return (p.spent_usd + p.reserved_usd) / p.limit_usd;
}

export function usageBar(p) {
  const u = used(p);
  const label = u === null ? 'no limit' : Math.round(u * 100) + '%';
  if (u === null) return h('span', { class: 'muted' }, label);
  const cls = u >= 1 ? 'bar bad' : u >= 0.8 ? 'bar warn' : 'bar';
  const fill = h('span');
  fill.style.width = Math.min(100, u * 100).toFixed(1) + '%';
  return h('span', {}, label, h('span', { class: cls, role: 'img', 'aria-label': label + ' of the limit used' }, fill));
}

const stateNames = { ok: 'ok', alerting: 'alerting', blocked: 'blocked', loop_cooldown: 'loop cooldown' };
export const stateBadge = (s) => h('span', { class: 'state state-' + s }, stateNames[s] || s);

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// today and monthStart are the budget calendar's, from a period key of the API.
export const monthStart = (day) => day.slice(0, 8) + '01';

export function confirmDialog(text, okLabel) {
  const dlg = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel || 'Delete';
  dlg.returnValue = '';
  dlg.showModal();
  return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true }));
}

export const clientHref = (id) => '#/client/' + encodeURIComponent(id);
