// SPDX-License-Identifier: MIT
// Reward (finetune.reward): submit with every parameter; follow the reward model's
// fit, the training loss, and per target the samples and the reward they achieve
// against the one requested (with the ideal a / (1 + ν²) where the reward is known).

import * as api from '../api.js';
import {followJob, jobForm, modelField, param} from '../jobpanel.js';
import {REFERENCE, SERIES} from '../palette.js';
import {drawSamples, figure, lines} from '../plot.js';
import {clear, dl, el, fmtNum, table} from '../util.js';
import {referencePoints} from './sample.js';
import {trainSettings} from './train.js';

function fields(models, datasets, query) {
  const data = 'Data and labels';
  const rm = 'Reward model';
  const gd = 'Guidance';
  const smp = 'Sampling at the targets';
  const uploads = datasets.filter((d) => !d.builtin).map((d) => d.id);
  return [
    modelField(models, {required: false, value: query.get('model') || '',
      help: 'optional: an unconditional parent of the data\'s dimension to start from',
      filter: (m) => !m.cond_dim}),
    param('dataset', 'select', 'the unlabelled data (required)', {required: true,
      options: datasets.map((d) => d.id), value: query.get('dataset') || 'ring'}),
    param('targets', 'numbers', '1–32 rewards the job samples at, ±1e6', {placeholder: '0.5, 1, 2, 4'}),
    param('seed', 'int', '0–2^53', {placeholder: '0'}),
    param('out_model', 'text', 'the conditional model\'s id', {placeholder: '<dataset>-reward-<job>'}),
    param('n_unlabelled', 'int', 'points drawn from a generated built-in set, 100–1000000',
        {group: data, placeholder: '16384'}),
    param('labels', 'select', 'an uploaded dataset whose y column labels the data', {group: data,
      options: uploads, placeholder: '(the upload\'s own labels, or the known reward)'}),
    param('n_labelled', 'int', 'synthetic labels drawn (known reward), 10–1000000',
        {group: data, placeholder: '1000'}),
    param('label_noise', 'number', 'their noise\'s std, 0–10', {group: data, placeholder: '0.1'}),
    param('pseudo_label_noise', 'number', 'ν, the noise on pseudo-labels, 0–100',
        {group: data, placeholder: '0.3'}),
    param('reward_model.kind', 'select', 'ridge or mlp', {group: rm, options: ['ridge', 'mlp'],
      placeholder: '(default: ridge)'}),
    param('reward_model.lambda', 'number', 'ridge penalty, 0–1e6', {group: rm, placeholder: '0.001'}),
    param('reward_model.hidden', 'ints', 'mlp: 1–4 widths of 1–1024', {group: rm, placeholder: '64, 64'}),
    param('reward_model.steps', 'int', 'mlp: Adam steps, 1–1e6', {group: rm, placeholder: '2000'}),
    param('reward_model.lr', 'number', 'mlp: learning rate, (0, 1]', {group: rm, placeholder: '0.003'}),
    param('guidance.mode', 'select', 'how the model learns to be steered', {group: gd,
      options: ['cond', 'cfg', 'reward'], placeholder: '(default: cond)'}),
    param('guidance.w', 'number', 'guidance weight of the job\'s own sampling, 0–1000',
        {group: gd, placeholder: '1'}),
    param('guidance.p_uncond', 'number', 'label dropout while training, 0–0.9',
        {group: gd, placeholder: '0.1 with cfg, else 0'}),
    ...trainSettings('train.', 'Training (as a train job)', '256'),
    param('n_per_target', 'int', 'samples per target, 10–10000', {group: smp, placeholder: '1000'}),
    param('sampler', 'select', '', {group: smp, options: ['ddpm', 'ddim', 'ode'],
      placeholder: '(default: ddpm)'}),
    param('steps', 'int', 'sampler steps, 1–1000', {group: smp, placeholder: '200'}),
    param('eta', 'number', '0–1', {group: smp, placeholder: '0'}),
  ];
}

export async function render(root, ctx) {
  if (ctx.id) {
    return renderJob(root, ctx, ctx.id);
  }
  const [{models}, {datasets}] = await Promise.all([api.getJSON('/v1/models'),
    api.getJSON('/v1/datasets')]);
  const form = await jobForm(root, ctx, {
    type: 'finetune.reward',
    view: 'reward',
    title: 'Reward-directed conditional diffusion',
    intro: 'From unlabelled data and a few labels: fits a reward model, pseudo-labels the data, ' +
      'trains a reward-conditioned model, and samples it at each target reward.',
    fields: fields(models, datasets, ctx.query),
    collapsed: ['Data and labels', 'Reward model', 'Guidance', 'Training (as a train job)',
      'Sampling at the targets'],
  });
  form.el.id = 'reward-form';
}

