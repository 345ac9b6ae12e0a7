// SPDX-License-Identifier: MIT
// The public HTTP API of manifoldd (docs/api.md), as the page uses it: JSON calls
// with the API key as a bearer token, the error body as an ApiError, and job event
// streams that resume after a dropped connection.
//
// Event streams are read with fetch() and a small Server-Sent Events parser, not
// EventSource: EventSource cannot send an Authorization header.  When the
// connection drops, the stream reconnects after the server's retry: delay with
// Last-Event-ID set to the last id it delivered, and an event id at or below that
// one is never delivered again.

const KEY_NAME = 'manifold.apiKey';
const FINAL = new Set(['succeeded', 'failed', 'cancelled']);

let authNeeded = null;

/** fn(error) is called when the daemon answers 401 (no key, or a wrong one). */
export function onAuthNeeded(fn) {
  authNeeded = fn;
}

/** The API key of this tab (sessionStorage: gone when the tab closes), or ''. */
export function getKey() {
  try {
    return sessionStorage.getItem(KEY_NAME) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  try {
    if (key) {
      sessionStorage.setItem(KEY_NAME, key);
    } else {
      sessionStorage.removeItem(KEY_NAME);
    }
  } catch {
    /* storage refused (private mode): the key lasts until reload */
  }
}

function headers(extra) {
  const h = new Headers(extra || {});
  const key = getKey();
  if (key) {
    h.set('Authorization', 'Bearer ' + key);
  }
  return h;
}

/** A failed call: status, the error body's code, message and field (a JSON pointer). */
export class ApiError extends Error {
  constructor(status, body, fallback) {
    const e = body && typeof body === 'object' ? body.error : null;
    super(e && e.message ? e.message : fallback);
    this.name = 'ApiError';
    this.status = status;
    this.code = e && e.code ? e.code : 'http_' + status;
    this.field = e && typeof e.field === 'string' ? e.field : null;
  }
}

async function failure(r, what) {
  let body = null;
  try {
    body = await r.json();
  } catch {
    /* not JSON: the status says it */
  }
  const err = new ApiError(r.status, body, `${what}: HTTP ${r.status}`);
  if (r.status === 401 && authNeeded) {
    authNeeded(err);
  }
  return err;
}

/**
 * One call: fetch with the key; a Response when it succeeded, else throws an
 * ApiError (status 0 when the daemon did not answer).
 */
export async function call(method, path, {json, body, type, accept, signal} = {}) {
  const h = headers({Accept: accept || 'application/json'});
  let payload = body;
  if (json !== undefined) {
    h.set('Content-Type', 'application/json');
    payload = JSON.stringify(json);
  } else if (body !== undefined && type) {
    h.set('Content-Type', type);
  }
  let r;
  try {
    r = await fetch(path, {method, headers: h, body: payload, signal, cache: 'no-store'});
  } catch (e) {
    if (e.name === 'AbortError') {
      throw e;
    }
    throw new ApiError(0, null, `the daemon did not answer ${method} ${path}`);
  }
  if (!r.ok) {
    throw await failure(r, `${method} ${path}`);
  }
  return r;
}

export async function getJSON(path, opts) {
  return (await call('GET', path, opts)).json();
}

/** A JSON call with a body; null for 204 No Content. */
export async function send(method, path, json) {
  const r = await call(method, path, json === undefined ? {} : {json});
  return r.status === 204 ? null : r.json();
}

export async function getBlob(path) {
  return (await call('GET', path, {accept: '*/*'})).blob();
}

/* ---- event streams ---------------------------------------------------------------- */

// For people and for the browser test: the event ids each stream delivered and the
// Last-Event-ID of each connection it made, by path.
export const streamLog = {};
const open = new Set();

/** Drops the connection of every open stream (as a network failure would); they resume. */
export function dropStreams() {
  for (const s of open) {
    s.drop();
  }
}

/* Calls onLine(line) for each line of a body ('\n' or '\r\n' ended), until it ends. */
async function readLines(body, onLine) {
  const reader = body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const {value, done} = await reader.read();
    if (done) {
      break;
    }
    buf += dec.decode(value, {stream: true});
    let start = 0;
    for (let nl = buf.indexOf('\n', start); nl >= 0; nl = buf.indexOf('\n', start)) {
      let line = buf.slice(start, nl);
      if (line.endsWith('\r')) {
        line = line.slice(0, -1);
      }
      onLine(line);
      start = nl + 1;
    }
    buf = buf.slice(start);
  }
}

