// The router: #/overview, #/agents, #/client/<id>, #/rules. The page shown
// refreshes every REFRESH_MS while the tab is visible.
import { clear, h } from './ui.js';
import * as overview from './pages/overview.js';
import * as agents from './pages/agents.js';
import * as client from './pages/client.js';
import * as rules from './pages/rules.js';

const REFRESH_MS = 10000;
const main = document.getElementById('main');
let current = null;
let timer = null;

function route() {
  const [, name = 'overview', ...rest] = (location.hash || '#/overview').split('/');
  const pages = { overview, agents, client, rules };
  const page = pages[name] || overview;
  document.querySelectorAll('[data-nav]').forEach((a) => {
    const on = a.dataset.nav === name || (name === 'client' && a.dataset.nav === 'agents');
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  });
  if (current && current.stop) current.stop();
  clearInterval(timer);
  clear(main);
  main.dataset.page = name;
  delete main.dataset.loaded;
  current = page.render(main, decodeURIComponent(rest.join('/'))) || {};
  if (current.refresh) {
    timer = setInterval(() => { if (!document.hidden) current.refresh(); }, REFRESH_MS);
  }
  main.focus({ preventScroll: true });
}

// report shows a failed load in the page instead of failing silently.
window.addEventListener('unhandledrejection', (e) => {
  main.append(h('p', { class: 'error', role: 'alert' }, 'Error: ' + (e.reason && e.reason.message ? e.reason.message : e.reason)));
});

window.addEventListener('hashchange', route);
// uPlot is a deferred classic script: it has run by DOMContentLoaded.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', route); else route();
