// Agents: every client with today's and this month's spend, limits, % used,
// state and a 30-day sparkline; search by id prefix, sort by spend, paged by
// the API's cursor (fast at any depth), refreshed while open.
import { api } from '../api.js';
import { clear, clientHref, h, stateBadge, usageBar, usd, when } from '../ui.js';
import { sparkline } from '../charts.js';

const PAGE = 50;

export function render(main) {
  const st = { sort: 'day', prefix: '', cursors: [''], page: 0 };
  const search = h('input', { id: 'search', type: 'search', placeholder: 'client id or prefix', autocomplete: 'off' });
  const sort = h('select', { id: 'sort' }, h('option', { value: 'day' }, 'Spend today'), h('option', { value: 'month' }, 'Spend this month'));
  const body = h('tbody');
  const info = h('span', { class: 'muted', id: 'agents-total' });
  const prev = h('button', { type: 'button', id: 'prev', onclick: () => go(st.page - 1) }, '← Previous');
  const next = h('button', { type: 'button', id: 'next', onclick: () => go(st.page + 1) }, 'Next →');
  let charts = [];

  main.append(h('h1', {}, 'Agents'),
    h('form', { class: 'row', role: 'search', onsubmit: (e) => { e.preventDefault(); st.prefix = search.value.trim(); restart(); } },
      h('div', {}, h('label', { for: 'search' }, 'Search by id or prefix'), search),
      h('div', {}, h('label', { for: 'sort' }, 'Sort by'), sort),
      h('button', { type: 'submit' }, 'Search')),
    h('div', { class: 'table-wrap' }, h('table', { id: 'agents' },
      h('caption', { class: 'muted' }, 'Clients by spend, highest first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col', class: 'num' }, 'Today'), h('th', { scope: 'col', class: 'num opt' }, 'Daily limit'), h('th', { scope: 'col' }, 'Used today'),
        h('th', { scope: 'col', class: 'num' }, 'This month'), h('th', { scope: 'col', class: 'num opt' }, 'Monthly limit'), h('th', { scope: 'col' }, 'Used this month'),
        h('th', { scope: 'col', class: 'opt' }, 'Last 30 days'), h('th', { scope: 'col', class: 'opt' }, 'Last seen'))),
      body)),
    h('div', { class: 'pager' }, prev, next, info));
  sort.addEventListener('change', () => { st.sort = sort.value; restart(); });

  function restart() { st.cursors = ['']; go(0); }

  async function go(page) {
    if (page < 0 || page >= st.cursors.length) return;
    const res = await api.clients({ sort: st.sort, prefix: st.prefix, limit: PAGE, cursor: st.cursors[page], history: 30 });
    st.page = page;
    st.cursors[page + 1] = res.next_cursor || undefined;
    st.cursors.length = res.next_cursor ? page + 2 : page + 1;
    charts.forEach((c) => c.destroy());
    charts = [];
    clear(body);
    for (const c of res.clients) {
      const spark = h('div', { class: 'spark' });
      body.append(h('tr', { 'data-client': c.client_id },
        h('th', { scope: 'row' }, h('a', { href: clientHref(c.client_id) }, c.client_id)),
        h('td', { 'data-state': c.state }, stateBadge(c.state)),
        h('td', { class: 'num', 'data-field': 'today', 'data-usd': c.today.spent_usd }, usd(c.today.spent_usd)),
        h('td', { class: 'num opt', 'data-field': 'daily-limit' }, usd(c.today.limit_usd)),
        h('td', {}, usageBar(c.today)),
        h('td', { class: 'num', 'data-field': 'month', 'data-usd': c.month.spent_usd }, usd(c.month.spent_usd)),
        h('td', { class: 'num opt', 'data-field': 'monthly-limit' }, usd(c.month.limit_usd)),
        h('td', {}, usageBar(c.month)),
        h('td', { class: 'opt' }, spark),
        h('td', { class: 'opt muted' }, when(c.last_seen))));
      if (c.history && window.uPlot) charts.push(sparkline(spark, c.history, `Spend of ${c.client_id} per day, last 30 days`));
    }
    if (!res.clients.length) body.append(h('tr', {}, h('td', { colspan: 10, class: 'muted' }, st.prefix ? 'No client id starts with that.' : 'No client has made a request yet.')));
    const first = page * PAGE + (res.clients.length ? 1 : 0);
    info.textContent = `${first}–${page * PAGE + res.clients.length} of ${res.total.toLocaleString('en-US')} clients`;
    prev.disabled = page === 0;
    next.disabled = !res.next_cursor;
    main.dataset.loaded = String(performance.now());
  }

  go(0);
  return { refresh: () => go(st.page), stop: () => charts.forEach((c) => c.destroy()) };
}