/* The SSE events of a body: onEvent({id, event, data}) per event, onRetry(ms). */
async function readSSE(body, onEvent, onRetry) {
  let cur = {id: null, event: null, data: []};
  await readLines(body, (line) => {
    if (line === '') {
      if (cur.data.length > 0) {
        onEvent({id: cur.id, event: cur.event || 'message', data: cur.data.join('\n')});
      }
      cur = {id: null, event: null, data: []};
      return;
    }
    if (line.startsWith(':')) {
      return; /* a comment: the heartbeat */
    }
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) {
      value = value.slice(1);
    }
    if (field === 'data') {
      cur.data.push(value);
    } else if (field === 'id') {
      cur.id = value;
    } else if (field === 'event') {
      cur.event = value;
    } else if (field === 'retry' && /^\d+$/.test(value)) {
      onRetry(Number(value));
    }
  });
}

/**
 * Follows the event stream at path (GET /v1/jobs/{id}/events) until its job's final
 * status event, or until close().  onEvent({id, event, data}) gets each event once,
 * in order (data parsed as JSON); onState(state, detail) hears 'connecting',
 * 'live', 'reconnecting' (detail: the last id), 'ended', 'closed' or 'error'
 * (detail: the ApiError; the stream then stops).
 */
export function followEvents(path, {onEvent, onState = () => {}, after = 0} = {}) {
  let last = after;
  let closed = false;
  let finished = false;
  let ctrl = null;
  let retryMs = 2000;
  const log = (streamLog[path] = streamLog[path] || {ids: [], connects: []});
  const handle = {
    close() {
      closed = true;
      open.delete(handle);
      if (ctrl) {
        ctrl.abort();
      }
    },
    drop() {
      if (ctrl) {
        ctrl.abort();
      }
    },
    get lastId() {
      return last;
    },
  };
  open.add(handle);

  const deliver = (ev) => {
    const id = Number(ev.id);
    if (!Number.isInteger(id) || id <= last) {
      return; /* no id, or one delivered already: never twice */
    }
    last = id;
    log.ids.push(id);
    let data = ev.data;
    try {
      data = JSON.parse(ev.data);
    } catch {
      /* keep the text */
    }
    if (ev.event === 'status' && data && FINAL.has(data.state)) {
      finished = true;
    }
    onEvent({id, event: ev.event, data});
  };

  (async () => {
    for (let attempt = 0; !closed && !finished; attempt++) {
      ctrl = new AbortController();
      const h = headers({Accept: 'text/event-stream'});
      if (last > 0) {
        h.set('Last-Event-ID', String(last));
      }
      log.connects.push(last);
      onState(attempt === 0 ? 'connecting' : 'reconnecting', last);
      try {
        const r = await fetch(path, {headers: h, signal: ctrl.signal, cache: 'no-store'});
        if (!r.ok) {
          const err = await failure(r, 'GET ' + path);
          if (r.status < 500 && r.status !== 429) {
            onState('error', err);
            break;
          }
        } else {
          onState('live', last);
          await readSSE(r.body, deliver, (ms) => {
            retryMs = ms;
          });
        }
      } catch {
        /* the connection dropped (or close() aborted it) */
      }
      if (closed || finished) {
        break;
      }
      onState('reconnecting', last);
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
    open.delete(handle);
    if (finished) {
      onState('ended', last);
    } else if (closed) {
      onState('closed', last);
    }
  })();
  return handle;
}

export const isFinal = (state) => FINAL.has(state);
