// SPDX-License-Identifier: MIT
// Jobs: the list (GET /v1/jobs) with state, queue position and a progress bar that
// the running jobs' event streams move live; cancel; and one job with every event
// of its stream (resumed with Last-Event-ID after a dropped connection) and its
// result.

import * as api from '../api.js';
import {followJob, jobHref, progressView, stateBadge, VIEW_OF_TYPE} from '../jobpanel.js';
import {drawSamples, figure} from '../plot.js';
import {clear, downloadBlob, el, errorText, fmtNum, fmtTime, notice, table, toCSV} from '../util.js';

const TYPES = ['sample', 'train', 'finetune.smeme', 'finetune.reward', 'finetune.dxmi'];
const STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
// Browsers open at most 6 connections to one host: the list streams at most this many.
const MAX_STREAMS = 3;
const POLL_MS = 3000;

export async function render(root, ctx) {
  if (ctx.id) {
    return renderOne(root, ctx, ctx.id);
  }
  root.append(el('h2', {}, 'Jobs'),
      el('p', {class: 'intro'}, 'Newest first. Running jobs move live; the list refreshes every ' +
        'few seconds. Submit jobs from Explore, Train, Reward and DxMI, or with POST /v1/jobs.'));
  const state = el('select', {id: 'jobs-state'}, el('option', {value: ''}, 'any state'),
      STATES.map((s) => el('option', {value: s}, s)));
  const type = el('select', {id: 'jobs-type'}, el('option', {value: ''}, 'any type'),
      TYPES.map((t) => el('option', {value: t}, t)));
  state.value = ctx.query.get('state') || '';
  type.value = ctx.query.get('type') || '';
  const body = el('tbody');
  const msg = el('div');
  root.append(el('form', {class: 'filters', onsubmit: (e) => e.preventDefault()},
      el('label', {for: 'jobs-state'}, 'state'), state,
      el('label', {for: 'jobs-type'}, 'type'), type),
  el('div', {class: 'table-wrap', role: 'region', 'aria-label': 'Jobs', tabindex: 0},
      el('table', {class: 'jobs'}, el('caption', {}, 'Jobs'),
          el('thead', {}, el('tr', {}, ['id', 'type', 'model', 'state', 'progress', 'queue',
            'created', ''].map((h) => el('th', {scope: 'col'}, h)))), body)), msg);

  const rows = new Map(); /* job id -> {tr, job, progress, stateCell, queueCell, stream} */
  const streams = () => [...rows.values()].filter((r) => r.stream).length;
  const update = (row) => {
    const j = row.job;
    clear(row.stateCell).append(stateBadge(j.state));
    row.queueCell.textContent = j.state === 'queued' && j.queue_position !== undefined
      ? String(j.queue_position) : '';
    row.progress.update(j.progress, j.state);
    row.cancel.hidden = api.isFinal(j.state);
    if (row.stream && api.isFinal(j.state)) {
      row.stream.close();
      row.stream = null;
    }
    if (!row.stream && j.state === 'running' && streams() < MAX_STREAMS && ctx.alive()) {
      row.stream = api.followEvents(`/v1/jobs/${encodeURIComponent(j.id)}/events`, {
        onEvent(ev) {
          if (ev.event === 'progress') {
            row.job.progress = ev.data;
          } else if (ev.event === 'status') {
            row.job = ev.data.job_object || {...row.job, state: ev.data.state};
          }
          update(row);
        },
      });
    }
  };
  const add = (j) => {
    const progress = progressView('progress of ' + j.id);
    const cancel = el('button', {type: 'button', class: 'small danger'}, 'Cancel');
    const row = {job: j, progress, cancel, stateCell: el('td'), queueCell: el('td'), stream: null};
    cancel.addEventListener('click', async () => {
      try {
        const answer = await api.send('POST', `/v1/jobs/${encodeURIComponent(j.id)}/cancel`, {});
        if (!api.isFinal(row.job.state)) {
          row.job = answer; /* a stream's final state is newer than the answer */
          update(row);
        }
      } catch (e) {
        clear(msg).append(notice('error', errorText(e)));
      }
    });
    row.tr = el('tr', {'data-job': j.id},
        el('td', {}, el('a', {href: jobHref(j)}, j.id)), el('td', {}, j.type),
        el('td', {}, j.model || '–'), row.stateCell, el('td', {}, progress.el), row.queueCell,
        el('td', {}, fmtTime(j.created_at)), el('td', {}, cancel));
    rows.set(j.id, row);
    update(row);
    return row;
  };
  const load = async () => {
    const q = new URLSearchParams({limit: '50'});
    if (state.value) {
      q.set('state', state.value);
    }
    if (type.value) {
      q.set('type', type.value);
    }
    let list;
    try {
      ({jobs: list} = await api.getJSON('/v1/jobs?' + q));
      clear(msg);
    } catch (e) {
      clear(msg).append(notice('error', errorText(e)));
      return;
    }
    const keep = new Set(list.map((j) => j.id));
    for (const [id, row] of rows) {
      if (!keep.has(id)) {
        if (row.stream) {
          row.stream.close();
        }
        row.tr.remove();
        rows.delete(id);
      }
    }
    let before = body.firstChild;
    for (const j of list) {
      const row = rows.get(j.id);
      if (row) {
        /* a stream's progress is newer than the list's */
        row.job = row.stream ? {...j, progress: row.job.progress} : j;
        update(row);
        before = row.tr.nextSibling;
      } else {
        body.insertBefore(add(j).tr, before);
      }
    }
    if (list.length === 0) {
      clear(msg).append(el('p', {class: 'muted'}, 'No jobs.'));
    }
  };
  const reload = () => {
    for (const row of rows.values()) {
      if (row.stream) {
        row.stream.close();
      }
    }
    rows.clear();
    clear(body);
    load();
  };
  state.addEventListener('change', reload);
  type.addEventListener('change', reload);
  await load();
  const timer = setInterval(load, POLL_MS);
  ctx.onLeave(() => {
    clearInterval(timer);
    for (const row of rows.values()) {
      if (row.stream) {
        row.stream.close();
      }
    }
  });
}

