// SPDX-License-Identifier: MIT
// Explore (finetune.smeme): submit with every parameter; while it runs, each
// iteration's samples beside the parent's (iteration 0) over held-out data, and
// per iteration the kNN and histogram entropies (with the dataset's entropy
// ceiling where it is known), the Vendi score and the share inside the support,
// so a user sees entropy rise, and sees samples leave the support if they do.

import * as api from '../api.js';
import {followJob, jobForm, modelField, param, startModel} from '../jobpanel.js';
import {metricsTable} from '../metrics.js';
import {CEILING, OKABE_ITO, SERIES} from '../palette.js';
import {drawSamples, figure, lines, scatterBounds} from '../plot.js';
import {clear, el, fmtNum, modelLink, table} from '../util.js';
import {referencePoints} from './sample.js';

// The most entropy a density on the dataset's support can have (docs/metrics.md): the
// uniform law on it, log of its area (imbalanced_square: [-1, 1]^2; checkerboard: 8 squares).
const CEILINGS = {
  imbalanced_square: [Math.log(4), 'ceiling log 4 = 1.386'],
  checkerboard: [Math.log(8), 'ceiling log 8 = 2.079'],
};

export function smemeFields(models, model) {
  const am = 'Adjoint Matching';
  const clip = 'Clipping';
  return [
    modelField(models, {value: model, help: 'the pre-trained model to explore from (required)'}),
    param('K', 'int', 'iterations, 1–16', {placeholder: '2'}),
    param('alpha', 'numOrList', 'entropy weight of each iteration: one number in (1, 100], or a ' +
      'list of K', {placeholder: '2 for each iteration'}),
    param('n_metric_samples', 'int', 'samples drawn after each iteration for its metrics, ' +
      '100–10000', {placeholder: '2000'}),
    param('seed', 'int', '0–2^53', {placeholder: '0'}),
    param('out_model', 'text', 'the final model\'s id', {placeholder: 'the server names it'}),
    param('keep_iterations', 'bool', 'also publish each iteration\'s model as <final id>-it<k> ' +
      '(default false), so you can pick the trade-off between entropy and support'),
    param('rounds', 'int', 'rounds per iteration, 1–100000', {group: am, placeholder: '200'}),
    param('steps', 'int', 'the sampler grid N, 2–1000', {group: am, placeholder: '100'}),
    param('trajectories', 'int', 'trajectories per round, 1–1024', {group: am, placeholder: '64'}),
    param('batch', 'int', 'pairs per Adam step, 1–16384', {group: am, placeholder: '2048'}),
    param('inner_steps', 'int', 'Adam steps per round, 1–100', {group: am, placeholder: '2'}),
    param('lr', 'number', 'Adam\'s learning rate, (0, 1]', {group: am, placeholder: '0.0004'}),
    param('tau_r', 'int', 'the timestep whose score estimates the reward gradient, 0–999, below ' +
      'the model\'s T', {group: am, placeholder: '10'}),
    param('clip_reward', 'number', 'norm clip of the terminal adjoint, 0–1e6 (0: none)',
        {group: clip, placeholder: '2.5'}),
    param('clip_grad', 'number', 'gradient-norm clip, 0–1e6 (0: none)', {group: clip, placeholder: '1'}),
    param('clip_loss', 'number', 'per-pair loss clip, 0–1e12 (0: none)', {group: clip, placeholder: '0'}),
  ];
}

export async function render(root, ctx) {
  if (ctx.id) {
    return renderJob(root, ctx, ctx.id);
  }
  const {models} = await api.getJSON('/v1/models');
  const model = startModel(models, ctx.query, 'imbalanced_square');
  const form = await jobForm(root, ctx, {
    type: 'finetune.smeme',
    view: 'explore',
    title: 'Explore: maximum-entropy manifold exploration (S-MEME)',
    intro: 'Fine-tunes a model, iteration by iteration, so its samples spread as evenly as ' +
      'possible over the data manifold it learnt. Every parameter is optional; the defaults ' +
      'are the paper\'s settings (minutes on two cores).',
    fields: smemeFields(models.filter((m) => !m.cond_dim), model),
    collapsed: ['Adjoint Matching', 'Clipping'],
  });
  form.el.id = 'explore-form';
}

/* The figures of one iteration's metrics event. */
function figuresOf(d) {
  const m = d.metrics || {};
  const v = (o, k) => (o && Number.isFinite(o[k]) ? o[k] : null);
  return {
    iteration: d.iteration,
    alpha: d.alpha,
    loss: d.loss,
    model: d.model || null,
    knn: v(m.entropy_knn, 'value'),
    hist: v(m.entropy_hist, 'value'),
    vendi: v(m.vendi, 'q2'),
    inside: v(m.support, 'inside'),
    insideMargin: v(m.support, 'inside_margin'),
    sw2: v(m.sw2, 'value'),
    metrics: m,
  };
}

