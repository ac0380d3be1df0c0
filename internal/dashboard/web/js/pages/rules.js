// Budget Rules: the rules in force (file and API), create, edit and delete
// API rules; file rules are read-only (an API rule with the same key
// overrides one). Validation is the API's: its message shows at the field
// it names.
import { allBudgets, api, APIError } from '../api.js';
import { clear, confirmDialog, h, usd } from '../ui.js';

const fmtLoop = (l) => (l ? Object.entries(l).map(([k, v]) => `${k} ${v}`).join(', ') : 'inherited');

function field(id, label, input, hint) {
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('div', { class: 'hint', id: id + '-hint' }, hint) : null, h('div', { class: 'error', id: id + '-error', role: 'alert' }));
}

// The form's fields by the API's param names, so an error lands where it belongs.
const params = {
  client_id: 'f-target', match: 'f-target', daily_limit_usd: 'f-daily', monthly_limit_usd: 'f-monthly', action: 'f-action',
  alert_thresholds: 'f-thresholds', admission: 'f-admission', 'loop_detection.mode': 'f-loop-mode', 'loop_detection.window': 'f-loop-window',
  'loop_detection.max_repeats': 'f-loop-repeats', 'loop_detection.similarity': 'f-loop-similarity', 'loop_detection.cooldown': 'f-loop-cooldown',
};

