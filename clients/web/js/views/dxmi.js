// SPDX-License-Identifier: MIT
// DxMI (finetune.dxmi): submit with every parameter; follow the evaluations (SW2
// against its floor, the energy's AUC) with the few-step sampler's samples beside
// the parent's; then, for a model with an energy network, the energy as a heat map
// (2-D: POST /v1/scores on a grid) and the anomaly scores of an uploaded CSV.

import * as api from '../api.js';
import {followJob, jobForm, modelField, param, startModel} from '../jobpanel.js';
import {OKABE_ITO, REFERENCE, SERIES} from '../palette.js';
import {drawSamples, figure, heatmap, lines, scatter, scatterBounds} from '../plot.js';
import {clear, downloadBlob, el, errorText, fmtNum, notice, parseCSV, table} from '../util.js';
import {referencePoints} from './sample.js';

const GRID = 64;

function fields(models, model) {
  const lr = 'Learning rates and clipping';
  const nets = 'Networks';
  const run = 'Run and evaluation';
  const both = (a, b) => `${a} / ${b}`;
  return [
    modelField(models, {value: model, help: 'the model to distil (required)',
      filter: (m) => !m.cond_dim}),
    param('steps', 'int', 'T of the few-step sampler, 2–64', {placeholder: both(5, 10)}),
    param('schedule', 'select', 'the short chain\'s noise levels', {options: ['code', 'matched'],
      placeholder: '(default: code)'}),
    param('tau_entropy', 'number', 'entropy temperature, 0–10', {placeholder: both(0.1, 0.01)}),
    param('tau_velocity', 'number', 'velocity regulariser temperature, 0–10', {placeholder: '0.01'}),
    param('gamma', 'number', 'energy regulariser weight, 0–100', {placeholder: '1'}),
    param('adavelreg', 'number', 'the adaptive velocity regulariser\'s decay, 0–0.9999',
        {placeholder: '0.99'}),
    param('dataset', 'text', 'the data the energy learns (an id)', {placeholder: 'the parent\'s dataset'}),
    param('seed', 'int', '0–2^53', {placeholder: '0'}),
    param('out_model', 'text', 'the new model\'s id', {placeholder: '<model>-dxmi-<job>'}),
    param('lr_sampler', 'number', '0–1', {group: lr, placeholder: both('1e-5', '5e-7')}),
    param('lr_sigma', 'number', '0–1', {group: lr, placeholder: '1e-4'}),
    param('lr_energy', 'number', '0–1', {group: lr, placeholder: both('1e-4', '3e-4')}),
    param('lr_value', 'number', '0–1', {group: lr, placeholder: '1e-3'}),
    param('clip_sampler', 'number', 'gradient-norm clip, 0–1e6 (0: none)', {group: lr, placeholder: '0.1'}),
    param('clip_energy', 'number', 'gradient-norm clip, 0–1e6 (0: none)', {group: lr, placeholder: '0'}),
    param('energy_hidden', 'ints', '1–4 widths of 1–1024', {group: nets, placeholder: '128, 128'}),
    param('value_hidden', 'ints', '1–4 widths of 1–1024', {group: nets, placeholder: '128, 128'}),
    param('value_emb', 'int', 'the value network\'s time embedding, even, 2–256',
        {group: nets, placeholder: '16'}),
    param('batch', 'int', '1–4096', {group: run, placeholder: both(512, 128)}),
    param('iters', 'int', 'iterations, 1–200000', {group: run, placeholder: both(4000, 1200)}),
    param('warmup', 'int', 'first iterations training only the energy and value, 0–1e6',
        {group: run, placeholder: '200'}),
    param('n_generator', 'int', 'sampler steps trained per iteration, 1–steps',
        {group: run, placeholder: '1'}),
    param('eval_every', 'int', 'iterations between evaluations, 1–1e6', {group: run, placeholder: '500'}),
    param('n_eval', 'int', 'samples per evaluation seed, 100–10000', {group: run, placeholder: '1000'}),
  ];
}

const hasEnergy = (m) => Boolean(m.metadata && m.metadata.energy_quantiles);

