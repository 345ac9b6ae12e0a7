// SPDX-License-Identifier: MIT
// Train: submit a train job (a new model from a dataset) with every parameter, and
// follow it: the loss curve grows live from its metrics events {step, steps, loss,
// heldout_loss}.

import * as api from '../api.js';
import {followJob, jobForm, param} from '../jobpanel.js';
import {SERIES} from '../palette.js';
import {figure, lines} from '../plot.js';
import {el, modelLink} from '../util.js';

/** The TrainSettings fields under prefix ('' for train, 'train.' inside finetune.reward). */
export function trainSettings(prefix, group, batchDefault = '512') {
  const p = (name, kind, help, placeholder) =>
    param(prefix + name, kind, help, {group, placeholder});
  return [
    p('hidden', 'ints', '1–8 hidden widths of 1–8192', '256, 256, 256'),
    p('emb', 'int', 'the time embedding\'s width, even, 2–8192', '64'),
    p('schedule', 'text', 'linear:BETA_MIN:BETA_MAX:T or cosine:S:T', 'linear:0.0001:0.02:1000'),
    p('steps', 'int', 'optimiser steps, 1–200000', '20000'),
    p('batch', 'int', 'rows per step, 1–4096', batchDefault),
    p('lr', 'number', 'peak learning rate, (0, 1]', '0.001'),
    p('lr_min', 'number', 'the cosine decay\'s floor, 0–1', '0.00001'),
    p('warmup', 'int', 'linear warm-up steps', '500'),
    p('ema', 'number', 'the weight average\'s decay, 0–0.999999', '0.999'),
    p('clip', 'number', 'gradient-norm clip (0: none)', '1'),
  ];
}

export async function render(root, ctx) {
  if (ctx.id) {
    return renderJob(root, ctx, ctx.id);
  }
  const {datasets} = await api.getJSON('/v1/datasets');
  const form = await jobForm(root, ctx, {
    type: 'train',
    view: 'train',
    title: 'Train a model',
    intro: 'Trains the reference MLP by denoising score matching on a built-in or uploaded ' +
      'dataset. Defaults train a model as good as the shipped ones (minutes); try steps 2000 ' +
      'for a quick look.',
    fields: [
      param('dataset', 'select', 'a built-in dataset or an upload (required)', {required: true,
        options: datasets.map((d) => d.id), value: ctx.query.get('dataset') || 'two_moons'}),
      ...trainSettings('', 'Network and optimiser'),
      param('seed', 'int', '0–2^53', {placeholder: '0'}),
      param('dequantise', 'bool', 'digits only: uniform noise of one grey level per pixel',
          {placeholder: '(default: false)'}),
      param('out_model', 'text', 'the new model\'s id', {placeholder: 'the server names it'}),
    ],
    collapsed: [],
  });
  form.el.id = 'train-form';
}

async function renderJob(root, ctx, id) {
  root.append(el('p', {}, el('a', {href: '#/train'}, '← train another model')));
  const loss = [];
  const heldout = [];
  const fig = figure('train-loss', 'Loss per step: the training loss (exponential average) and ' +
    'the held-out DSM loss of the averaged weights', 'wide');
  const after = el('div');
  const draw = () => lines(fig.canvas, {
    xlabel: 'step', ylabel: 'loss', integerX: true,
    series: [{label: 'training loss', points: loss, color: SERIES[0]},
      heldout.some((p) => Number.isFinite(p[1]))
        ? {label: 'held-out loss', points: heldout, color: SERIES[1], dash: true} : null],
  });
  await followJob(root, ctx, id, {
    title: 'Train job',
    onEvent(ev) {
      const d = ev.data || {};
      if (ev.event === 'metrics' && Number.isFinite(d.step)) {
        loss.push([d.step, d.loss]);
        heldout.push([d.step, d.heldout_loss]);
        draw();
      }
    },
    onResult(r) {
      after.append(el('p', {}, 'Next: ', el('a', {href: '#/sample?model=' +
        encodeURIComponent(r.model)}, 'sample ' + r.model), ' · ', modelLink(r.model)));
    },
  });
  root.append(el('section', {}, el('h3', {}, 'Loss'), el('div', {class: 'figures one'}, fig.figure)),
      after);
  draw();
}
