// SPDX-License-Identifier: MIT
// Datasets: the list (built-in and uploaded), upload (CSV, NDJSON or .npy), and one
// dataset: its statistics and a preview of its points (GET /v1/datasets/{id}/points)
// as a scatter plot or a grid of digits.

import * as api from '../api.js';
import {buildForm} from '../form.js';
import {drawSamples, figure} from '../plot.js';
import {deleteButton, dl, el, fmtBytes, fmtNum, fmtTime, table} from '../util.js';

const TYPES = [
  ['text/csv', 'CSV (text/csv)'],
  ['application/x-ndjson', 'NDJSON (application/x-ndjson)'],
  ['application/octet-stream', '.npy (application/octet-stream)'],
];

function typeOf(name) {
  if (/\.npy$/i.test(name)) {
    return 'application/octet-stream';
  }
  if (/\.(ndjson|jsonl)$/i.test(name)) {
    return 'application/x-ndjson';
  }
  return 'text/csv';
}

export async function render(root, ctx) {
  if (ctx.id) {
    return renderOne(root, ctx, ctx.id);
  }
  const {datasets} = await api.getJSON('/v1/datasets');
  root.append(el('h2', {}, 'Datasets'),
      el('p', {class: 'intro'}, 'The data jobs train on: built-in sets (generated in code) and ' +
        'your uploads. Open one to see its points.'),
      table('Datasets', ['id', 'kind', 'dims', 'rows', 'labelled', 'size', 'created'],
          datasets.map((d) => [el('a', {href: '#/datasets/' + encodeURIComponent(d.id)}, d.id),
            d.builtin ? 'built-in' : 'upload', String(d.dims), fmtNum(d.rows),
            fmtNum(d.labelled_rows), d.bytes === null ? '–' : fmtBytes(d.bytes),
            fmtTime(d.created)])));
  root.append(el('h3', {}, 'Upload a dataset'),
      el('p', {class: 'muted'}, 'CSV with an optional header naming x0 … x{D−1} and y (the ' +
        'label); NDJSON rows [x0, x1, …] or {"x": […], "y": 1.5}; or a .npy array (N, D).'));
  const form = buildForm([
    {name: 'id', kind: 'text', label: 'id', required: true, help: '[a-z0-9][a-z0-9._-]{0,63}'},
    {name: 'file', kind: 'file', label: 'file', required: true, accept: '.csv,.ndjson,.jsonl,.npy'},
    {name: 'type', kind: 'select', label: 'format', options: TYPES,
      placeholder: '(by the file name\'s extension)'},
  ], {
    submitLabel: 'Upload',
    mapField: (field) => (field === 'id' ? 'id' : 'file'), /* "line L", "byte B": the file */
    async onSubmit(v) {
      if (!v.file) {
        throw Object.assign(new Error('choose a file to upload'), {field: '/file'});
      }
      const id = v.id || '';
      const r = await api.call('POST', '/v1/datasets?id=' + encodeURIComponent(id),
          {body: v.file, type: v.type || typeOf(v.file.name)});
      const d = await r.json();
      ctx.navigate('#/datasets/' + encodeURIComponent(d.id));
    },
  });
  form.el.id = 'dataset-upload';
  root.append(form.el);
}

async function renderOne(root, ctx, id) {
  const d = await api.getJSON('/v1/datasets/' + encodeURIComponent(id));
  const status = el('div');
  const del = deleteButton('dataset ' + d.id, '/v1/datasets/' + encodeURIComponent(d.id),
      'This cannot be undone.', () => ctx.navigate('#/datasets'), status);
  root.append(el('p', {}, el('a', {href: '#/datasets'}, '← all datasets')),
      el('h2', {}, 'Dataset ', el('code', {}, d.id)),
      el('div', {class: 'actions'},
          el('a', {href: '#/train?dataset=' + encodeURIComponent(d.id), class: 'button'},
              'Train a model on it'),
          d.protected ? el('span', {class: 'muted'}, 'built in: protected') : del),
      status,
      dl([['kind', d.builtin ? 'built-in (generated in code)' : 'upload'],
        ['dimensions', String(d.dims)], ['rows', fmtNum(d.rows)],
        ['labelled rows', fmtNum(d.labelled_rows)],
        ['stored', d.bytes === null ? '–' : fmtBytes(d.bytes)], ['created', fmtTime(d.created)]]));
  if (Array.isArray(d.mean)) {
    root.append(table('Column statistics', ['column', 'mean', 'std'],
        d.mean.slice(0, 64).map((m, i) => ['x' + i, fmtNum(m), fmtNum(d.std[i])])));
  }
  const r = await api.getJSON(`/v1/datasets/${encodeURIComponent(d.id)}/points?n=2000`);
  const fig = figure('dataset-preview', `${fmtNum(r.n)} ${r.source === 'heldout'
    ? 'held-out points' : 'rows, spread over the file'} of ${d.id}`);
  root.append(el('section', {}, el('h3', {}, 'Preview'), el('div', {class: 'figures one'}, fig.figure)));
  drawSamples(fig.canvas, r.points, {label: r.source === 'heldout' ? 'held-out points' : 'rows'});
}
