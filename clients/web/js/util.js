// SPDX-License-Identifier: MIT
// Small DOM and formatting helpers.  Text from the daemon always goes in as text
// (textContent), never as markup.

import {send} from './api.js';

/**
 * A new element: el('a', {href: '#/x', class: 'btn', onclick: fn}, 'text', child...).
 * Attributes named on* become listeners; true sets a boolean attribute, false or
 * null/undefined leaves it out; children may be strings, nodes, arrays or null.
 */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) {
      continue;
    }
    if (k.startsWith('on') && typeof v === 'function') {
      e.addEventListener(k.slice(2), v);
    } else if (k === 'text') {
      e.textContent = v;
    } else {
      e.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) {
      continue;
    }
    if (Array.isArray(c)) {
      append(e, c);
    } else {
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }
}

export function clear(e) {
  while (e.firstChild) {
    e.removeChild(e.firstChild);
  }
  return e;
}

/** A number for people: up to `digits` significant digits, '–' for none. */
export function fmtNum(x, digits = 4) {
  if (x === null || x === undefined || (typeof x === 'number' && !Number.isFinite(x))) {
    return '–';
  }
  if (typeof x !== 'number') {
    return String(x);
  }
  if (Number.isInteger(x) && Math.abs(x) < 1e15) {
    return x.toLocaleString('en-US');
  }
  return Number(x.toPrecision(digits)).toString();
}

/**
 * A time as the daemon sends it, an RFC 3339 string or Unix seconds (older
 * daemons), shown in UTC as "2026-12-05 22:58:48 UTC"; '–' for none.
 */
export function fmtTime(v) {
  if (v === null || v === undefined || v === '' || v === 0) {
    return '–';
  }
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  if (Number.isNaN(d.getTime())) {
    return String(v);
  }
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function fmtBytes(n) {
  if (!Number.isFinite(n)) {
    return '–';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
}

/** Saves a Blob as a file named name (the browser's download). */
export function downloadBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = el('a', {href: url, download: name});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Rows of numbers as CSV text with a header x0..x{D-1}. */
export function toCSV(rows) {
  const D = rows.length > 0 ? rows[0].length : 0;
  const head = Array.from({length: D}, (_, i) => 'x' + i).join(',');
  return head + '\n' + rows.map((r) => r.join(',')).join('\n') + '\n';
}

/**
 * The numeric rows of a CSV text: an optional header (a first line whose first
 * cell is not a number) is skipped, and a column named y is left out.  Throws an
 * Error naming the line of a cell that is not a number.
 */
export function parseCSV(text) {
  const lines = text.split(/\r?\n/);
  let skip = -1;
  const rows = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') {
      return;
    }
    const cells = line.split(',').map((c) => c.trim());
    if (rows.length === 0 && skip < 0 && i === lines.findIndex((l) => l.trim() !== '') &&
        Number.isNaN(Number(cells[0]))) {
      skip = cells.findIndex((c) => c.toLowerCase() === 'y');
      skip = skip < 0 ? Infinity : skip;
      return;
    }
    const row = [];
    cells.forEach((c, k) => {
      if (k === skip) {
        return;
      }
      const v = Number(c);
      if (c === '' || !Number.isFinite(v)) {
        throw new Error(`line ${i + 1}: "${c}" is not a number`);
      }
      row.push(v);
    });
    rows.push(row);
  });
  return rows;
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A table of header strings and rows of cells (strings or nodes), in a scrolling region. */
export function table(caption, head, rows, cls = '') {
  return el('div', {class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: 0},
      el('table', {class: cls},
          el('caption', {}, caption),
          el('thead', {}, el('tr', {}, head.map((h) => el('th', {scope: 'col'}, h)))),
          el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c)))))));
}

/** A description list of [term, value] pairs (values: strings or nodes). */
export function dl(pairs) {
  return el('dl', {class: 'facts'},
      pairs.filter((p) => p).map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
}

/** A link to a model's page, or '–'. */
export function modelLink(id) {
  return id ? el('a', {href: '#/models/' + encodeURIComponent(id)}, id) : '–';
}

/** A box with a message in it: kind 'error', 'info' or 'ok'. */
export function notice(kind, text) {
  return el('div', {class: 'notice ' + kind, role: kind === 'error' ? 'alert' : 'status'}, text);
}

/** The message of an error for people: the daemon's message and code, or the error's. */
export function errorText(e) {
  if (e && e.code && e.status) {
    return `${e.message} (${e.status} ${e.code})`;
  }
  return String(e && e.message ? e.message : e);
}

/**
 * A button that deletes `what` ("model m1") with DELETE path once the user confirms
 * (warning tells what is lost), then calls done(); an error goes into status.
 */
export function deleteButton(what, path, warning, done, status) {
  const b = el('button', {type: 'button', class: 'danger'}, 'Delete ' + what.split(' ')[0]);
  b.addEventListener('click', async () => {
    if (!window.confirm(`Delete ${what}? ${warning}`)) {
      return;
    }
    try {
      await send('DELETE', path);
      done();
    } catch (e) {
      clear(status).append(notice('error', errorText(e)));
    }
  });
  return b;
}
