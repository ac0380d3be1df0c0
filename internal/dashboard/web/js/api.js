// The admin REST API, called with the session cookie. Writes carry the header
// that shows they come from these pages (the server refuses them otherwise).

export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.param = e.param || null;
    this.code = e.code || null;
  }
}

async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET') init.headers['X-Proxide-Dashboard'] = '1';
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 401) {
    location.href = 'login';
    throw new APIError(401, null);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new APIError(res.status, data);
  return data;
}

const q = (params) => {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
};

export const api = {
  clients: (p) => call('GET', 'v1/clients' + q(p)),
  client: (id) => call('GET', 'v1/clients/' + encodeURIComponent(id)),
  spend: (p) => call('GET', 'v1/spend' + q(p)),
  spendCSV: (p) => 'v1/spend' + q({ ...p, format: 'csv' }),
  loops: (p) => call('GET', 'v1/loops' + q(p)),
  clearLoop: (id) => call('DELETE', 'v1/loops/' + encodeURIComponent(id)),
  budgets: (p) => call('GET', 'v1/budgets' + q(p)),
  setBudget: (rule) => call('POST', 'v1/budgets', rule),
  deleteBudget: (key) => call('DELETE', 'v1/budgets/' + encodeURIComponent(key)),
  activity: (p) => call('GET', 'v1/activity' + q(p)),
};

// allBudgets follows the cursor through every page of rules.
export async function allBudgets() {
  const out = [];
  let cursor = '';
  do {
    const page = await api.budgets({ limit: 1000, cursor });
    out.push(...page.budgets);
    cursor = page.next_cursor;
  } while (cursor);
  return out;
}
