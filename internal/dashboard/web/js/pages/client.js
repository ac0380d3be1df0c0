// A client: daily spend this month stacked by model, tokens and requests per
// model (estimated charges marked), when the limits are hit at the current
// rate, recent loop events with a button to end a cooldown, CSV export.
import { api } from '../api.js';
import { clear, h, int, monthStart, stateBadge, usageBar, usd, when } from '../ui.js';
import { stackedBars } from '../charts.js';

// projection says when a period's limit is reached at the rate so far.
export function projection(p, periodStart, now) {
  if (p.limit_usd === null) return 'no limit';
  const spent = p.spent_usd + p.reserved_usd;
  if (spent >= p.limit_usd) return 'reached';
  const elapsed = (now - periodStart) / 1000;
  if (spent <= 0 || elapsed <= 0) return 'not at the current rate (no spend yet)';
  const at = new Date(now.getTime() + ((p.limit_usd - spent) / (spent / elapsed)) * 1000);
  if (at >= new Date(p.resets_at)) return 'not before the period resets (' + when(p.resets_at) + ')';
  return 'around ' + at.toLocaleString();
}

export function render(main, id) {
  const head = h('div');
  const chart = h('div', { class: 'chart', id: 'client-chart' });
  const models = h('tbody');
  const loops = h('tbody');
  const proj = h('ul', { id: 'projection' });
  const csv = h('a', { id: 'csv', download: '' }, 'Export CSV');
  let plot = null;
  main.append(h('p', {}, h('a', { href: '#/agents' }, '← Agents')), head,
    h('h2', {}, 'Projection at the current rate'), proj,
    h('h2', {}, 'Spend this month by day and model'), chart,
    h('h2', {}, 'By model this month'), h('p', {}, csv),
    h('div', { class: 'table-wrap' }, h('table', { id: 'models' }, h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Model'), h('th', { scope: 'col', class: 'num' }, 'Requests'), h('th', { scope: 'col', class: 'num' }, 'Failed'),
      h('th', { scope: 'col', class: 'num' }, 'Prompt tokens'), h('th', { scope: 'col', class: 'num opt' }, 'Cached'),
      h('th', { scope: 'col', class: 'num' }, 'Completion tokens'), h('th', { scope: 'col', class: 'num opt' }, 'Reasoning'),
      h('th', { scope: 'col', class: 'num' }, 'Cost'), h('th', { scope: 'col', class: 'num' }, 'Of it estimated'))), models)),
    h('p', { class: 'hint' }, h('span', { class: 'est' }, 'est.'), ' marks charges from an estimate (a cut stream, a body never read), not from the usage OpenAI reported.'),
    h('h2', {}, 'Recent loop events'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'loops' }, h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Kind'), h('th', { scope: 'col', class: 'num' }, 'Repeats'),
      h('th', { scope: 'col' }, 'Refused'), h('th', { scope: 'col' }, 'Excerpt'))), loops)));

  async function load() {
    const c = await api.client(id);
    const today = c.today.period;
    const range = { client_id: id, from: monthStart(today), to: today };
    const [byDay, byModel] = await Promise.all([api.spend({ ...range, group_by: 'day_model' }), api.spend({ ...range, group_by: 'model' })]);
    csv.href = api.spendCSV({ ...range, group_by: 'day_model' });
    csv.setAttribute('download', `proxide-${id}-${range.from}-${today}.csv`);

    const endBtn = c.state === 'loop_cooldown'
      ? h('button', { type: 'button', id: 'end-cooldown', class: 'primary', onclick: async (e) => {
        e.target.disabled = true;
        await api.clearLoop(id);
        load();
      } }, 'End loop cooldown')
      : null;
    clear(head).append(h('h1', {}, c.client_id, ' ', stateBadge(c.state)),
      c.cooldown_until ? h('p', {}, 'Loop cooldown until ', when(c.cooldown_until), ' ', endBtn) : null,
      h('div', { class: 'cards' },
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Today'), h('div', { class: 'big', id: 'today-spent' }, usd(c.today.spent_usd)),
          h('div', {}, 'of ', usd(c.today.limit_usd), ' ', usageBar(c.today)), c.today.reserved_usd ? h('div', { class: 'muted' }, usd(c.today.reserved_usd), ' in flight') : null),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'This month'), h('div', { class: 'big', id: 'month-spent' }, usd(c.month.spent_usd)),
          h('div', {}, 'of ', usd(c.month.limit_usd), ' ', usageBar(c.month))),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Requests today'), h('div', { class: 'big' }, int(c.requests_today)),
          h('div', { class: 'muted' }, int(c.failed_today), ' failed', c.estimated_usd_today ? [' · ', h('span', { class: 'est' }, usd(c.estimated_usd_today), ' est.')] : '')),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'Rule'), h('div', {}, h('a', { href: '#/rules' }, c.rule.key)),
          h('div', { class: 'muted' }, c.rule.action, ' · ', c.rule.admission, ' · ', c.rule.source || ''))));

    const now = new Date();
    const dayStart = new Date(Date.parse(c.today.resets_at) - 86400000);
    const monthStartAt = new Date(dayStart.getTime() - (Number(today.slice(8, 10)) - 1) * 86400000);
    clear(proj).append(h('li', {}, 'Daily limit: ', projection(c.today, dayStart, now)),
      h('li', {}, 'Monthly limit: ', projection(c.month, monthStartAt, now)));

    const dates = [];
    for (let d = new Date(range.from + 'T00:00:00Z'); d <= new Date(today + 'T00:00:00Z'); d.setUTCDate(d.getUTCDate() + 1)) dates.push(d.toISOString().slice(0, 10));
    const names = byModel.series.map((m) => m.model);
    const cell = {};
    for (const r of byDay.series) cell[r.date + '|' + r.model] = r.cost_usd;
    if (plot) plot.destroy();
    clear(chart);
    if (names.length && window.uPlot) plot = stackedBars(chart, dates, names, (n, i) => cell[dates[i] + '|' + n] || 0, `Daily spend of ${id} this month by model`);
    else chart.append(h('p', { class: 'muted' }, 'No spend this month.'));

    clear(models);
    for (const m of byModel.series) {
      models.append(h('tr', {}, h('th', { scope: 'row' }, m.model), h('td', { class: 'num' }, int(m.requests)), h('td', { class: 'num' }, int(m.failed)),
        h('td', { class: 'num' }, int(m.prompt_tokens)), h('td', { class: 'num opt' }, int(m.cached_tokens)), h('td', { class: 'num' }, int(m.completion_tokens)),
        h('td', { class: 'num opt' }, int(m.reasoning_tokens)), h('td', { class: 'num' }, usd(m.cost_usd)),
        h('td', { class: 'num' }, m.estimated_cost_usd ? h('span', { class: 'est' }, usd(m.estimated_cost_usd), ' est.') : '—')));
    }
    clear(loops);
    for (const e of c.recent_loops) {
      loops.append(h('tr', {}, h('td', {}, when(e.at)), h('td', {}, e.kind), h('td', { class: 'num' }, e.repeats), h('td', {}, e.blocked ? 'yes' : 'alert only'),
        h('td', { class: 'loop-excerpt' }, e.excerpt)));
    }
    if (!c.recent_loops.length) loops.append(h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No loop detected.')));
    main.dataset.loaded = String(performance.now());
  }
  load();
  return { refresh: load, stop: () => plot && plot.destroy() };
}