export async function render(root, ctx) {
  if (ctx.id) {
    return renderJob(root, ctx, ctx.id);
  }
  const {models} = await api.getJSON('/v1/models');
  const form = await jobForm(root, ctx, {
    type: 'finetune.dxmi',
    view: 'dxmi',
    title: 'DxMI: a few-step sampler and an energy model',
    intro: 'Distils a model into a sampler of a few steps, trained against an energy network ' +
      'that also scores anomalies (maximum-entropy inverse RL). Defaults written "A / B" are ' +
      'for data of at most 8 dimensions / more.',
    fields: fields(models, startModel(models, ctx.query, 'eight_gaussians')),
    collapsed: ['Learning rates and clipping', 'Networks', 'Run and evaluation'],
  });
  form.el.id = 'dxmi-form';
  const energyModels = models.filter(hasEnergy);
  root.append(scoresSection(energyModels, energyModels.length > 0 ? energyModels[0] : null));
}

/* The energy heat map of a 2-D model with an energy network, into fig. */
async function energyMap(fig, model) {
  const reference = await referencePoints(model.dataset, 1000);
  const b = scatterBounds(reference ? [reference] : [[[-3, -3], [3, 3]]]);
  const pad = (r) => [r[0] - 0.25 * (r[1] - r[0]), r[1] + 0.25 * (r[1] - r[0])];
  const x = pad(b.x);
  const y = pad(b.y);
  const points = [];
  for (let j = 0; j < GRID; j++) {
    for (let i = 0; i < GRID; i++) {
      points.push([x[0] + ((i + 0.5) * (x[1] - x[0])) / GRID, y[0] + ((j + 0.5) * (y[1] - y[0])) / GRID]);
    }
  }
  const r = await api.send('POST', '/v1/scores', {model: model.id, points});
  heatmap(fig.canvas, {xlabel: 'x0', ylabel: 'x1', label: 'energy (low = data-like)',
    grid: {nx: GRID, ny: GRID, x, y, values: r.scores.map((s) => (s.energy === null ? NaN : s.energy))},
    points: reference || []});
}

/* Energy map and anomaly scores of a CSV, for one of models (those with an energy network). */
function scoresSection(models, initial) {
  const box = el('section', {class: 'scores'}, el('h3', {}, 'Energy and anomaly scores'));
  if (models.length === 0) {
    box.append(el('p', {class: 'muted'}, 'No model here has an energy network yet: a ' +
      'finetune.dxmi job makes one.'));
    return box;
  }
  const select = el('select', {id: 'scores-model'}, models.map((m) =>
    el('option', {value: m.id}, `${m.id} (${m.data_dim}-D)`)));
  if (initial) {
    select.value = initial.id;
  }
  const file = el('input', {type: 'file', id: 'scores-file', accept: '.csv,text/csv',
    'aria-describedby': 'scores-help'});
  const out = el('div', {'aria-live': 'polite'});
  const mapFig = figure('dxmi-energy', 'Energy of the model on a grid, held-out data on top', 'square');
  const mapBox = el('div', {class: 'figures one'});
  const show = async () => {
    const m = models.find((x) => x.id === select.value);
    clear(mapBox);
    if (m && m.data_dim === 2) {
      mapBox.append(mapFig.figure);
      try {
        await energyMap(mapFig, m);
      } catch (e) {
        mapBox.append(notice('error', errorText(e)));
      }
    }
  };
  const score = async () => {
    const f = file.files && file.files[0];
    if (!f) {
      return;
    }
    clear(out);
    let points;
    try {
      points = parseCSV(await f.text());
    } catch (e) {
      out.append(notice('error', `${f.name}: ${e.message}`));
      return;
    }
    try {
      const r = await api.send('POST', '/v1/scores', {model: select.value, points});
      const csv = el('button', {type: 'button'}, 'Download scores (CSV)');
      csv.addEventListener('click', () => downloadBlob(new Blob(['row,energy,percentile,outlier\n' +
        r.scores.map((s, i) => `${i},${s.energy},${s.percentile},${s.outlier}`).join('\n') + '\n'],
      {type: 'text/csv'}), `scores-${select.value}.csv`));
      out.append(el('p', {}, `${fmtNum(r.n)} points, ${fmtNum(r.outliers)} outliers (energy above ` +
        `${fmtNum(r.threshold)}, the 99 % quantile of the training data's energies).`), csv);
      if (points[0].length === 2) {
        const fig = figure('dxmi-scores', 'The uploaded points: outliers in vermillion');
        out.append(el('div', {class: 'figures one'}, fig.figure));
        scatter(fig.canvas, {xlabel: 'x0', ylabel: 'x1', layers: [
          {label: 'inliers', points: points.filter((_, i) => !r.scores[i].outlier), color: SERIES[0]},
          {label: 'outliers', points: points.filter((_, i) => r.scores[i].outlier),
            color: OKABE_ITO.vermillion, size: 4}]});
      }
      out.append(table(`Scores (the first ${Math.min(200, r.scores.length)} rows)`,
          ['row', 'energy', 'percentile', 'outlier'], r.scores.slice(0, 200).map((s, i) =>
            [String(i + 1), fmtNum(s.energy), fmtNum(s.percentile), s.outlier ? 'yes' : ''])));
    } catch (e) {
      out.append(notice('error', errorText(e)));
    }
  };
  select.addEventListener('change', () => {
    show();
    score();
  });
  file.addEventListener('change', score);
  box.append(el('div', {class: 'field'}, el('label', {for: 'scores-model'}, 'model'), select),
      el('div', {class: 'field'}, el('label', {for: 'scores-file'}, 'points to score (CSV)'), file,
          el('small', {class: 'help', id: 'scores-help'}, 'one point a line, the model\'s ' +
            'dimension; a header line is optional, a y column is left out')), mapBox, out);
  show();
  return box;
}

