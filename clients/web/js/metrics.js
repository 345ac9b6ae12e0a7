// SPDX-License-Identifier: MIT
// The metrics object of the API (docs/metrics.md) as a table for people: each
// figure with its unit and the estimator's settings, because these estimators
// are biased in ways that depend on them (compare only at the same n, k, bins).

import {el, fmtNum, table} from './util.js';

const nats = 'nats';

/* [figure, value, unit, settings] rows of one metrics object. */
function rows(m) {
  const out = [];
  const ref = (r, f) => (r && r.reference !== undefined && r.reference !== null
    ? ` (reference: ${fmtNum(f(r.reference))})` : '');
  const k = m.entropy_knn;
  if (k) {
    out.push(['kNN entropy (Kozachenko–Leonenko)', fmtNum(k.value) + ref(k, (r) => r.value), nats,
      `k = ${k.k}, n = ${fmtNum(k.n)}, duplicates ${fmtNum(k.duplicates)}`]);
  }
  const hgram = m.entropy_hist;
  if (hgram) {
    out.push(['histogram entropy', fmtNum(hgram.value) + ref(hgram, (r) => r.value), nats,
      `${hgram.bins}×${hgram.bins} bins on [${hgram.lo}, ${hgram.hi}]², ` +
      `${fmtNum(hgram.n_inside)} of ${fmtNum(hgram.n)} inside, ${fmtNum(hgram.occupied)} occupied`]);
    out.push(['histogram entropy, Miller–Madow', fmtNum(hgram.miller_madow), nats,
      `outside the grid: ${fmtNum(hgram.outside_frac)}`]);
  }
  const v = m.vendi;
  if (v) {
    const r = v.reference_q2 !== undefined ? ` (reference: ${fmtNum(v.reference_q2)})` : '';
    out.push(['Vendi score (order 2)', fmtNum(v.q2) + r, 'effective samples',
      `${v.kernel} kernel${v.length_scale ? ', length scale ' + fmtNum(v.length_scale) : ''}, ` +
      `n = ${fmtNum(v.n)}`]);
  }
  const kl = m.kl_knn;
  if (kl) {
    out.push(['kNN KL, samples → reference', fmtNum(kl.model_to_reference), nats,
      `k = ${kl.k}, n = ${fmtNum(kl.n)}, m = ${fmtNum(kl.m)}`]);
    out.push(['kNN KL, reference → samples', fmtNum(kl.reference_to_model), nats, 'mode dropping']);
  }
  const sw = m.sw2;
  if (sw) {
    out.push(['sliced Wasserstein-2', fmtNum(sw.value), 'data units',
      `${fmtNum(sw.directions)} directions, seed ${sw.seed}, n = ${fmtNum(sw.n)}, m = ${fmtNum(sw.m)}`]);
  }
  const s = m.support;
  if (s) {
    out.push(['inside the support', fmtNum(s.inside), 'fraction', '']);
    out.push(['within the margin of it', fmtNum(s.inside_margin), 'fraction', `margin ${fmtNum(s.margin)}`]);
  }
  const md = m.modes;
  if (md) {
    out.push(['modes covered', `${md.covered} of ${md.of}`, 'modes', '≥ 1 % of the samples each']);
    out.push(['near a mode', fmtNum(md.hq_frac), 'fraction', 'within 3 standard deviations']);
    out.push(['mode balance', fmtNum(md.entropy_ratio), 'entropy / log 8', '1 = even']);
  }
  const nn = m.nn_train;
  if (nn) {
    out.push(['distance to the nearest training image', fmtNum(nn.samples), 'pixel units',
      `held-out images: ${fmtNum(nn.reference)}`]);
  }
  if (Number.isFinite(m.n)) {
    out.push(['samples measured', fmtNum(m.n), 'samples', `dimension ${m.dim}`]);
  }
  return out;
}

/** The table of a metrics object (or a note when there is none). */
export function metricsTable(m, caption = 'Metrics', skipped = null) {
  if (!m) {
    return el('p', {class: 'muted'}, skipped ? `No metrics: ${skipped}.` : 'No metrics.');
  }
  return el('div', {},
      table(caption, ['figure', 'value', 'unit', 'estimator settings'], rows(m), 'metrics'),
      el('p', {class: 'muted small'},
          'Entropies are in nats (natural logarithms) of the samples in data space; compare ' +
          'numbers only at the same n, k, bins and dimension (docs/metrics.md).'));
}
