// Overview: spend today and this month, top clients, spend per day, and
// blocked requests and loop detections per day.
import { api } from '../api.js';
import { clear, clientHref, h, int, monthStart, stateBadge, usd } from '../ui.js';
import { lines } from '../charts.js';

export function render(main) {
  const cards = h('div', { class: 'cards' });
  const top = h('tbody');
  const spendChart = h('div', { class: 'chart', id: 'spend-chart' });
  const refusalChart = h('div', { class: 'chart', id: 'refusal-chart' });
  const note = h('p', { class: 'hint' });
  let plots = [];
  main.append(h('h1', {}, 'Overview'), cards,
    h('div', { class: 'grid2' },
      h('section', {}, h('h2', {}, 'Spend per day, all clients'), spendChart),
      h('section', {}, h('h2', {}, 'Blocked requests and loop detections per day'), refusalChart, note)),
    h('h2', {}, 'Top clients today'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'top' }, h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Client'), h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col', class: 'num' }, 'Today'), h('th', { scope: 'col', class: 'num' }, 'This month'))), top)));

  async function load() {
    const [days, topPage, activity, loops] = await Promise.all([api.spend({ group_by: 'day' }), api.clients({ sort: 'day', limit: 10 }),
      api.activity({}), api.loops({ limit: 1000 })]);
    const today = days.to;
    const month = await api.spend({ from: monthStart(today), to: today, group_by: 'day' });
    const todayRow = days.series[days.series.length - 1];
    clear(cards).append(
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Spend today'), h('div', { class: 'big', id: 'spend-today' }, usd(todayRow.cost_usd)), h('div', { class: 'muted' }, int(todayRow.requests), ' requests')),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Spend this month'), h('div', { class: 'big', id: 'spend-month' }, usd(month.total.cost_usd)), h('div', { class: 'muted' }, int(month.total.requests), ' requests')),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Clients'), h('div', { class: 'big' }, int(topPage.total))),
      h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Blocked today'), h('div', { class: 'big', id: 'blocked-today' }, int(activity.series[activity.series.length - 1].blocked))));
    clear(top);
    for (const c of topPage.clients) {
      top.append(h('tr', {}, h('th', { scope: 'row' }, h('a', { href: clientHref(c.client_id) }, c.client_id)), h('td', {}, stateBadge(c.state)),
        h('td', { class: 'num' }, usd(c.today.spent_usd)), h('td', { class: 'num' }, usd(c.month.spent_usd))));
    }
    if (!topPage.clients.length) top.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No traffic yet.')));

    const loopsPerDay = {};
    for (const e of loops.loops) loopsPerDay[e.at.slice(0, 10)] = (loopsPerDay[e.at.slice(0, 10)] || 0) + 1;
    plots.forEach((p) => p.destroy());
    clear(spendChart);
    clear(refusalChart);
    plots = [];
    if (window.uPlot) {
      plots.push(lines(spendChart, days.series.map((d) => d.date), [['Spend', days.series.map((d) => d.cost_usd)]], 'Spend per day, last 30 days', (v) => usd(v)));
      const dates = activity.series.map((d) => d.date);
      plots.push(lines(refusalChart, dates, [['Blocked (402)', activity.series.map((d) => d.blocked)], ['Loops detected', dates.map((d) => loopsPerDay[d] || 0)]],
        'Blocked requests and loop detections per day, last 30 days', (v) => int(Math.round(v))));
    }
    note.textContent = `Blocked requests as counted by this replica since ${new Date(activity.since).toLocaleString()}; loop detections from the ledger (newest ${loops.loops.length} events, UTC days).`;
    main.dataset.loaded = String(performance.now());
  }
  load();
  return { refresh: load, stop: () => plots.forEach((p) => p.destroy()) };
}
