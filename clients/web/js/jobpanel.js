// SPDX-License-Identifier: MIT
// What every job view shares: the submit form of a job type (POST /v1/jobs), the
// recent jobs of that type, and the live panel of one job (state, progress bar
// fed by its event stream, cancel, result), which hands each event to the view.

import * as api from './api.js';
import {buildForm} from './form.js';
import {clear, dl, el, errorText, fmtNum, fmtTime, modelLink, notice} from './util.js';

/** The view that shows a job of each type (the generic one for the rest). */
export const VIEW_OF_TYPE = {
  'finetune.smeme': 'explore',
  'train': 'train',
  'finetune.reward': 'reward',
  'finetune.dxmi': 'dxmi',
};

export function jobHref(job) {
  return `#/${VIEW_OF_TYPE[job.type] || 'jobs'}/${encodeURIComponent(job.id)}`;
}

export function stateBadge(state) {
  return el('span', {class: 'state state-' + state}, state);
}

/** A progress bar with its text, updated in place: {el, update(progress, state)}. */
export function progressView(label) {
  const bar = el('progress', {max: 1, value: 0, 'aria-label': label});
  const text = el('span', {class: 'progress-text'});
  return {
    el: el('span', {class: 'progress'}, bar, text),
    update(p, state) {
      const done = p && Number.isFinite(p.done) ? p.done : 0;
      const total = p && Number.isFinite(p.total) && p.total > 0 ? p.total : 0;
      if (total > 0) {
        bar.max = total;
        bar.value = Math.min(done, total);
      } else if (state === 'succeeded') {
        bar.max = 1;
        bar.value = 1;
      } else {
        bar.removeAttribute('value'); /* indeterminate: not started */
      }
      const pct = total > 0 ? ` (${Math.round((100 * done) / total)} %)` : '';
      text.textContent = total > 0 ? `${fmtNum(done)} of ${fmtNum(total)}${pct}` +
        (p.phase ? ` · ${p.phase}` : '') : (state === 'queued' ? 'waiting' : '');
    },
  };
}

/** A parameter field of a job: at params.<name>. */
export function param(name, kind, help, extra = {}) {
  return {name, kind, at: ['params', ...name.split('.')], label: name, help, ...extra};
}

/** The model field of a job or sampling call (at /model), a select of the models. */
export function modelField(models, {required = true, value, help, filter} = {}) {
  const ids = models.filter(filter || (() => true)).map((m) => [m.id,
    `${m.id} (${m.dataset || '?'}, ${m.data_dim}-D)`]);
  return {name: 'model', kind: 'select', at: ['model'], label: 'model', options: ids, required,
    value: value || (required && ids.length > 0 ? ids[0][0] : ''), help,
    placeholder: required ? undefined : '(none)'};
}

/** The model a form starts with: the query's ?model= when it exists, else preferred, else ''. */
export function startModel(models, query, preferred) {
  const ids = new Set(models.map((m) => m.id));
  const want = query.get('model');
  return ids.has(want) ? want : (ids.has(preferred) ? preferred : '');
}

/* The recent jobs of a type, as links. */
async function recentJobs(type) {
  const box = el('section', {class: 'recent'}, el('h3', {}, 'Recent jobs of this type'));
  try {
    const {jobs} = await api.getJSON(`/v1/jobs?type=${encodeURIComponent(type)}&limit=10`);
    if (jobs.length === 0) {
      box.append(el('p', {class: 'muted'}, 'None yet.'));
    }
    box.append(el('ul', {class: 'plain'}, jobs.map((j) => el('li', {},
        el('a', {href: jobHref(j)}, j.id), ' ', stateBadge(j.state), ' ',
        j.model ? `on ${j.model} ` : '', el('span', {class: 'muted'}, fmtTime(j.created_at))))));
  } catch (e) {
    box.append(notice('error', errorText(e)));
  }
  return box;
}

/**
 * The submit form of a job type: spec {type, view, title, intro, fields, collapsed,
 * prepare(body)}.  A submitted job opens at #/<view>/<id>.
 */
export async function jobForm(root, ctx, spec) {
  root.append(el('h2', {}, spec.title));
  if (spec.intro) {
    root.append(el('p', {class: 'intro'}, spec.intro));
  }
  const form = buildForm(spec.fields, {
    submitLabel: `Submit ${spec.type} job`,
    collapsed: spec.collapsed,
    async onSubmit(values) {
      const body = {type: spec.type, params: {}, ...values};
      const job = await api.send('POST', '/v1/jobs', spec.prepare ? spec.prepare(body) : body);
      ctx.navigate(`#/${spec.view}/${encodeURIComponent(job.id)}`);
    },
  });
  root.append(form.el);
  root.append(await recentJobs(spec.type));
  return form;
}

