// SPDX-License-Identifier: MIT
// Models: the list (GET /v1/models), and one model: its architecture, dataset,
// chain of parents (following `parent` with GET /v1/models/{id}), provenance, the
// figures its file recorded at creation, download and delete.

import * as api from '../api.js';
import {deleteButton, dl, downloadBlob, el, errorText, fmtBytes, fmtNum, fmtTime, modelLink,
  notice, table} from '../util.js';

// Metadata keys that describe the network (shown as the architecture), not figures.
const ARCHITECTURE_KEYS = new Set(['format', 'data_dim', 'cond_dim', 'hidden', 'activation',
  'time_embedding', 'prediction', 'schedule', 'data_offset', 'data_scale', 'dataset', 'parent',
  'created', 'provenance', 'owner']);

export async function render(root, ctx) {
  if (ctx.id) {
    return renderOne(root, ctx, ctx.id);
  }
  const {models} = await api.getJSON('/v1/models');
  root.append(el('h2', {}, 'Models'),
      el('p', {class: 'intro'}, 'Every model this daemon holds: the shipped ones (protected) and ' +
        'the ones uploaded or made by jobs. Open one for its lineage and figures.'));
  root.append(table('Models', ['id', 'dataset', 'dims', 'hidden', 'parameters', 'parent',
    'created', ''], models.map((m) => [
    el('a', {href: '#/models/' + encodeURIComponent(m.id)}, m.id),
    m.dataset ? el('a', {href: '#/datasets/' + encodeURIComponent(m.dataset)}, m.dataset) : '–',
    String(m.data_dim) + (m.cond_dim ? ` + ${m.cond_dim} cond` : ''),
    (m.hidden || []).join(' × '),
    fmtNum(m.params),
    modelLink(m.parent),
    fmtTime(m.created),
    m.protected ? el('span', {class: 'tag'}, 'shipped') : '',
  ]), 'models'));
}

/* The chain of parents of m: [{id, model?}], oldest last; stops at a missing one. */
async function parents(m) {
  const chain = [];
  const seen = new Set([m.id]);
  let p = m.parent;
  while (p && !seen.has(p) && chain.length < 32) {
    seen.add(p);
    try {
      const pm = await api.getJSON('/v1/models/' + encodeURIComponent(p));
      chain.push({id: p, model: pm});
      p = pm.parent;
    } catch (e) {
      chain.push({id: p, missing: e.status === 404 ? 'deleted or not visible' : errorText(e)});
      break;
    }
  }
  return chain;
}

/* A metadata value for people: JSON shown folded, long text cut. */
function metaValue(v) {
  const s = String(v);
  if (/^[[{]/.test(s)) {
    let pretty = s;
    try {
      pretty = JSON.stringify(JSON.parse(s), null, 1);
    } catch {
      /* not JSON after all */
    }
    return el('details', {}, el('summary', {}, s.length > 60 ? s.slice(0, 60) + '…' : s),
        el('pre', {}, pretty));
  }
  return s;
}

function downloadButton(m) {
  const href = `/v1/models/${encodeURIComponent(m.id)}/weights`;
  const a = el('a', {href, download: m.id + '.safetensors', class: 'button'},
      `Download weights (${fmtBytes(m.file_bytes)})`);
  a.addEventListener('click', async (ev) => {
    if (!api.getKey()) {
      return; /* a plain download needs no header */
    }
    ev.preventDefault();
    try {
      downloadBlob(await api.getBlob(href), m.id + '.safetensors');
    } catch (e) {
      a.after(notice('error', errorText(e)));
    }
  });
  return a;
}

async function renderOne(root, ctx, id) {
  const m = await api.getJSON('/v1/models/' + encodeURIComponent(id));
  const status = el('div');
  const del = deleteButton('model ' + m.id, '/v1/models/' + encodeURIComponent(m.id),
      'Its file is removed; this cannot be undone.', () => ctx.navigate('#/models'), status);
  root.append(el('p', {}, el('a', {href: '#/models'}, '← all models')),
      el('h2', {}, 'Model ', el('code', {}, m.id)),
      el('div', {class: 'actions'},
          el('a', {href: '#/sample?model=' + encodeURIComponent(m.id), class: 'button primary'},
              'Sample it'),
          m.data_dim <= 64 && !m.cond_dim
            ? el('a', {href: '#/explore?model=' + encodeURIComponent(m.id), class: 'button'},
                'Explore it (S-MEME)') : null,
          downloadButton(m),
          m.protected ? el('span', {class: 'muted'}, 'shipped: protected from deletion') : del),
      status);

  const arch = dl([
    ['data dimension', String(m.data_dim)],
    ['condition dimension', String(m.cond_dim)],
    ['network', `MLP ${[m.data_dim + m.emb_dim + m.cond_dim, ...(m.hidden || []), m.data_dim]
      .join(' → ')} (${(m.metadata && m.metadata.activation) || 'silu'})`],
    ['parameters', fmtNum(m.params)],
    ['time embedding', `${m.emb_dim} (${(m.metadata && m.metadata.time_embedding) || 'sinusoidal'})`],
    ['noise schedule', m.schedule || '–'],
    ['prediction', m.prediction || '–'],
    ['normalisation', `x_model = (x − ${fmtNum(m.data_offset)}) / ${fmtNum(m.data_scale)}`],
    ['file', fmtBytes(m.file_bytes)],
  ]);
  const lineage = el('ol', {class: 'lineage'}, el('li', {}, el('strong', {}, m.id), ' (this model)'));
  const figures = Object.entries(m.metadata || {}).filter(([k]) => !ARCHITECTURE_KEYS.has(k));
  root.append(
      el('section', {}, el('h3', {}, 'Architecture'), arch),
      el('section', {}, el('h3', {}, 'Data and lineage'), dl([
        ['dataset', m.dataset
          ? el('a', {href: '#/datasets/' + encodeURIComponent(m.dataset)}, m.dataset) : '–'],
        ['created', fmtTime(m.created)],
      ]), el('h4', {}, 'Chain of parents'), lineage),
      el('section', {}, el('h3', {}, 'Provenance'), el('pre', {class: 'provenance'},
          m.provenance || '(not recorded)')),
      el('section', {}, el('h3', {}, 'Figures at creation'), figures.length === 0
        ? el('p', {class: 'muted'}, 'The file records none.')
        : table('Figures recorded in the model file', ['key', 'value'],
            figures.map(([k, v]) => [el('code', {}, k), metaValue(v)]))));
  for (const p of await parents(m)) {
    lineage.append(el('li', {}, p.model ? modelLink(p.id) : el('code', {}, p.id),
        p.model ? ` (${p.model.dataset || '?'}; ${p.model.protected ? 'shipped' : 'made ' +
          fmtTime(p.model.created)})` : ` (${p.missing})`));
  }
}
