// SPDX-License-Identifier: MIT
// Sample: every field of POST /v1/samples (SampleParams, docs/api.md), errors at
// their field; the samples drawn over the model's held-out data (GET
// /v1/datasets/{id}/points) or as a grid of digits; the metrics table; CSV.

import * as api from '../api.js';
import {buildForm} from '../form.js';
import {modelField} from '../jobpanel.js';
import {metricsTable} from '../metrics.js';
import {drawSamples, figure} from '../plot.js';
import {clear, dl, downloadBlob, el, fmtNum, toCSV} from '../util.js';

/** The held-out points of a model's dataset (n of them), or null when there are none. */
export async function referencePoints(dataset, n = 2000) {
  if (!dataset) {
    return null;
  }
  try {
    const r = await api.getJSON(`/v1/datasets/${encodeURIComponent(dataset)}/points?n=${n}`);
    return r.points;
  } catch {
    return null; /* an uploaded dataset deleted since, or another key's */
  }
}

/** The fields of SampleParams (at the body's top level, as POST /v1/samples takes them). */
export function sampleFields(at = []) {
  const f = (name, kind, help, extra = {}) =>
    ({name, kind, at: [...at, ...name.split('.')], label: name, help, ...extra});
  const cond = 'Conditional models';
  return [
    f('n', 'int', 'samples to draw: 1–10000 (required)', {required: true, value: 2000}),
    f('sampler', 'select', 'the reverse process: DDPM (ancestral), DDIM, the probability-flow ' +
      'ODE (Heun), or a DxMI model\'s few-step chain', {options: ['ddpm', 'ddim', 'ode', 'var'],
      placeholder: "(the model's own: var for a DxMI model, else ddpm)", value: 'ddim'}),
    f('steps', 'int', '1–1000, at most the model\'s T; default T for ddpm, the chain\'s T for ' +
      'var, 100 otherwise', {placeholder: 'default by sampler', value: 50}),
    f('eta', 'number', 'DDIM\'s stochasticity, 0–1 (0: deterministic)', {placeholder: '0'}),
    f('seed', 'int', '0–2^53; the same seed and settings give the same samples',
        {placeholder: 'drawn and reported'}),
    f('metrics', 'bool', 'compute the metrics of the samples', {placeholder: '(default: true)'}),
    f('precision', 'select', 'the network\'s arithmetic: f32, or bf16 (bfloat16, several times ' +
      'faster where the CPU has it; the answer says what ran)', {options: ['f32', 'bf16'],
      placeholder: "(the daemon's default)"}),
    f('target', 'number', 'the reward to steer to, ±1e6 (not with condition)',
        {group: cond, placeholder: 'none'}),
    f('condition', 'numbers', 'the raw condition input: cond_dim numbers (not with target)',
        {group: cond, placeholder: 'none'}),
    f('guidance.mode', 'select', 'cond (plain conditioning), cfg (classifier-free), reward ' +
      '(reward-gradient guidance, needs target)', {group: cond, options: ['cond', 'cfg', 'reward'],
      placeholder: '(none)'}),
    f('guidance.w', 'number', 'guidance weight, 0–1000', {group: cond, placeholder: '1'}),
  ];
}

export async function render(root, ctx) {
  const {models} = await api.getJSON('/v1/models');
  const byId = new Map(models.map((m) => [m.id, m]));
  const wanted = ctx.query.get('model');
  const first = byId.has(wanted) ? wanted : (byId.has('eight_gaussians') ? 'eight_gaussians'
    : (models[0] || {}).id);
  const out = el('section', {class: 'result', 'aria-live': 'polite'});
  root.append(el('h2', {}, 'Sample'),
      el('p', {class: 'intro'}, 'Draw samples from a model (POST /v1/samples). 2-D samples are ' +
        'drawn over held-out data of the model\'s dataset, digits as images.'));
  const form = buildForm([modelField(models, {value: first}), ...sampleFields()], {
    submitLabel: 'Sample',
    collapsed: ['Conditional models'],
    async onSubmit(values) {
      clear(out).append(el('p', {class: 'muted'}, 'Sampling…'));
      const t0 = performance.now();
      const res = await api.send('POST', '/v1/samples', values);
      const m = byId.get(res.model) || {};
      showResult(out, res, m, await referencePoints(m.dataset), performance.now() - t0);
    },
  });
  form.el.id = 'sample-form';
  root.append(form.el, out);
}

function showResult(out, res, model, reference, ms) {
  const samples = res.samples || [];
  const fig = figure('sample-plot', `${fmtNum(samples.length)} samples of ${res.model}` +
    (reference ? ', held-out data faint behind' : ''));
  const csv = el('button', {type: 'button'}, 'Download samples (CSV)');
  csv.addEventListener('click', () => downloadBlob(new Blob([toCSV(samples)], {type: 'text/csv'}),
      `samples-${res.model}-${res.seed}.csv`));
  clear(out).append(
      el('h3', {}, 'Result'),
      dl([
        ['model', res.model], ['sampler', res.sampler], ['samples', fmtNum(res.n)],
        ['steps', fmtNum(res.steps)], ['eta', fmtNum(res.eta)], ['seed', String(res.seed)],
        ['precision', res.precision_asked ? `${res.precision} (${res.precision_asked} asked)`
          : res.precision],
        res.target !== undefined ? ['target', fmtNum(res.target)] : null,
        res.guidance ? ['guidance', `${res.guidance.mode}, w = ${fmtNum(res.guidance.w)}`] : null,
        ['time', `${(ms / 1000).toFixed(2)} s`],
      ]),
      el('div', {class: 'actions'}, csv),
      el('div', {class: 'figures one'}, fig.figure),
      metricsTable(res.metrics, 'Metrics of these samples', res.metrics_skipped));
  const kind = drawSamples(fig.canvas, samples, {reference: model.data_dim === 2 ? reference : null,
    label: 'samples'});
  if (kind === 'images') {
    fig.caption.textContent = `The first ${Math.min(100, samples.length)} of ` +
      `${fmtNum(samples.length)} samples of ${res.model} as 8×8 images (0 white, 16 black)`;
    if (reference) {
      const ref = figure('sample-reference', 'Held-out images of the dataset, for comparison');
      fig.figure.parentNode.append(ref.figure);
      drawSamples(ref.canvas, reference.slice(0, 100));
    }
  }
}