/* One line about an event's data. */
function summary(ev) {
  const d = ev.data || {};
  switch (ev.event) {
    case 'status':
      return d.state + (d.job_object && d.job_object.error ? ': ' + d.job_object.error.message : '');
    case 'progress':
      return `${fmtNum(d.done)} of ${fmtNum(d.total)}${d.phase ? ' · ' + d.phase : ''}`;
    case 'samples':
      return `${fmtNum((d.samples || []).length)} rows from ${fmtNum(d.offset)}` +
        (d.iteration !== undefined ? `, iteration ${d.iteration}` : '') +
        (d.target !== undefined ? `, target ${fmtNum(d.target)}` : '');
    case 'metrics': {
      const parts = [];
      for (const k of ['stage', 'iteration', 'step', 'index']) {
        if (d[k] !== undefined) {
          parts.push(`${k} ${d[k]}`);
        }
      }
      if (Number.isFinite(d.loss)) {
        parts.push(`loss ${fmtNum(d.loss)}`);
      }
      const m = d.metrics || d;
      if (m.entropy_knn && Number.isFinite(m.entropy_knn.value)) {
        parts.push(`kNN entropy ${fmtNum(m.entropy_knn.value)} nats`);
      }
      return parts.join(', ') || Object.keys(d).join(', ');
    }
    default:
      return '';
  }
}

/* The event's data as text, long sample lists cut. */
function detail(data) {
  return JSON.stringify(data, (k, v) => (k === 'samples' && Array.isArray(v) && v.length > 3
    ? [...v.slice(0, 3), `… ${v.length - 3} more rows`] : v), 1);
}

async function renderOne(root, ctx, id) {
  root.append(el('p', {}, el('a', {href: '#/jobs'}, '← all jobs')));
  const events = el('tbody');
  const count = el('span', {class: 'muted'});
  const resultBox = el('section');
  let n = 0;
  const job = await followJob(root, ctx, id, {
    title: 'Job',
    onEvent(ev) {
      n++;
      count.textContent = `${n} events`;
      events.append(el('tr', {'data-event-id': String(ev.id)},
          el('td', {}, String(ev.id)), el('td', {}, ev.event), el('td', {}, summary(ev)),
          el('td', {}, el('details', {}, el('summary', {}, 'data'), el('pre', {}, detail(ev.data))))));
      while (events.childElementCount > 500) {
        events.firstChild.remove();
      }
    },
    onResult(r) {
      if (!Array.isArray(r.samples)) {
        return;
      }
      const fig = figure('job-result-plot', `${fmtNum(r.samples.length)} samples of ${r.model}`);
      const csv = el('button', {type: 'button'}, 'Download samples (CSV)');
      csv.addEventListener('click', () => downloadBlob(new Blob([toCSV(r.samples)],
          {type: 'text/csv'}), `samples-${r.model}-${r.seed}.csv`));
      clear(resultBox).append(el('h3', {}, 'Samples'), el('div', {class: 'actions'}, csv),
          el('div', {class: 'figures'}, fig.figure));
      drawSamples(fig.canvas, r.samples);
    },
  });
  const view = VIEW_OF_TYPE[job.type];
  root.append(
      view ? el('p', {}, el('a', {href: jobHref(job)}, `Open it in the ${view} view`)) : null,
      el('section', {}, el('h3', {}, 'Parameters'), table('Parameters, defaults filled in',
          ['parameter', 'value'], Object.entries(job.params || {}).map(([k, v]) =>
            [el('code', {}, k), typeof v === 'object' ? JSON.stringify(v) : String(v)]))),
      resultBox,
      el('section', {}, el('h3', {}, 'Events ', count),
          el('div', {class: 'table-wrap', role: 'region', 'aria-label': 'Events', tabindex: 0},
              el('table', {class: 'events'}, el('caption', {}, `Events of ${id}, in order`),
                  el('thead', {}, el('tr', {}, ['id', 'event', 'summary', ''].map((h) =>
                    el('th', {scope: 'col'}, h)))), events))));
}