async function renderJob(root, ctx, id) {
  root.append(el('p', {}, el('a', {href: '#/dxmi'}, '← another DxMI job')));
  const evals = [];
  let fewStep = [];
  let fewStepIter = null;
  let parentRows = [];
  let reference = null;
  const parentFig = figure('dxmi-parent', 'The parent\'s samples (its own sampler)');
  const fewFig = figure('dxmi-few', 'The few-step sampler\'s samples');
  const swFig = figure('dxmi-sw2', 'SW2 to the data against its floor', 'wide');
  const aucFig = figure('dxmi-auc', 'Energy AUC (data against uniform noise)', 'wide');
  const after = el('div');
  const draw = () => {
    const b = parentRows.length > 0 && parentRows[0].length === 2
      ? scatterBounds([parentRows, fewStep, reference || []]) : undefined;
    drawSamples(parentFig.canvas, parentRows, {reference, label: 'parent', color: SERIES[1], bounds: b});
    drawSamples(fewFig.canvas, fewStep, {reference, label: fewStepIter === null ? 'few-step'
      : `iteration ${fewStepIter}`, bounds: b});
    const pts = (f) => evals.filter(Boolean).map((e) => [e.iteration, f(e.eval || {})]);
    lines(swFig.canvas, {xlabel: 'iteration', ylabel: 'SW2 (data units)', series: [
      {label: 'SW2', points: pts((e) => e.sw2), color: SERIES[0]},
      {label: 'floor', points: pts((e) => e.sw2_floor), color: REFERENCE, dash: true}]});
    lines(aucFig.canvas, {xlabel: 'iteration', ylabel: 'AUC', ylim: [0.4, 1.02], series: [
      {label: 'energy AUC', points: pts((e) => e.energy_auc), color: SERIES[2]}],
    hlines: [{y: 0.5, label: 'chance'}]});
  };
  const job = await followJob(root, ctx, id, {
    title: 'DxMI job',
    onEvent(ev) {
      const d = ev.data || {};
      if (ev.event === 'metrics' && Number.isInteger(d.iteration)) {
        evals.push(d);
        draw();
      } else if (ev.event === 'samples' && Number.isInteger(d.iteration)) {
        fewStep = d.offset > 0 && d.iteration === fewStepIter ? fewStep.concat(d.samples) : d.samples;
        fewStepIter = d.iteration;
        fewFig.caption.textContent = `The few-step sampler's samples at iteration ${d.iteration}`;
        draw();
      }
    },
    async onResult(r) {
      try {
        const m = await api.getJSON('/v1/models/' + encodeURIComponent(r.model));
        after.append(scoresSection([m], m));
      } catch (e) {
        after.append(notice('error', errorText(e)));
      }
    },
  });
  root.append(el('section', {}, el('h3', {}, 'Samples: the parent beside the few-step sampler'),
      el('div', {class: 'figures'}, parentFig.figure, fewFig.figure)),
  el('section', {}, el('h3', {}, 'Evaluations'), el('div', {class: 'figures'}, swFig.figure,
      aucFig.figure)), after);
  draw();
  try {
    const parent = await api.getJSON('/v1/models/' + encodeURIComponent(job.model));
    reference = parent.data_dim === 2 ? await referencePoints(parent.dataset) : null;
    const n = Math.min(1000, (job.params && job.params.n_eval) || 1000);
    parentRows = (await api.send('POST', '/v1/samples', {model: parent.id, n, seed: 0,
      metrics: false})).samples;
  } catch (e) {
    after.prepend(notice('error', 'The parent\'s samples: ' + errorText(e)));
  }
  draw();
}
