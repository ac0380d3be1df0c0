// Charts with the vendored uPlot (web/vendor, pinned in package.json).

const palette = ['#0a58ca', '#1a7f37', '#9a6700', '#8250df', '#cf222e', '#0e7490', '#6e7781', '#b35900'];
const day = (d) => Date.parse(d + 'T00:00:00Z') / 1000;
const money = (u, v) => (v == null ? '' : '$' + v.toFixed(v && Math.abs(v) < 1 ? 3 : 2));

function width(el) { return Math.max(260, el.clientWidth || 600); }

// sparkline draws a client's daily spend (oldest first) in a small box.
export function sparkline(el, values, label) {
  const xs = values.map((_, i) => i);
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', label);
  return new uPlot({ width: 120, height: 30, pxAlign: false, cursor: { show: false }, legend: { show: false },
    select: { show: false }, scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(max, 1e-9)] } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: '#0a58ca', width: 1.5, fill: 'rgba(10,88,202,0.12)' }] }, [xs, values], el);
}

// stackedBars draws per-day values of several series stacked (rows: {date, series: {name: value}}).
export function stackedBars(el, dates, names, valuesOf, title) {
  const xs = dates.map(day);
  // Each drawn series is the running sum up to it; drawn top-down so the
  // shorter bars paint over the taller ones, which reads as a stack.
  const sums = [];
  let acc = dates.map(() => 0);
  for (const n of names) {
    acc = acc.map((a, i) => a + valuesOf(n, i));
    sums.push(acc);
  }
  const bars = uPlot.paths.bars({ size: [0.7, 40] });
  const series = [{}];
  const data = [xs];
  for (let i = names.length - 1; i >= 0; i--) {
    series.push({ label: names[i], fill: palette[i % palette.length], stroke: palette[i % palette.length], paths: bars, points: { show: false },
      value: (u, v, si, idx) => money(u, idx == null ? null : valuesOf(names[i], idx)) });
    data.push(sums[i]);
  }
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', title);
  return new uPlot({ width: width(el), height: 240, series, scales: { x: { time: true }, y: { range: (u, mn, mx) => [0, Math.max(mx, 1e-6) * 1.05] } },
    axes: [{}, { values: (u, vs) => vs.map((v) => money(u, v)), size: 70 }] }, data, el);
}

// lines draws one or more daily series (names, arrays) on one chart.
export function lines(el, dates, named, title, fmt) {
  el.setAttribute('role', 'img');
  el.setAttribute('aria-label', title);
  const series = [{}, ...named.map(([name], i) => ({ label: name, stroke: palette[i % palette.length], width: 2,
    fill: i === 0 ? 'rgba(10,88,202,0.08)' : undefined, value: fmt ? (u, v) => fmt(v) : undefined }))];
  return new uPlot({ width: width(el), height: 220, series, scales: { x: { time: true }, y: { range: (u, mn, mx) => [0, Math.max(mx, 1) * 1.1] } },
    axes: [{}, { values: fmt ? (u, vs) => vs.map((v) => fmt(v)) : undefined, size: 60 }] }, [dates.map(day), ...named.map(([, v]) => v)], el);
}