/**
 * The live panel of job id in root; hooks {title, onEvent(ev, job), onResult(result,
 * job), onJob(job)}: onEvent gets every event of the stream once, in order, from
 * the first; onResult the result once the job succeeded.  Returns the job as first
 * read.
 */
export async function followJob(root, ctx, id, hooks = {}) {
  let job = await api.getJSON('/v1/jobs/' + encodeURIComponent(id));
  const progress = progressView('progress of job ' + id);
  const facts = el('div');
  const streamState = el('span', {class: 'stream-state', role: 'status'});
  const cancel = el('button', {type: 'button', class: 'danger'}, 'Cancel job');
  const result = el('div', {class: 'result'});
  const errors = el('div');
  const head = el('section', {class: 'job-panel', 'aria-labelledby': 'job-title'},
      el('h2', {id: 'job-title'}, hooks.title || 'Job', ' ', el('code', {}, id)),
      facts, el('div', {class: 'job-progress'}, progress.el, ' ', streamState),
      el('div', {class: 'actions'}, cancel, ' ',
          el('a', {href: '#/jobs/' + encodeURIComponent(id)}, 'all events of this job')),
      result, errors);
  root.append(head);

  const refresh = () => {
    clear(facts).append(dl([
      ['type', job.type],
      ['model', modelLink(job.model)],
      ['state', stateBadge(job.state)],
      job.state === 'queued' && job.queue_position !== undefined
        ? ['queue position', String(job.queue_position)] : null,
      job.cancel_requested ? ['cancel', 'requested: it stops at its next step'] : null,
      ['attempts', String(job.attempts ?? '–')],
      ['created', fmtTime(job.created_at)],
      ['started', fmtTime(job.started_at)],
      ['finished', fmtTime(job.finished_at)],
    ]));
    progress.update(job.progress, job.state);
    cancel.hidden = api.isFinal(job.state);
    if (job.error) {
      clear(result).append(notice('error', `${job.error.message} (${job.error.code})`));
    }
  };
  refresh();
  if (hooks.onJob) {
    hooks.onJob(job);
  }
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      const answer = await api.send('POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`, {});
      if (!api.isFinal(job.state)) {
        job = answer; /* unless the stream said the job ended meanwhile: that is newer */
        refresh();
      }
    } catch (e) {
      errors.append(notice('error', errorText(e)));
    } finally {
      cancel.disabled = false;
    }
  });

  const showResult = async () => {
    try {
      const r = await api.getJSON(`/v1/jobs/${encodeURIComponent(id)}/result`);
      clear(result).append(el('p', {}, 'Result: ',
          r.model ? ['model ', modelLink(r.model)] : 'ready',
          Number.isFinite(r.loss) ? ` · final loss ${fmtNum(r.loss)}` : ''));
      if (hooks.onResult) {
        hooks.onResult(r, job);
      }
    } catch (e) {
      errors.append(notice('error', errorText(e)));
    }
  };
  if (!ctx.alive()) {
    return job;
  }
  const stream = api.followEvents(job.links && job.links.events
    ? job.links.events : `/v1/jobs/${encodeURIComponent(id)}/events`, {
    onEvent(ev) {
      const d = ev.data || {};
      if (ev.event === 'status') {
        job = d.job_object ? d.job_object : {...job, state: d.state};
        refresh();
        if (d.state === 'succeeded') {
          showResult();
        }
      } else if (ev.event === 'progress') {
        job.progress = {done: d.done, total: d.total, phase: d.phase};
        progress.update(job.progress, job.state);
      }
      if (hooks.onEvent) {
        hooks.onEvent(ev, job);
      }
    },
    onState(state, detail) {
      const text = {
        connecting: 'connecting to the event stream…',
        live: 'live',
        reconnecting: `connection dropped: resuming after event ${detail}…`,
        ended: 'stream ended',
        closed: '',
        error: `stream: ${detail && detail.message}`,
      };
      streamState.textContent = text[state] ?? state;
      streamState.dataset.state = state;
    },
  });
  ctx.onLeave(() => stream.close());
  return job;
}