export function render(main) {
  const body = h('tbody');
  const kind = h('select', {}, h('option', { value: 'client_id' }, 'Exact client id'), h('option', { value: 'match' }, 'Pattern (prefix*)'), h('option', { value: 'default' }, 'Default rule'));
  const target = h('input', { autocomplete: 'off' });
  const daily = h('input', { inputmode: 'decimal', placeholder: 'unlimited' });
  const monthly = h('input', { inputmode: 'decimal', placeholder: 'unlimited' });
  const action = h('select', {}, h('option', { value: 'block' }, 'block'), h('option', { value: 'alert' }, 'alert'));
  const thresholds = h('input', { placeholder: '0.8, 1' });
  const admission = h('select', {}, h('option', { value: 'soft' }, 'soft'), h('option', { value: 'strict' }, 'strict'));
  const loopMode = h('select', {}, h('option', { value: '' }, 'inherit'), h('option', { value: 'block' }, 'block'), h('option', { value: 'alert' }, 'alert'), h('option', { value: 'off' }, 'off'));
  const loopWindow = h('input', { placeholder: 'inherit (e.g. 60s)' });
  const loopRepeats = h('input', { inputmode: 'numeric', placeholder: 'inherit' });
  const loopSimilarity = h('input', { inputmode: 'decimal', placeholder: 'inherit' });
  const loopCooldown = h('input', { placeholder: 'inherit (e.g. 5m)' });
  const status = h('p', { role: 'status', id: 'rule-status' });
  const formTitle = h('h2', { id: 'rule-form-title' }, 'New rule');
  const form = h('form', { id: 'rule-form', novalidate: true, 'aria-labelledby': 'rule-form-title', onsubmit: save },
    h('div', { class: 'form-grid' }, field('f-kind', 'Applies to', kind), field('f-target', 'Client id or pattern', target, 'e.g. user-12345 or user-*'),
      field('f-daily', 'Daily limit (USD)', daily, 'empty = unlimited'), field('f-monthly', 'Monthly limit (USD)', monthly, 'empty = unlimited'),
      field('f-action', 'When over', action, 'block answers 402; alert only records'), field('f-thresholds', 'Alert thresholds', thresholds, 'fractions, comma separated; empty = 0.8, 1'),
      field('f-admission', 'Admission', admission, 'strict: a request must fit in what is left')),
    h('fieldset', {}, h('legend', {}, 'Loop detection'), h('div', { class: 'form-grid' }, field('f-loop-mode', 'Mode', loopMode),
      field('f-loop-window', 'Window', loopWindow), field('f-loop-repeats', 'Max repeats', loopRepeats),
      field('f-loop-similarity', 'Similarity', loopSimilarity), field('f-loop-cooldown', 'Cooldown', loopCooldown))),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary', id: 'save-rule' }, 'Save rule'), h('button', { type: 'button', onclick: reset }, 'New / clear')), status);
  kind.addEventListener('change', () => { target.disabled = kind.value === 'default'; });

  main.append(h('h1', {}, 'Budget Rules'),
    h('p', { class: 'hint' }, 'An exact id wins over the longest matching pattern, which wins over the default rule. Rules from the config file are read-only here: saving one with the same key overrides it.'),
    h('div', { class: 'table-wrap' }, h('table', { id: 'rules' }, h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'Rule'), h('th', { scope: 'col', class: 'num' }, 'Daily'), h('th', { scope: 'col', class: 'num' }, 'Monthly'),
      h('th', { scope: 'col' }, 'Action'), h('th', { scope: 'col', class: 'opt' }, 'Thresholds'), h('th', { scope: 'col', class: 'opt' }, 'Admission'),
      h('th', { scope: 'col', class: 'opt' }, 'Loop detection'), h('th', { scope: 'col' }, 'Source'), h('th', { scope: 'col' }, h('span', { class: 'muted' }, 'Actions')))), body)),
    formTitle, form);

  function reset() {
    form.reset();
    target.disabled = false;
    formTitle.textContent = 'New rule';
    clearErrors();
  }

  function clearErrors() {
    form.querySelectorAll('.error').forEach((e) => { e.textContent = ''; });
    form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
    status.textContent = '';
  }

  function edit(r) {
    clearErrors();
    kind.value = r.default ? 'default' : r.match ? 'match' : 'client_id';
    target.disabled = !!r.default;
    target.value = r.match || r.client_id || '';
    daily.value = r.daily_limit_usd ?? '';
    monthly.value = r.monthly_limit_usd ?? '';
    action.value = r.action;
    thresholds.value = r.alert_thresholds.join(', ');
    admission.value = r.admission;
    const l = r.loop_detection || {};
    loopMode.value = l.mode || '';
    loopWindow.value = l.window || '';
    loopRepeats.value = l.max_repeats || '';
    loopSimilarity.value = l.similarity || '';
    loopCooldown.value = l.cooldown || '';
    formTitle.textContent = (r.source === 'file' ? 'Override ' : 'Edit ') + r.key;
    target.focus();
  }

  // num sends what was typed as a number when it is one, else as the string,
  // so the API names the field in its error.
  const num = (v) => (v.trim() === '' ? undefined : Number.isFinite(Number(v)) ? Number(v) : v.trim());

  async function save(e) {
    e.preventDefault();
    clearErrors();
    const rule = { daily_limit_usd: num(daily.value) ?? null, monthly_limit_usd: num(monthly.value) ?? null, action: action.value, admission: admission.value };
    if (kind.value === 'default') rule.default = true; else rule[kind.value] = target.value.trim();
    if (thresholds.value.trim() !== '') rule.alert_thresholds = thresholds.value.split(',').map((s) => num(s));
    const loop = { mode: loopMode.value || undefined, window: loopWindow.value.trim() || undefined, max_repeats: num(loopRepeats.value),
      similarity: num(loopSimilarity.value), cooldown: loopCooldown.value.trim() || undefined };
    if (Object.values(loop).some((v) => v !== undefined)) rule.loop_detection = loop;
    try {
      const saved = await api.setBudget(rule);
      status.textContent = `Saved ${saved.key}.`;
      formTitle.textContent = 'Edit ' + saved.key;
      await load();
    } catch (err) {
      if (!(err instanceof APIError)) throw err;
      const id = params[err.param] || (err.param && err.param.startsWith('alert_thresholds') ? 'f-thresholds' : null);
      if (id) {
        document.getElementById(id).setAttribute('aria-invalid', 'true');
        document.getElementById(id + '-error').textContent = err.message;
        document.getElementById(id).focus();
      }
      status.textContent = 'Not saved: ' + err.message;
      status.className = 'error';
    }
  }

  async function remove(r) {
    if (!(await confirmDialog(`Delete the rule ${r.key}? Its clients fall back to the next rule that matches.`))) return;
    const res = await api.deleteBudget(r.key);
    status.className = '';
    status.textContent = `Deleted ${res.key}.` + (res.effective ? ` The config file's rule applies again.` : '');
    await load();
  }

  async function load() {
    const rules = await allBudgets();
    clear(body);
    for (const r of rules) {
      const name = r.default ? 'default' : r.match ? r.match : r.client_id;
      body.append(h('tr', { 'data-key': r.key },
        h('th', { scope: 'row' }, name, ' ', h('span', { class: 'muted' }, r.default ? '(default)' : r.match ? '(pattern)' : '(client)')),
        h('td', { class: 'num' }, usd(r.daily_limit_usd)), h('td', { class: 'num' }, usd(r.monthly_limit_usd)), h('td', {}, r.action),
        h('td', { class: 'opt' }, r.alert_thresholds.join(', ') || 'none'), h('td', { class: 'opt' }, r.admission), h('td', { class: 'opt' }, fmtLoop(r.loop_detection)),
        h('td', {}, r.source === 'file' ? h('span', { class: 'badge file', title: 'Set in the config file: read-only here' }, 'config file') : h('span', { class: 'badge' }, 'API')),
        h('td', {}, r.source === 'file'
          ? h('button', { type: 'button', onclick: () => edit(r), 'aria-label': 'Override ' + r.key }, 'Override')
          : [h('button', { type: 'button', onclick: () => edit(r), 'aria-label': 'Edit ' + r.key, 'data-action': 'edit' }, 'Edit'), ' ',
            h('button', { type: 'button', class: 'danger', onclick: () => remove(r), 'aria-label': 'Delete ' + r.key, 'data-action': 'delete' }, 'Delete')])));
    }
    main.dataset.loaded = String(performance.now());
  }
  load();
  return {};
}
