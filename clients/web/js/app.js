// SPDX-License-Identifier: MIT
// The page: a router over location.hash (#/models, #/models/ID, #/sample?model=ID,
// #/jobs/ID, #/explore/JOB, ...), the navigation, the API key field, and the
// views, one module each (js/views/).  Everything goes through the public API.

import * as api from './api.js';
import {clear, el, errorText, notice} from './util.js';
import * as models from './views/models.js';
import * as sample from './views/sample.js';
import * as jobs from './views/jobs.js';
import * as explore from './views/explore.js';
import * as train from './views/train.js';
import * as reward from './views/reward.js';
import * as dxmi from './views/dxmi.js';
import * as datasets from './views/datasets.js';

const VIEWS = {models, sample, jobs, explore, train, reward, dxmi, datasets};

const main = document.getElementById('main');
const banner = document.getElementById('banner');
const keyForm = document.getElementById('key-form');
const keyInput = document.getElementById('api-key');
const keyStatus = document.getElementById('key-status');

let leaving = [];
let alive = {value: false};

/** The route of a hash: {view, id, query}. */
function route() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, q] = h.split('?');
  const parts = path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  const view = VIEWS[parts[0]] ? parts[0] : 'models';
  return {view, id: parts[1] || null, query: new URLSearchParams(q || '')};
}

function showKeyState() {
  keyStatus.textContent = api.getKey() ? 'key set for this tab' : '';
}

async function render() {
  for (const fn of leaving) {
    try {
      fn();
    } catch {
      /* a view's clean-up failed: go on with the next */
    }
  }
  leaving = [];
  alive.value = false;
  const mine = (alive = {value: true});
  const r = route();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.getAttribute('href') === '#/' + r.view) {
      a.setAttribute('aria-current', 'page');
    } else {
      a.removeAttribute('aria-current');
    }
  }
  clear(main);
  main.setAttribute('aria-busy', 'true');
  document.title = `Manifold · ${r.view}`;
  const ctx = {
    id: r.id,
    query: r.query,
    alive: () => mine.value,
    onLeave(fn) {
      if (mine.value) {
        leaving.push(fn);
      } else {
        fn();
      }
    },
    navigate(hash) {
      location.hash = hash;
    },
  };
  try {
    await VIEWS[r.view].render(main, ctx);
  } catch (e) {
    if (mine.value) {
      main.append(notice('error', errorText(e)));
    }
  } finally {
    if (mine.value) {
      main.setAttribute('aria-busy', 'false');
      main.dataset.view = r.view;
      main.dataset.ready = String(Date.now());
    }
  }
}

api.onAuthNeeded((e) => {
  banner.hidden = false;
  clear(banner).append(api.getKey()
    ? `The daemon refused the API key (${e.message}). Enter another one above.`
    : 'This daemon needs an API key: enter it above (it is kept in this tab only).');
  keyForm.classList.add('wanted');
  keyInput.focus();
});

keyForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  api.setKey(keyInput.value.trim());
  keyInput.value = '';
  banner.hidden = true;
  keyForm.classList.remove('wanted');
  showKeyState();
  render();
});

document.getElementById('key-forget').addEventListener('click', () => {
  api.setKey('');
  showKeyState();
  render();
});

window.addEventListener('hashchange', render);
// for people debugging and for the browser test: plots, streams, a simulated drop
window.__manifold = {plots: window.__plots, streamLog: api.streamLog, dropStreams: api.dropStreams};
showKeyState();
render();
