// SPDX-License-Identifier: MIT
// Colours: the Okabe–Ito palette (distinguishable with every common colour-vision
// deficiency), and a perceptually ordered sequential map for heat maps.

export const OKABE_ITO = {
  black: '#000000',
  orange: '#E69F00',
  sky: '#56B4E9',
  green: '#009E73',
  yellow: '#F0E442',
  blue: '#0072B2',
  vermillion: '#D55E00',
  purple: '#CC79A7',
};

// Series in the order plots use them: the first is the samples, the second their
// comparison (a parent, a second curve), and so on.
export const SERIES = [
  OKABE_ITO.blue, OKABE_ITO.orange, OKABE_ITO.green, OKABE_ITO.vermillion,
  OKABE_ITO.purple, OKABE_ITO.sky, OKABE_ITO.black,
];

// The faint layer behind samples (held-out data) and reference lines.
export const REFERENCE = '#8a8a8a';
export const CEILING = OKABE_ITO.vermillion;
export const AXIS = '#444444';
export const GRID = '#e6e6e6';

// Stops of viridis (a sequential map readable in grey and by colour-blind readers).
const VIRIDIS = [
  [68, 1, 84], [72, 40, 120], [62, 74, 137], [49, 104, 142], [38, 130, 142],
  [31, 158, 137], [53, 183, 121], [109, 205, 89], [180, 222, 44], [253, 231, 37],
];

/** [r, g, b] of t in [0, 1] on the sequential map (clamped). */
export function sequential(t) {
  if (!Number.isFinite(t)) {
    return [200, 200, 200];
  }
  const u = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(u));
  const f = u - i;
  const a = VIRIDIS[i], b = VIRIDIS[i + 1];
  return [0, 1, 2].map((k) => Math.round(a[k] + f * (b[k] - a[k])));
}
