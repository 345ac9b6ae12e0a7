// SPDX-License-Identifier: MIT
// Train: submit a train job (a new model from a dataset) with every parameter, and
// follow it: the loss curve grows live from its metrics events {step, steps, loss,
// heldout_loss}; a potential model's HJB residual (events' hjb.residual_rms) beside it,
// and its evaluation (the result's evaluation: SW2, kNN entropy, NLL) at the end.

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

const POTENTIAL = 'Potential and HJB regulariser';

/*
 * The regulariser's options, gathered under hjb_opts for prepare() (their errors name
 * /params/hjb/<name>): the toggle "hjb" on sends {} (the defaults), any option set
 * sends them (on too).  The rest of hjb's options (ramp, probes, h, dt, t_min,
 * weight) are the API's (docs/hjb.md).
 */
function hjbField(name, kind, help, placeholder, extra = {}) {
  return {name: 'hjb.' + name, label: 'hjb.' + name, kind, at: ['hjb_opts', name],
    pointer: '/params/hjb/' + name, help, placeholder, group: POTENTIAL, ...extra};
}

function prepare(body) {
  const on = body.params.hjb === 'on' || body.hjb_opts !== undefined;
  if (on) {
    body.params.hjb = body.hjb_opts || {};
  } else {
    delete body.params.hjb;
  }
  delete body.hjb_opts;
  return body;
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
      param('architecture', 'select', 'eps: the network predicts the noise; potential: a ' +
        'scalar g(x, t) whose gradient is the score (ε = −∇ₓg), for the HJB regulariser',
      {group: POTENTIAL, options: ['eps', 'potential'], placeholder: 'eps'}),
      param('hjb', 'select', 'the HJB regulariser (potential only): on with its defaults, ' +
        'or with the options below (setting one turns it on)',
      {group: POTENTIAL, options: [['on', 'on']], placeholder: 'off'}),
      hjbField('lambda', 'number', 'its weight λ, 0–1000000', '0.01'),
      hjbField('estimator', 'select', 'the Laplacian: every axis (exact) or two random ' +
        'probes (hutchinson); auto: exact up to 8-D', 'auto',
      {options: ['auto', 'exact', 'hutchinson']}),
      hjbField('frac_points', 'number', 'collocation points per step, a share of the batch, ' +
        '(0, 1]', '0.25'),
    ],
    collapsed: [POTENTIAL],
    prepare,
  });
  form.el.id = 'train-form';
}

async function renderJob(root, ctx, id) {
  root.append(el('p', {}, el('a', {href: '#/train'}, '← train another model')));
  const loss = [];
  const heldout = [];
  const residual = [];
  const fig = figure('train-loss', 'Loss per step: the training loss (exponential average) and ' +
    'the held-out DSM loss of the averaged weights', 'wide');
  const after = el('div');
  const draw = () => lines(fig.canvas, {
    xlabel: 'step', ylabel: 'loss', integerX: true,
    series: [{label: 'training loss', points: loss, color: SERIES[0]},
      heldout.some((p) => Number.isFinite(p[1]))
        ? {label: 'held-out loss', points: heldout, color: SERIES[1], dash: true} : null],
  });
  /* a potential with the regulariser: its residual, shown once the first figure comes */
  const res = figure('train-hjb', 'HJB residual RMS per step (the collocation points of the ' +
    'last window; docs/hjb.md)', 'wide');
  const hjbBox = el('section', {hidden: true}, el('h3', {}, 'HJB residual'),
      el('div', {class: 'figures one'}, res.figure));
  const drawResidual = () => {
    hjbBox.hidden = false;
    lines(res.canvas, {xlabel: 'step', ylabel: 'residual RMS', integerX: true,
      series: [{label: 'HJB residual RMS', points: residual, color: SERIES[2]}]});
  };
  await followJob(root, ctx, id, {
    title: 'Train job',
    onEvent(ev) {
      const d = ev.data || {};
      if (ev.event === 'metrics' && Number.isFinite(d.step)) {
        loss.push([d.step, d.loss]);
        heldout.push([d.step, d.heldout_loss]);
        draw();
        if (d.hjb && Number.isFinite(d.hjb.residual_rms)) {
          residual.push([d.step, d.hjb.residual_rms]);
          drawResidual();
        }
      }
    },
    onResult(r) {
      if (r.evaluation) {
        after.append(evaluationTable(r.evaluation));
      }
      after.append(el('p', {}, 'Next: ', el('a', {href: '#/sample?model=' +
        encodeURIComponent(r.model)}, 'sample ' + r.model), ' · ', modelLink(r.model)));
    },
  });
  root.append(el('section', {}, el('h3', {}, 'Loss'), el('div', {class: 'figures one'}, fig.figure)),
      hjbBox, after);
  draw();
}

/* A potential model's evaluation at the end of its job (core/eval_summary.h). */
function evaluationTable(e) {
  const f = (v, d = 4) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const rows = [
    ['SW2 to held-out data', `${f(e.sw2)} (two-sample floor ${f(e.sw2_floor)})`],
    ['kNN entropy [nats]', `${f(e.entropy_knn && e.entropy_knn.value, 3)} ` +
      `(held-out data ${f(e.entropy_knn && e.entropy_knn.data, 3)})`],
    ['NLL of held-out data [nats]', f(e.nll, 3) + (e.nll_se > 0 ? ` ± ${f(e.nll_se, 3)}` : '')],
    e.hjb ? ['HJB residual RMS', f(e.hjb.residual_rms)] : null,
  ].filter(Boolean);
  return el('table', {class: 'evaluation'},
      el('caption', {}, `Evaluation: ${e.n} samples, ${e.sampler} ${e.steps} steps`),
      el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('th', {scope: 'row'}, k),
          el('td', {}, v)))));
}
