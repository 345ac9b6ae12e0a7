// SPDX-License-Identifier: MIT
// Plots on <canvas>, drawn by hand (no library): scatter plots with faint layers
// behind (held-out data on the same axes), line plots with reference lines (an
// entropy ceiling), grids of 8x8 images, and heat maps.  One draw loop per plot,
// one fillRect per point, so 20,000 points draw in milliseconds.
//
// Each plot redraws itself when its canvas changes size, and records what it drew
// in window.__plots[canvas id] (layers and their sizes, the data of line series,
// pixelOf(x, y) for scatter plots), for people debugging and for the browser test.

import {AXIS, GRID, REFERENCE, SERIES, sequential} from './palette.js';

export const plots = (window.__plots = window.__plots || {});

const FONT = '12px system-ui, sans-serif';

const resizer = typeof ResizeObserver === 'function'
  ? new ResizeObserver((entries) => {
    for (const e of entries) {
      if (e.target.isConnected && e.target._redraw) {
        e.target._redraw();
      }
    }
  })
  : null;

/* Draws with draw(), now and whenever the canvas is resized. */
function keep(canvas, draw) {
  const first = !canvas._redraw;
  canvas._redraw = draw;
  draw();
  if (first && resizer) {
    resizer.observe(canvas);
  }
}

/* The canvas cleared at its CSS size (device pixels behind): {ctx, w, h, dpr}. */
function prepare(canvas) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(50, canvas.clientWidth || 320);
  const h = Math.max(50, canvas.clientHeight || 240);
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, w, h);
  ctx.font = FONT;
  return {ctx, w, h, dpr};
}

/** About `count` round tick values covering [lo, hi], and their step. */
export function ticks(lo, hi, count = 5) {
  const raw = (hi - lo) / Math.max(1, count);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3.5 ? 2 : norm < 7.5 ? 5 : 10) * mag;
  const values = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return {values, step};
}

function tickText(v, step) {
  if (Math.abs(v) >= 1e5 || (Math.abs(v) > 0 && Math.abs(v) < 1e-3)) {
    return v.toExponential(1);
  }
  return v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
}

/* [lo, hi] of the finite values get(p) of every list, padded; [-1, 1] for none. */
function extent(lists, get, pad = 0.05) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const list of lists) {
    for (const p of list) {
      const v = get(p);
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
  }
  if (lo === Infinity) {
    return [-1, 1];
  }
  if (hi - lo < 1e-12) {
    const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1;
    return [lo - d, hi + d];
  }
  const d = (hi - lo) * pad;
  return [lo - d, hi + d];
}