async function renderJob(root, ctx, id) {
  root.append(el('p', {}, el('a', {href: '#/explore'}, '← explore another model')));
  const iterations = []; /* by iteration: figuresOf */
  const samples = []; /* by iteration: rows */
  let reference = null;
  let ceiling = null;
  let selected = null; /* null: follow the latest */

  const parentFig = figure('explore-parent', 'The parent\'s samples (iteration 0)');
  const iterFig = figure('explore-iteration', 'Samples of the latest iteration');
  const picker = el('input', {type: 'range', id: 'explore-pick', min: 0, max: 0, step: 1, value: 0,
    'aria-describedby': 'explore-pick-text'});
  const pickerText = el('output', {id: 'explore-pick-text', for: 'explore-pick'});
  const entropyFig = figure('explore-entropy', 'Entropy per iteration (nats)', 'wide');
  const vendiFig = figure('explore-vendi', 'Vendi score per iteration', 'wide');
  const supportFig = figure('explore-support', 'Share of samples inside the support', 'wide');
  const tableBox = el('div');
  const metricsBox = el('div');

  let pending = false;
  const draw = () => {
    if (pending) {
      return;
    }
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      redraw();
    });
  };
  const redraw = () => {
    const last = samples.length - 1;
    picker.max = String(Math.max(0, last));
    const k = selected === null ? last : Math.min(selected, last);
    picker.value = String(Math.max(0, k));
    const all = samples.filter(Boolean).concat(reference ? [reference] : []);
    const D = (samples.find(Boolean) || [[0, 0]])[0].length;
    const bounds = D === 2 ? scatterBounds(all) : undefined;
    drawSamples(parentFig.canvas, samples[0] || [], {reference, label: 'parent',
      color: SERIES[1], bounds});
    drawSamples(iterFig.canvas, k >= 0 ? samples[k] || [] : [], {reference,
      label: k > 0 ? `iteration ${k}` : 'parent', bounds});
    const it = iterations[k];
    const caption = k > 0 ? `Samples of iteration ${k}` + (it && it.model ? ` (model ${it.model})` : '')
      : 'Samples of iteration 0 (the parent)';
    iterFig.caption.textContent = caption;
    pickerText.textContent = k >= 0 ? `iteration ${k} of ${last}` : 'no samples yet';
    const pts = (key) => iterations.filter(Boolean).map((f) => [f.iteration, f[key]]);
    lines(entropyFig.canvas, {
      xlabel: 'iteration', ylabel: 'entropy (nats)', integerX: true,
      series: [{label: 'kNN entropy', points: pts('knn'), color: SERIES[0]},
        iterations.some((f) => f && f.hist !== null)
          ? {label: 'histogram entropy', points: pts('hist'), color: SERIES[1], dash: true} : null],
      hlines: ceiling ? [{y: ceiling[0], legend: ceiling[1], color: CEILING}] : [],
    });
    lines(vendiFig.canvas, {xlabel: 'iteration', ylabel: 'Vendi score (effective samples)',
      integerX: true, series: [{label: 'Vendi score', points: pts('vendi'), color: SERIES[2]}]});
    const hasSupport = iterations.some((f) => f && f.inside !== null);
    lines(supportFig.canvas, {xlabel: 'iteration', ylabel: 'fraction', integerX: true,
      ylim: [0, 1.05], empty: hasSupport || iterations.length === 0 ? 'waiting for data'
        : 'this dataset has no known support',
      series: hasSupport ? [{label: 'inside', points: pts('inside'), color: OKABE_ITO.green},
        {label: `within ${fmtNum((iterations.find((f) => f && f.metrics.support) || {metrics:
          {support: {}}}).metrics.support.margin)}`, points: pts('insideMargin'),
        color: OKABE_ITO.sky, dash: true}] : []});
    clear(tableBox).append(table('Figures per iteration', ['iteration', 'α', 'loss',
      'kNN entropy (nats)', 'histogram entropy (nats)', 'Vendi', 'inside support', 'SW2 to parent',
      'model'], iterations.filter(Boolean).map((f) => [String(f.iteration), fmtNum(f.alpha),
      fmtNum(f.loss), fmtNum(f.knn), fmtNum(f.hist), fmtNum(f.vendi), fmtNum(f.inside),
      fmtNum(f.sw2), f.model ? modelLink(f.model) : '–'])));
    clear(metricsBox).append(it ? metricsTable(it.metrics, `Metrics of iteration ${k}` +
      (k > 0 ? ' (reference: the parent\'s samples)' : '')) : el('p', {class: 'muted'},
      'Waiting for the first evaluation.'));
  };

  picker.addEventListener('input', () => {
    const v = Number(picker.value);
    selected = v >= samples.length - 1 ? null : v;
    draw();
  });

  const job = await followJob(root, ctx, id, {
    title: 'S-MEME job',
    onEvent(ev) {
      const d = ev.data || {};
      if (ev.event === 'metrics' && Number.isInteger(d.iteration)) {
        iterations[d.iteration] = figuresOf(d);
        draw();
      } else if (ev.event === 'samples' && Number.isInteger(d.iteration)) {
        const rows = samples[d.iteration] && d.offset > 0 ? samples[d.iteration] : [];
        samples[d.iteration] = rows.concat(d.samples || []);
        draw();
      }
    },
  });
  root.append(
      el('section', {}, el('h3', {}, 'Samples: the parent beside an iteration'),
          el('div', {class: 'picker'}, el('label', {for: 'explore-pick'}, 'iteration'), picker,
              pickerText),
          el('div', {class: 'figures'}, parentFig.figure, iterFig.figure)),
      el('section', {}, el('h3', {}, 'Per iteration'),
          el('div', {class: 'figures'}, entropyFig.figure, vendiFig.figure, supportFig.figure),
          tableBox),
      el('section', {}, metricsBox));
  try {
    const parent = await api.getJSON('/v1/models/' + encodeURIComponent(job.model));
    ceiling = CEILINGS[parent.dataset] || null;
    reference = parent.data_dim === 2 ? await referencePoints(parent.dataset) : null;
  } catch {
    /* the parent is gone: no reference layer */
  }
  draw();
}