async function renderJob(root, ctx, id) {
  root.append(el('p', {}, el('a', {href: '#/reward'}, '← another reward job')));
  const fit = el('div');
  const loss = [];
  const targets = []; /* by index: {target, reward, metrics} */
  const samples = []; /* by index: rows */
  let reference = null;
  const lossFig = figure('reward-loss', 'Training loss of the conditional model', 'wide');
  const achievedFig = figure('reward-achieved', 'Achieved reward against the requested one', 'wide');
  const grid = el('div', {class: 'figures small'});
  const tableBox = el('div');
  const draw = () => {
    lines(lossFig.canvas, {xlabel: 'step', ylabel: 'loss', integerX: true,
      series: [{label: 'training loss', points: loss}]});
    const t = targets.filter(Boolean).sort((a, b) => a.target - b.target);
    const pick = (k) => t.map((x) => [x.target, x.reward ? x.reward[k] : null]);
    lines(achievedFig.canvas, {xlabel: 'requested reward', ylabel: 'reward',
      series: [{label: 'requested (y = x)', points: t.map((x) => [x.target, x.target]),
        color: REFERENCE, dash: true, markers: false},
      {label: 'achieved (reward model)', points: pick('pred_mean'), color: SERIES[0]},
      t.some((x) => x.reward && Number.isFinite(x.reward.true_mean))
        ? {label: 'achieved (true reward)', points: pick('true_mean'), color: SERIES[1]} : null,
      {label: 'ideal a / (1 + ν²)', points: pick('ideal'), color: SERIES[2], dash: true}]});
    clear(tableBox).append(table('Per target', ['target', 'achieved (model)', 'achieved (true)',
      'ideal', 'gap', 'off support (mean)', 'kNN entropy (nats)'], t.map((x) => [fmtNum(x.target),
      x.reward ? `${fmtNum(x.reward.pred_mean)} ± ${fmtNum(x.reward.pred_std)}` : '–',
      x.reward && Number.isFinite(x.reward.true_mean)
        ? `${fmtNum(x.reward.true_mean)} ± ${fmtNum(x.reward.true_std)}` : '–',
      fmtNum(x.reward && x.reward.ideal), fmtNum(x.reward && x.reward.gap),
      fmtNum(x.metrics.support && x.metrics.support.off_mean),
      fmtNum(x.metrics.entropy_knn && x.metrics.entropy_knn.value)])));
  };
  const drawTarget = (i) => {
    let f = grid.querySelector('#reward-samples-' + i);
    if (!f) {
      const fig = figure('reward-samples-' + i, `Samples at target ${fmtNum(targets[i] ?
        targets[i].target : i)}`);
      grid.append(fig.figure);
      f = fig.canvas;
    }
    drawSamples(f, samples[i] || [], {reference, label: 'samples'});
  };
  const job = await followJob(root, ctx, id, {
    title: 'Reward job',
    onEvent(ev) {
      const d = ev.data || {};
      if (ev.event === 'metrics' && d.stage === 'reward_model') {
        const r = d.reward_model || {};
        clear(fit).append(dl([['kind', r.kind], ['training MSE', fmtNum(r.train_mse)],
          ['validation R²', fmtNum(r.val_r2)], ['rows', `${fmtNum(r.n_train)} train, ` +
            `${fmtNum(r.n_val)} validation`], d.pseudo_labels ? ['pseudo-labels', `mean ` +
            `${fmtNum(d.pseudo_labels.mean)}, std ${fmtNum(d.pseudo_labels.std)}, noise ` +
            `${fmtNum(d.pseudo_labels.noise)}`] : null]));
      } else if (ev.event === 'metrics' && d.stage === 'training') {
        loss.push([d.step, d.loss]);
        draw();
      } else if (ev.event === 'metrics' && d.stage === 'target') {
        const m = d.metrics || {};
        targets[d.index] = {target: d.target, reward: m.reward || null, metrics: m};
        draw();
      } else if (ev.event === 'samples' && Number.isInteger(d.index)) {
        const rows = samples[d.index] && d.offset > 0 ? samples[d.index] : [];
        samples[d.index] = rows.concat(d.samples || []);
        drawTarget(d.index);
      }
    },
  });
  root.append(el('section', {}, el('h3', {}, 'Reward model fit'), fit),
      el('section', {}, el('div', {class: 'figures'}, lossFig.figure, achievedFig.figure), tableBox),
      el('section', {}, el('h3', {}, 'Samples per target'), grid));
  const ds = job.params && job.params.dataset;
  reference = await referencePoints(ds);
  if (reference && reference[0] && reference[0].length !== 2) {
    reference = null;
  }
  draw();
  samples.forEach((_, i) => drawTarget(i));
}