/* Axes, grid, ticks and labels for ranges xr, yr in a box; returns the mapping. */
function frame(ctx, w, h, xr, yr, spec, margin) {
  const m = {l: 56, r: 14, t: spec.title ? 26 : 10, b: 42, ...margin};
  const box = {x: m.l, y: m.t, w: Math.max(10, w - m.l - m.r), h: Math.max(10, h - m.t - m.b)};
  if (spec.equal) {
    /* one data unit is as long on both axes: widen the shorter range about its centre */
    const upp = Math.max((xr[1] - xr[0]) / box.w, (yr[1] - yr[0]) / box.h);
    const cx = (xr[0] + xr[1]) / 2;
    const cy = (yr[0] + yr[1]) / 2;
    xr = [cx - (upp * box.w) / 2, cx + (upp * box.w) / 2];
    yr = [cy - (upp * box.h) / 2, cy + (upp * box.h) / 2];
  }
  const px = (x) => box.x + ((x - xr[0]) / (xr[1] - xr[0])) * box.w;
  const py = (y) => box.y + box.h - ((y - yr[0]) / (yr[1] - yr[0])) * box.h;
  const tx = ticks(xr[0], xr[1], Math.max(2, Math.round(box.w / 80)));
  const ty = ticks(yr[0], yr[1], Math.max(2, Math.round(box.h / 50)));
  ctx.lineWidth = 1;
  ctx.strokeStyle = GRID;
  ctx.beginPath();
  for (const v of spec.integerX ? tx.values.filter(Number.isInteger) : tx.values) {
    ctx.moveTo(Math.round(px(v)) + 0.5, box.y);
    ctx.lineTo(Math.round(px(v)) + 0.5, box.y + box.h);
  }
  for (const v of ty.values) {
    ctx.moveTo(box.x, Math.round(py(v)) + 0.5);
    ctx.lineTo(box.x + box.w, Math.round(py(v)) + 0.5);
  }
  ctx.stroke();
  ctx.strokeStyle = AXIS;
  ctx.strokeRect(box.x + 0.5, box.y + 0.5, box.w, box.h);
  ctx.fillStyle = AXIS;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  for (const v of spec.integerX ? tx.values.filter(Number.isInteger) : tx.values) {
    ctx.fillText(tickText(v, spec.integerX ? Math.max(1, tx.step) : tx.step), px(v), box.y + box.h + 4);
  }
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (const v of ty.values) {
    ctx.fillText(tickText(v, ty.step), box.x - 5, py(v));
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'bottom';
  if (spec.xlabel) {
    ctx.fillText(spec.xlabel, box.x + box.w / 2, h - 3);
  }
  if (spec.title) {
    ctx.font = 'bold ' + FONT;
    ctx.fillText(spec.title, box.x + box.w / 2, m.t - 8);
    ctx.font = FONT;
  }
  if (spec.ylabel) {
    ctx.save();
    ctx.translate(13, box.y + box.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(spec.ylabel, 0, 0);
    ctx.restore();
  }
  return {px, py, box, xr, yr};
}

/* A legend of [color, label, dashed] entries in the box's top left corner. */
function legend(ctx, box, entries) {
  const shown = entries.filter((e) => e[1]);
  if (shown.length === 0) {
    return;
  }
  ctx.font = FONT;
  const wMax = Math.max(...shown.map((e) => ctx.measureText(e[1]).width));
  const lh = 16;
  ctx.fillStyle = 'rgba(255,255,255,0.85)';
  ctx.fillRect(box.x + 6, box.y + 6, wMax + 34, shown.length * lh + 6);
  ctx.textAlign = 'left';
  ctx.textBaseline = 'middle';
  shown.forEach(([color, label, dashed], i) => {
    const y = box.y + 12 + i * lh + 3;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    if (dashed === 'line' || dashed === 'dash') {
      ctx.lineWidth = 2;
      ctx.setLineDash(dashed === 'dash' ? [5, 3] : []);
      ctx.beginPath();
      ctx.moveTo(box.x + 11, y);
      ctx.lineTo(box.x + 29, y);
      ctx.stroke();
      ctx.setLineDash([]);
    } else {
      ctx.fillRect(box.x + 15, y - 4, 8, 8);
    }
    ctx.fillStyle = AXIS;
    ctx.fillText(label, box.x + 34, y);
  });
}

function message(ctx, box, text) {
  ctx.fillStyle = '#777';
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, box.x + box.w / 2, box.y + box.h / 2);
}

/** The bounds of scatter layers ({x: [lo, hi], y: [lo, hi]}), to share between plots. */
export function scatterBounds(pointLists) {
  return {x: extent(pointLists, (p) => p[0]), y: extent(pointLists, (p) => p[1])};
}

/**
 * A scatter plot: spec {title, xlabel, ylabel, layers: [{label, points: [[x, y]],
 * color, alpha, size}], bounds (optional: scatterBounds), equal (default true)}.
 * Layers draw in order: put the faint reference first.
 */
export function scatter(canvas, spec) {
  keep(canvas, () => {
    const {ctx, w, h, dpr} = prepare(canvas);
    const layers = spec.layers.filter((l) => l && l.points);
    const b = spec.bounds || scatterBounds(layers.map((l) => l.points));
    const f = frame(ctx, w, h, b.x, b.y, {equal: true, ...spec});
    ctx.save();
    ctx.beginPath();
    ctx.rect(f.box.x, f.box.y, f.box.w, f.box.h);
    ctx.clip();
    layers.forEach((l, i) => {
      const s = l.size || 2.5;
      ctx.globalAlpha = l.alpha === undefined ? 0.8 : l.alpha;
      ctx.fillStyle = l.color || SERIES[i % SERIES.length];
      for (const p of l.points) {
        const x = p[0];
        const y = p[1];
        if (Number.isFinite(x) && Number.isFinite(y)) {
          ctx.fillRect(f.px(x) - s / 2, f.py(y) - s / 2, s, s);
        }
      }
    });
    ctx.restore();
    if (layers.every((l) => l.points.length === 0)) {
      message(ctx, f.box, spec.empty || 'no points yet');
    }
    legend(ctx, f.box, layers.map((l, i) => [l.color || SERIES[i % SERIES.length],
      l.label ? `${l.label} (${l.points.length.toLocaleString('en-US')})` : null]));
    canvas.dataset.points = String(layers.reduce((n, l) => n + l.points.length, 0));
    plots[canvas.id] = {
      kind: 'scatter',
      layers: layers.map((l) => ({label: l.label, n: l.points.length, color: l.color})),
      bounds: {x: f.xr, y: f.yr},
      pixelOf: (x, y) => [Math.round(f.px(x) * dpr), Math.round(f.py(y) * dpr)],
    };
  });
}

/**
 * A line plot: spec {title, xlabel, ylabel, series: [{label, points: [[x, y]],
 * color, dash, markers}], hlines: [{y, label (beside the line), legend (in the legend
 * instead), color}], integerX, ylim}.  A null y breaks its line.
 */
export function lines(canvas, spec) {
  keep(canvas, () => {
    const {ctx, w, h} = prepare(canvas);
    const series = spec.series.filter((s) => s);
    const hl = (spec.hlines || []).filter((l) => Number.isFinite(l.y));
    const xr = extent(series.map((s) => s.points), (p) => p[0], 0.03);
    const yr = spec.ylim || extent([...series.map((s) => s.points), hl.map((l) => [0, l.y])],
        (p) => p[1], 0.08);
    const f = frame(ctx, w, h, xr, yr, spec);
    ctx.save();
    ctx.beginPath();
    ctx.rect(f.box.x, f.box.y, f.box.w, f.box.h);
    ctx.clip();
    for (const l of hl) {
      ctx.strokeStyle = l.color || REFERENCE;
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(f.box.x, f.py(l.y));
      ctx.lineTo(f.box.x + f.box.w, f.py(l.y));
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = l.color || REFERENCE;
      ctx.textAlign = 'right';
      /* above the line, or below it when the line runs along the top (under the legend) */
      const below = f.py(l.y) - f.box.y < 18;
      ctx.textBaseline = below ? 'top' : 'bottom';
      ctx.fillText(l.label || '', f.box.x + f.box.w - 4, f.py(l.y) + (below ? 3 : -2));
    }
    series.forEach((s, i) => {
      const color = s.color || SERIES[i % SERIES.length];
      ctx.strokeStyle = color;
      ctx.fillStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dash ? [5, 3] : []);
      ctx.beginPath();
      let pen = false;
      for (const [x, y] of s.points) {
        if (!Number.isFinite(y)) {
          pen = false;
          continue;
        }
        if (pen) {
          ctx.lineTo(f.px(x), f.py(y));
        } else {
          ctx.moveTo(f.px(x), f.py(y));
        }
        pen = true;
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (s.markers !== false && s.points.length <= 200) {
        for (const [x, y] of s.points) {
          if (Number.isFinite(y)) {
            ctx.beginPath();
            ctx.arc(f.px(x), f.py(y), 3.5, 0, 2 * Math.PI);
            ctx.fill();
          }
        }
      }
    });
    ctx.restore();
    if (series.every((s) => s.points.length === 0)) {
      message(ctx, f.box, spec.empty || 'waiting for data');
    }
    legend(ctx, f.box, series.map((s, i) => [s.color || SERIES[i % SERIES.length], s.label,
      s.dash ? 'dash' : 'line']).concat(hl.filter((l) => l.legend)
        .map((l) => [l.color || REFERENCE, l.legend, 'dash'])));
    plots[canvas.id] = {
      kind: 'lines',
      series: series.map((s) => ({label: s.label, n: s.points.length, points: s.points})),
      hlines: hl.map((l) => ({y: l.y, label: l.label || l.legend})),
    };
  });
}

/**
 * A grid of square grey images: spec {images: [[side*side values]], side, lo, hi,
 * cols, max}; lo is white and hi black (ink on paper).  The canvas takes the
 * grid's aspect ratio.
 */
export function imageGrid(canvas, spec) {
  const side = spec.side || 8;
  const images = spec.images.slice(0, spec.max || 100);
  const cols = Math.max(1, Math.min(spec.cols || 10, images.length || 1));
  const rows = Math.max(1, Math.ceil(images.length / cols));
  const gw = cols * (side + 1) + 1;
  const gh = rows * (side + 1) + 1;
  canvas.style.aspectRatio = `${gw} / ${gh}`;
  const lo = spec.lo === undefined ? 0 : spec.lo;
  const hi = spec.hi === undefined ? 16 : spec.hi;
  keep(canvas, () => {
    const {ctx, w, h} = prepare(canvas);
    const off = document.createElement('canvas');
    off.width = gw;
    off.height = gh;
    const octx = off.getContext('2d');
    const img = octx.createImageData(gw, gh);
    img.data.fill(255);
    for (let p = 0; p < gw * gh; p++) {
      img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = 225; /* the gaps */
    }
    images.forEach((im, k) => {
      const ox = (k % cols) * (side + 1) + 1;
      const oy = Math.floor(k / cols) * (side + 1) + 1;
      for (let i = 0; i < side * side; i++) {
        const t = Math.min(1, Math.max(0, (im[i] - lo) / (hi - lo)));
        const g = Number.isFinite(t) ? Math.round(255 * (1 - t)) : 128;
        const p = 4 * ((oy + Math.floor(i / side)) * gw + ox + (i % side));
        img.data[p] = img.data[p + 1] = img.data[p + 2] = g;
      }
    });
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    const scale = Math.min(w / gw, h / gh);
    ctx.drawImage(off, 0, 0, gw * scale, gh * scale);
    if (images.length === 0) {
      message(ctx, {x: 0, y: 0, w, h}, spec.empty || 'no images yet');
    }
    canvas.dataset.points = String(images.length);
    plots[canvas.id] = {kind: 'images', n: images.length, side};
  });
}

/**
 * A heat map of values on a grid, with points on top: spec {title, xlabel, ylabel,
 * grid: {nx, ny, x: [lo, hi], y: [lo, hi], values (nx * ny, row j = y from lo up)},
 * points, label (of the values)}.  Colours: the sequential map, low = dark.
 */
export function heatmap(canvas, spec) {
  keep(canvas, () => {
    const {ctx, w, h} = prepare(canvas);
    const g = spec.grid;
    const f = frame(ctx, w, h, g.x, g.y, {...spec, equal: false}, {r: 70});
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of g.values) {
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    const off = document.createElement('canvas');
    off.width = g.nx;
    off.height = g.ny;
    const octx = off.getContext('2d');
    const img = octx.createImageData(g.nx, g.ny);
    for (let j = 0; j < g.ny; j++) {
      for (let i = 0; i < g.nx; i++) {
        const c = sequential((g.values[j * g.nx + i] - lo) / (hi - lo || 1));
        const p = 4 * ((g.ny - 1 - j) * g.nx + i);
        img.data.set([c[0], c[1], c[2], 255], p);
      }
    }
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(off, f.box.x, f.box.y, f.box.w, f.box.h);
    ctx.save();
    ctx.beginPath();
    ctx.rect(f.box.x, f.box.y, f.box.w, f.box.h);
    ctx.clip();
    ctx.fillStyle = '#ffffff';
    ctx.globalAlpha = 0.7;
    for (const [x, y] of spec.points || []) {
      ctx.fillRect(f.px(x) - 1, f.py(y) - 1, 2, 2);
    }
    ctx.restore();
    /* the colour bar */
    const bx = f.box.x + f.box.w + 12;
    for (let k = 0; k < f.box.h; k++) {
      const c = sequential(1 - k / f.box.h);
      ctx.fillStyle = `rgb(${c[0]},${c[1]},${c[2]})`;
      ctx.fillRect(bx, f.box.y + k, 12, 1);
    }
    ctx.fillStyle = AXIS;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'top';
    ctx.fillText(Number.isFinite(hi) ? hi.toPrecision(3) : '', bx + 15, f.box.y);
    ctx.textBaseline = 'bottom';
    ctx.fillText(Number.isFinite(lo) ? lo.toPrecision(3) : '', bx + 15, f.box.y + f.box.h);
    ctx.save();
    ctx.translate(bx + 6, f.box.y + f.box.h / 2);
    ctx.rotate(Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText(spec.label || '', 0, -32);
    ctx.restore();
    plots[canvas.id] = {kind: 'heatmap', nx: g.nx, ny: g.ny, min: lo, max: hi,
      points: (spec.points || []).length};
  });
}

/** A labelled figure holding a new canvas: {figure, canvas}; cls sizes it ('square', 'wide'). */
export function figure(id, caption, cls = 'square') {
  const canvas = document.createElement('canvas');
  canvas.id = id;
  canvas.className = 'plot ' + cls;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', caption);
  const figureEl = document.createElement('figure');
  const cap = document.createElement('figcaption');
  cap.textContent = caption;
  figureEl.append(canvas, cap);
  return {figure: figureEl, canvas, caption: cap};
}

/**
 * Draws rows of D values the best way for their shape: 2-D as a scatter over the
 * reference (faint), 64 values of 0..16 (8x8 digits) as an image grid, anything
 * else as a scatter of the first two coordinates.
 */
export function drawSamples(canvas, rows, {reference, label = 'samples', color, bounds, title} = {}) {
  const D = rows.length > 0 ? rows[0].length : (reference && reference[0] ? reference[0].length : 2);
  if (D === 64 && isDigits(rows)) {
    imageGrid(canvas, {images: rows, side: 8, lo: 0, hi: 16, cols: 10, max: 100});
    return 'images';
  }
  const two = (r) => (r || []).map((p) => [p[0], p[1]]);
  scatter(canvas, {
    title,
    xlabel: D === 2 ? 'x0' : `x0 (of ${D})`,
    ylabel: D === 2 ? 'x1' : `x1 (of ${D})`,
    bounds,
    layers: [
      reference ? {label: 'held-out data', points: two(reference), color: REFERENCE, alpha: 0.35,
        size: 2} : null,
      {label, points: two(rows), color: color || SERIES[0], alpha: 0.75},
    ],
  });
  return 'scatter';
}

/** true when rows look like 8x8 digits in data space: 64 values, most within 0..16. */
export function isDigits(rows) {
  if (rows.length === 0 || rows[0].length !== 64) {
    return false;
  }
  let inside = 0;
  let all = 0;
  for (const r of rows.slice(0, 50)) {
    for (const v of r) {
      all++;
      inside += v >= -2 && v <= 18 ? 1 : 0;
    }
  }
  return inside >= 0.95 * all;
}
