// SPDX-License-Identifier: MIT
// The web page (issue 16) in a real browser against the real daemon: Debian's
// chromium driven by playwright-core (never a downloaded browser), manifoldd on a
// free loopback port with the shipped models and a fresh store.
//
// Checks: every view loads with no console error and no request leaving loopback
// (screenshots of each into OUT_DIR), keyboard navigation; sampling
// eight_gaussians draws the points over held-out data (the plotted data read back,
// canvas pixels checked) with its metrics and a CSV download; a bad field's message
// appears at that field; a short S-MEME job on imbalanced_square shows its entropy
// points per iteration and its samples; cancel; a dropped event stream resumes
// with Last-Event-ID, losing and repeating nothing; with API keys on, the page asks
// for the key and then works.
//
// Environment: MANIFOLDD (the daemon), MODELS (the shipped models), OUT_DIR (the
// screenshots), CHROMIUM (default /usr/bin/chromium).  Run by run.sh (meson suite
// 'browser').

import {spawn} from 'node:child_process';
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import path from 'node:path';
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';

import {chromium} from 'playwright-core';

const MANIFOLDD = process.env.MANIFOLDD;
const MODELS = process.env.MODELS;
const OUT = process.env.OUT_DIR || tmpdir();
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'browser-test-token-0123456789abcdef';
const T0 = Date.now();

const daemons = [];
let browser;

/** manifoldd on 127.0.0.1:<free port> with a fresh store; resolves to {url, proc, tmp}. */
async function startDaemon(env = {}) {
  const tmp = mkdtempSync(path.join(tmpdir(), 'mf-browser-'));
  const portFile = path.join(tmp, 'port');
  const proc = spawn(MANIFOLDD, ['--listen', '127.0.0.1:0', '--models', MODELS,
    '--model-store', path.join(tmp, 'models'), '--store', 'sqlite:' + path.join(tmp, 'jobs.db'),
    '--port-file', portFile, '--heartbeat', '1', '--log-level', 'warn'],
  {env: {...process.env, ...env}, stdio: ['ignore', 'inherit', 'inherit']});
  const d = {proc, tmp};
  daemons.push(d);
  for (let i = 0; i < 200; i++) {
    if (existsSync(portFile) && readFileSync(portFile, 'utf8').trim()) {
      d.url = `http://127.0.0.1:${readFileSync(portFile, 'utf8').split('\n')[0].trim()}`;
      return d;
    }
    if (proc.exitCode !== null) {
      throw new Error('manifoldd exited at start: ' + proc.exitCode);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('manifoldd did not start in 10 s');
}

/** A new page at 1280x800 recording console errors and requests that leave loopback. */
async function newPage(viewport = {width: 1280, height: 800}) {
  const context = await browser.newContext({viewport, acceptDownloads: true});
  const page = await context.newPage();
  page.errors = [];
  page.offLoopback = [];
  page.requests = [];
  page.on('console', (m) => {
    if (m.type() === 'error') {
      page.errors.push(m.text());
    }
  });
  page.on('pageerror', (e) => page.errors.push('page error: ' + e.message));
  page.on('request', (r) => {
    const u = new URL(r.url());
    page.requests.push(r);
    if (!['data:', 'blob:'].includes(u.protocol) && !['127.0.0.1', 'localhost'].includes(u.hostname)) {
      page.offLoopback.push(r.url());
    }
  });
  return page;
}

/** Goes to #/hash and waits until its view has rendered. */
async function view(page, base, hash) {
  const before = await page.evaluate(() => document.getElementById('main')?.dataset.ready || '')
    .catch(() => '');
  const url = `${base}/#/${hash}`;
  if (page.url() === url) {
    await page.reload(); /* the same hash again: no hashchange, so load it anew */
  } else {
    await page.goto(url);
  }
  await page.waitForFunction((prev) => {
    const m = document.getElementById('main');
    return m && m.dataset.ready && m.dataset.ready !== prev && m.getAttribute('aria-busy') === 'false';
  }, before, {timeout: 20000});
}

async function shot(page, name) {
  await page.screenshot({path: path.join(OUT, `web-${name}.png`), fullPage: true});
}

/**
 * The plot window.__plots holds under id, once pred(arg) holds in the page (a function
 * Playwright sends over, so the page's CSP, which forbids eval, does not stop it).
 */
async function plotWhen(page, id, pred, arg, timeout = 30000) {
  await page.waitForFunction(pred, arg, {timeout});
  return page.evaluate((pid) => JSON.parse(JSON.stringify({...window.__plots[pid], pixelOf: null})), id);
}

/** A scatter plot once it has a layer labelled label of n points (n null: any). */
function layerOf(page, id, label, n = null, timeout = 30000) {
  return plotWhen(page, id, ([pid, l, k]) => {
    const p = window.__plots[pid];
    return Boolean(p && p.layers && p.layers.some((x) => x.label === l && (k === null || x.n === k)));
  }, [id, label, n], timeout);
}

/** A line plot once its series labelled label (null: the first) has at least n points. */
function seriesOf(page, id, label, n, timeout = 30000) {
  return plotWhen(page, id, ([pid, l, k]) => {
    const p = window.__plots[pid];
    const s = p && p.series && (l === null ? p.series[0] : p.series.find((x) => x.label === l));
    return Boolean(s && s.n >= k);
  }, [id, label, n], timeout);
}

/** Fills a form field by its name (form.js: the wrapper's data-field). */
async function fill(page, form, name, value) {
  const input = page.locator(`${form} [data-field="${name}"] input, ${form} [data-field="${name}"] select`);
  if (await input.evaluate((e) => e.tagName) === 'SELECT') {
    await input.selectOption(String(value));
  } else {
    await input.fill(String(value));
  }
}

before(async () => {
  assert.ok(MANIFOLDD && MODELS, 'MANIFOLDD and MODELS must be set');
  mkdirSync(OUT, {recursive: true});
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--no-first-run'],
  });
});

after(async () => {
  if (browser) {
    await browser.close();
  }
  for (const d of daemons) {
    d.proc.kill('SIGTERM');
  }
  await Promise.all(daemons.map((d) => new Promise((r) => (d.proc.exitCode !== null ? r()
    : d.proc.on('exit', r)))));
  for (const d of daemons) {
    rmSync(d.tmp, {recursive: true, force: true});
  }
  console.log(`browser test: ${((Date.now() - T0) / 1000).toFixed(1)} s`);
});

let D; /* the daemon without keys */
let page;

test('every view loads with no console error and no request off loopback', async () => {
  D = await startDaemon();
  page = await newPage();
  for (const v of ['models', 'models/eight_gaussians', 'sample', 'jobs', 'explore', 'train',
    'reward', 'dxmi', 'datasets', 'datasets/eight_gaussians', 'datasets/digits']) {
    await view(page, D.url, v);
    await shot(page, v.replace(/\//g, '-'));
  }
  assert.deepEqual(page.errors, [], 'console errors');
  assert.deepEqual(page.offLoopback, [], 'requests off loopback');
  /* the models list has the shipped models */
  await view(page, D.url, 'models');
  const ids = await page.locator('table.models tbody tr td:first-child a').allTextContents();
  for (const m of ['eight_gaussians', 'imbalanced_square', 'digits', 'two_moons']) {
    assert.ok(ids.includes(m), `models list has ${m}: ${ids}`);
  }
  /* the dataset previews draw held-out points: a scatter, and digits as images */
  await view(page, D.url, 'datasets/digits');
  const grid = await plotWhen(page, 'dataset-preview',
      (id) => window.__plots[id] && window.__plots[id].kind === 'images', 'dataset-preview');
  assert.equal(grid.n, 100);
  /* 20,000 points draw in one pass without holding the page up */
  const draw = await page.evaluate(async () => {
    const {scatter} = await import('/web/js/plot.js');
    const c = document.createElement('canvas');
    c.id = 'perf-20000';
    c.className = 'plot';
    document.getElementById('main').append(c);
    const pts = Array.from({length: 20000}, (_, i) => [Math.cos(i) * (i % 97) / 40,
      Math.sin(i) * (i % 89) / 40]);
    const t0 = performance.now();
    scatter(c, {layers: [{label: 'points', points: pts}]});
    const ms = performance.now() - t0;
    const n = window.__plots['perf-20000'].layers[0].n;
    c.remove();
    return {ms, n};
  });
  assert.equal(draw.n, 20000);
  assert.ok(draw.ms < 500, `20,000 points drew in ${draw.ms.toFixed(1)} ms`);
  console.log(`20,000 points drawn in ${draw.ms.toFixed(1)} ms`);
  /* keyboard: Tab to the navigation, Enter opens a view */
  await page.keyboard.press('Tab'); /* the skip link */
  let reached = false;
  for (let i = 0; i < 8 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.textContent === 'Sample');
  }
  assert.ok(reached, 'the Sample link is reached with Tab');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('main').dataset.view === 'sample' &&
    document.getElementById('sample-form'));
  /* phone width: the sample form in one column, no horizontal scrolling of the page */
  const phone = await newPage({width: 390, height: 844});
  await view(phone, D.url, 'sample');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  assert.ok(overflow <= 1, `the page fits a phone's width (overflow ${overflow} px)`);
  await shot(phone, 'sample-phone');
  await phone.context().close();
});

test('sampling eight_gaussians draws the points over held-out data', async () => {
  await view(page, D.url, 'sample?model=eight_gaussians');
  await fill(page, '#sample-form', 'n', 2000);
  await fill(page, '#sample-form', 'sampler', 'ddim');
  await fill(page, '#sample-form', 'steps', 50);
  await fill(page, '#sample-form', 'seed', 7);
  await page.click('#sample-form button[type=submit]');
  const p = await layerOf(page, 'sample-plot', 'samples', 2000);
  assert.equal(p.kind, 'scatter');
  assert.deepEqual(p.layers.map((l) => [l.label, l.n]), [['held-out data', 2000], ['samples', 2000]]);
  /* the eight modes sit at radius 2.83: the axes cover them */
  assert.ok(p.bounds.x[0] < -2.8 && p.bounds.x[1] > 2.8 && p.bounds.y[0] < -2.8 && p.bounds.y[1] > 2.8);
  /* pixels: the samples' blue is on the canvas, at the first sample's place among others */
  const px = await page.evaluate(async () => {
    const c = document.getElementById('sample-plot');
    const ctx = c.getContext('2d');
    const img = ctx.getImageData(0, 0, c.width, c.height).data;
    let blue = 0;
    let grey = 0;
    for (let i = 0; i < img.length; i += 4) {
      const [r, g, b] = [img[i], img[i + 1], img[i + 2]];
      blue += b > 120 && r < 120 && b - r > 60 ? 1 : 0;
      grey += Math.abs(r - g) < 8 && Math.abs(g - b) < 8 && r > 150 && r < 235 ? 1 : 0;
    }
    const samples = await (await fetch('/v1/samples', {method: 'POST',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({model: 'eight_gaussians', n: 2000, sampler: 'ddim', steps: 50, seed: 7,
        metrics: false})})).json();
    const [x, y] = window.__plots['sample-plot'].pixelOf(...samples.samples[0]);
    const at = ctx.getImageData(x - 1, y - 1, 3, 3).data;
    let coloured = 0;
    for (let i = 0; i < at.length; i += 4) {
      coloured += at[i] < 200 || at[i + 1] < 200 ? 1 : 0;
    }
    return {blue, grey, coloured};
  });
  assert.ok(px.blue > 1000, `blue sample pixels: ${px.blue}`);
  assert.ok(px.grey > 200, `grey held-out pixels: ${px.grey}`);
  assert.ok(px.coloured >= 3, 'the first sample is drawn where the plot maps it');
  /* the metrics table: figures with units and settings */
  const metrics = await page.locator('table.metrics').innerText();
  for (const s of ['kNN entropy', 'nats', 'k = 5', 'Vendi', 'modes covered']) {
    assert.ok(metrics.includes(s), `metrics table has "${s}"`);
  }
  /* the samples as CSV */
  const [download] = await Promise.all([page.waitForEvent('download'),
    page.click('text=Download samples (CSV)')]);
  assert.match(download.suggestedFilename(), /^samples-eight_gaussians-7\.csv$/);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv[0], 'x0,x1');
  assert.equal(csv.length, 2001);
  await shot(page, 'sample-result');
  assert.deepEqual(page.errors, [], 'console errors');
});

test('a bad field shows its message next to that field', async () => {
  await view(page, D.url, 'sample?model=eight_gaussians');
  await fill(page, '#sample-form', 'n', 0);
  await page.click('#sample-form button[type=submit]');
  const err = page.locator('#sample-form [data-field="n"] .field-error');
  await err.waitFor({state: 'visible'});
  const text = await err.innerText();
  assert.match(text, /n/);
  assert.match(text, /10000/, `the daemon's message: ${text}`);
  assert.equal(await page.locator('#sample-form [data-field="n"] input').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#sample-form [data-field="steps"] .field-error').innerText(), '');
  /* a job parameter: /params/K at the K field of the explore form */
  await view(page, D.url, 'explore');
  await fill(page, '#explore-form', 'K', 40);
  await page.click('#explore-form button[type=submit]');
  const kErr = page.locator('#explore-form [data-field="K"] .field-error');
  await kErr.waitFor({state: 'visible'});
  assert.match(await kErr.innerText(), /K.*16/);
  await shot(page, 'bad-field');
  /* the 400s themselves are the only console errors (Chromium logs a failed fetch) */
  assert.deepEqual(page.errors.filter((e) => !/status of 400/.test(e)), []);
  page.errors.length = 0;
});

/* Submits a small S-MEME job on imbalanced_square with the explore view's form (K = 2,
 * 20 sampler steps, 16 trajectories, batch 256, and params); waits for its page. */
async function submitSmeme(params) {
  await view(page, D.url, 'explore?model=imbalanced_square');
  const form = '#explore-form';
  await page.click(`${form} details.group summary >> text=Adjoint Matching`);
  for (const [k, v] of Object.entries({K: 2, steps: 20, trajectories: 16, batch: 256, ...params})) {
    await fill(page, form, k, v);
  }
  await page.click(`${form} button[type=submit]`);
  await page.waitForURL(/#\/explore\/job-/);
}

test('a short S-MEME job on imbalanced_square shows entropy points and samples', async () => {
  await submitSmeme({n_metric_samples: 400, seed: 1, rounds: 40});
  const entropy = await seriesOf(page, 'explore-entropy', 'kNN entropy', 3, 60000);
  const knn = entropy.series.find((s) => s.label === 'kNN entropy');
  assert.ok(knn.n >= 2, 'at least two entropy points');
  assert.deepEqual(knn.points.map((q) => q[0]), [0, 1, 2]);
  assert.ok(entropy.series.some((s) => s.label === 'histogram entropy'));
  assert.ok(Math.abs(entropy.hlines[0].y - Math.log(4)) < 1e-9, 'the ceiling is log 4');
  const parent = await layerOf(page, 'explore-parent', 'parent', 400);
  const latest = await layerOf(page, 'explore-iteration', 'iteration 2', 400);
  assert.ok(parent.layers.some((l) => l.label === 'held-out data' && l.n > 0));
  assert.deepEqual(parent.bounds, latest.bounds, 'the parent and the iteration share their axes');
  await seriesOf(page, 'explore-support', 'inside', 3);
  await page.locator('.job-panel .state-succeeded').first().waitFor();
  /* the iteration picker shows the parent's samples at 0 */
  await page.locator('#explore-pick').fill('0');
  await layerOf(page, 'explore-iteration', 'parent');
  await page.locator('#explore-pick').fill('2');
  await layerOf(page, 'explore-iteration', 'iteration 2');
  await page.waitForTimeout(300);
  await shot(page, 'explore-job');
  assert.deepEqual(page.errors, [], 'console errors');
});

test('cancel stops a running job', async () => {
  await submitSmeme({n_metric_samples: 100, rounds: 100000});
  await page.locator('.job-panel .state-running').first().waitFor({timeout: 20000});
  await page.click('.job-panel button:has-text("Cancel job")');
  await page.locator('.job-panel .state-cancelled').first().waitFor({timeout: 20000});
  const id = decodeURIComponent(page.url().split('/').pop());
  const job = await (await fetch(`${D.url}/v1/jobs/${id}`)).json();
  assert.equal(job.state, 'cancelled');
  assert.equal(await page.locator('.job-panel button:has-text("Cancel job")').isVisible(), false);
  /* the jobs list shows it, with its state */
  await view(page, D.url, 'jobs');
  await page.locator(`tr[data-job="${id}"] .state-cancelled`).waitFor();
  await shot(page, 'jobs-list');
  assert.deepEqual(page.errors, [], 'console errors');
});

test('a dropped event stream resumes with Last-Event-ID: nothing lost, nothing twice', async () => {
  const r = await fetch(`${D.url}/v1/jobs`, {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({type: 'finetune.smeme', model: 'imbalanced_square', params: {K: 2,
      rounds: 400, n_metric_samples: 100, steps: 20, trajectories: 16, batch: 256, seed: 2}})});
  const job = await r.json();
  assert.equal(r.status, 202);
  const events = `/v1/jobs/${job.id}/events`;
  await view(page, D.url, 'jobs/' + job.id);
  await page.waitForFunction((p) => (window.__manifold.streamLog[p] || {ids: []}).ids.length >= 4,
    events, {timeout: 20000});
  const {state} = await (await fetch(`${D.url}/v1/jobs/${job.id}`)).json();
  await page.evaluate(() => window.__manifold.dropStreams());
  await page.locator('.job-panel .state-succeeded').first().waitFor({timeout: 60000});
  const log = await page.evaluate((p) => window.__manifold.streamLog[p], events);
  assert.ok(log.connects.length >= 2, `reconnected (connections: ${JSON.stringify(log.connects)})`);
  assert.ok(log.connects[1] >= 4, 'the second connection resumed after the events it had');
  const resumed = page.requests.filter((q) => q.url().endsWith(events) &&
    q.headers()['last-event-id'] === String(log.connects[1]));
  assert.equal(resumed.length, 1, 'the reconnect sent Last-Event-ID');
  /* every event of the job exactly once, in order */
  const text = await (await fetch(D.url + events)).text();
  const all = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(log.ids, all, 'the page saw every event once, in order');
  assert.equal(new Set(log.ids).size, log.ids.length);
  const rows = await page.locator('table.events tbody tr').count();
  assert.equal(rows, all.length, 'one row per event');
  assert.ok(state === 'running' || state === 'queued', `the drop came while the job ran (${state})`);
  await shot(page, 'job-events');
  assert.deepEqual(page.errors, [], 'console errors');
});

test('train, reward and DxMI jobs draw their figures', async () => {
  const submit = async (body) => {
    const r = await fetch(`${D.url}/v1/jobs`, {method: 'POST',
      headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
    assert.equal(r.status, 202, JSON.stringify(body));
    return (await r.json()).id;
  };
  const train = await submit({type: 'train', params: {dataset: 'two_moons', steps: 400,
    hidden: [32, 32], batch: 64}});
  const reward = await submit({type: 'finetune.reward', params: {dataset: 'ring',
    n_unlabelled: 1000, n_labelled: 100, train: {steps: 200, hidden: [32, 32], batch: 64},
    n_per_target: 100, steps: 20, targets: [0, 1]}});
  const dxmi = await submit({type: 'finetune.dxmi', model: 'eight_gaussians', params: {iters: 40,
    eval_every: 20, n_eval: 100, batch: 64, warmup: 10}});

  await view(page, D.url, 'train/' + train);
  const loss = await seriesOf(page, 'train-loss', 'training loss', 20);
  assert.ok(loss.series[0].points.every(([s, l]) => s > 0 && l > 0), 'the loss curve: 20 points');
  await page.locator('.job-panel .state-succeeded').first().waitFor({timeout: 30000});
  await shot(page, 'train-job');

  await view(page, D.url, 'reward/' + reward);
  const achieved = await seriesOf(page, 'reward-achieved', 'achieved (reward model)', 2, 60000);
  assert.ok(achieved.series.some((s) => s.label === 'achieved (true reward)'), 'ring knows its reward');
  await layerOf(page, 'reward-samples-1', 'samples', 100);
  await shot(page, 'reward-job');

  await view(page, D.url, 'dxmi/' + dxmi);
  const sw = await seriesOf(page, 'dxmi-sw2', 'SW2', 3, 60000);
  assert.deepEqual(sw.series.map((s) => s.label), ['SW2', 'floor']);
  await layerOf(page, 'dxmi-parent', 'parent', 100);
  const heat = await plotWhen(page, 'dxmi-energy',
      (id) => window.__plots[id] && window.__plots[id].nx === 64, 'dxmi-energy');
  assert.ok(Number.isFinite(heat.min) && heat.max > heat.min, 'the energy map has a range');
  /* anomaly scores of an uploaded CSV: a point on a mode and one far away */
  await page.setInputFiles('#scores-file', {name: 'points.csv', mimeType: 'text/csv',
    buffer: Buffer.from('x0,x1\n2.83,0\n0,2.83\n40,40\n')});
  await page.locator('table:has(caption:text-is("Scores (the first 3 rows)")) tbody tr')
    .nth(2).waitFor();
  const scores = await layerOf(page, 'dxmi-scores', 'inliers');
  assert.equal(scores.layers.reduce((n, l) => n + l.n, 0), 3);
  await shot(page, 'dxmi-job');
  assert.deepEqual(page.errors, [], 'console errors');
});

test('a potential with the HJB regulariser, from the train form: residual curve and evaluation', async () => {
  const form = '#train-form';
  await view(page, D.url, 'train');
  await page.click(`${form} details.group summary >> text=Potential and HJB regulariser`);
  /* the regulariser on an eps network: 422 at /params/hjb, shown at the hjb field */
  await fill(page, form, 'hjb', 'on');
  await page.click(`${form} button[type=submit]`);
  const hjbErr = page.locator(`${form} [data-field="hjb"] .field-error`);
  await hjbErr.waitFor({state: 'visible'});
  assert.match(await hjbErr.innerText(), /potential/);
  /* an option's error names /params/hjb/<option>: shown at that option */
  await fill(page, form, 'architecture', 'potential');
  await fill(page, form, 'hjb.frac_points', 2);
  await page.click(`${form} button[type=submit]`);
  const fracErr = page.locator(`${form} [data-field="hjb.frac_points"] .field-error`);
  await fracErr.waitFor({state: 'visible'});
  assert.equal(await hjbErr.innerText(), '');
  page.errors.length = 0; /* the two 422s */
  await fill(page, form, 'hjb.frac_points', 0.25);
  for (const [k, v] of Object.entries({dataset: 'two_moons', steps: 400, hidden: '32, 32',
    batch: 64})) {
    await fill(page, form, k, v);
  }
  await page.click(`${form} button[type=submit]`);
  await page.waitForURL(/#\/train\/job-/);
  const res = await seriesOf(page, 'train-hjb', 'HJB residual RMS', 10, 60000);
  assert.ok(res.series[0].points.every(([s, r]) => s > 0 && r > 0), 'residual points');
  const evaluation = page.locator('table.evaluation');
  await evaluation.waitFor({timeout: 60000});
  assert.match(await evaluation.innerText(), /SW2[\s\S]*NLL[\s\S]*HJB residual/);
  await shot(page, 'train-potential');
  assert.deepEqual(page.errors, [], 'console errors');
});

test('a dataset uploaded with the form is previewed; a malformed one is refused at the file', async () => {
  await view(page, D.url, 'datasets');
  const rows = Array.from({length: 300}, (_, i) => `${Math.cos(i / 10)},${Math.sin(i / 10)}`);
  await fill(page, '#dataset-upload', 'id', 'web-circle');
  await page.setInputFiles('#dataset-upload [data-field="file"] input', {name: 'circle.csv',
    mimeType: 'text/csv', buffer: Buffer.from('x0,x1\n' + rows.join('\n') + '\n')});
  await page.click('#dataset-upload button[type=submit]');
  await page.waitForURL(/#\/datasets\/web-circle$/);
  const preview = await layerOf(page, 'dataset-preview', 'rows', 300);
  assert.ok(preview.bounds.x[0] < -1 && preview.bounds.x[1] > 1);
  await view(page, D.url, 'datasets');
  await fill(page, '#dataset-upload', 'id', 'web-bad');
  await page.setInputFiles('#dataset-upload [data-field="file"] input', {name: 'bad.csv',
    mimeType: 'text/csv', buffer: Buffer.from('x0,x1\n1,2\n3,oops\n')});
  await page.click('#dataset-upload button[type=submit]');
  const err = page.locator('#dataset-upload [data-field="file"] .field-error');
  await err.waitFor({state: 'visible'});
  assert.match(await err.innerText(), /line 3/);
  assert.deepEqual(page.errors.filter((e) => !/status of 422/.test(e)), []);
  page.errors.length = 0;
});

test('with API keys the page asks for the key, then works', async () => {
  const K = await startDaemon({MANIFOLD_API_KEYS_TEXT: `tester read,sample,finetune ${TOKEN}\n`});
  const p = await newPage();
  await p.goto(K.url + '/#/models');
  await p.locator('#banner').waitFor({state: 'visible'});
  assert.match(await p.locator('#banner').innerText(), /API key/);
  assert.equal(await p.evaluate(() => document.activeElement.id), 'api-key', 'the key field has focus');
  await shot(p, 'api-key-asked');
  await p.fill('#api-key', TOKEN);
  await p.click('#key-form button[type=submit]');
  await p.locator('table.models tbody td:first-child a:text-is("eight_gaussians")').waitFor();
  assert.equal(await p.locator('#banner').isVisible(), false);
  /* sampling with the key */
  await view(p, K.url, 'sample?model=two_moons');
  await fill(p, '#sample-form', 'n', 300);
  await p.click('#sample-form button[type=submit]');
  await layerOf(p, 'sample-plot', 'samples', 300);
  const api = p.requests.filter((q) => new URL(q.url()).pathname.startsWith('/v1/'));
  const withKey = api.filter((q) => q.headers().authorization === 'Bearer ' + TOKEN);
  assert.ok(withKey.length >= 3, 'API calls carry the bearer token');
  const pageFiles = p.requests.filter((q) => /\/web\//.test(q.url()) && q.headers().authorization);
  assert.deepEqual(pageFiles.map((q) => q.url()), [], 'the page\'s own files need no key');
  /* the key is kept for this tab only, and can be forgotten */
  assert.equal(await p.evaluate(() => sessionStorage.getItem('manifold.apiKey')), TOKEN);
  await p.click('#key-forget');
  await p.locator('#banner').waitFor({state: 'visible'});
  assert.equal(await p.evaluate(() => sessionStorage.getItem('manifold.apiKey')), null);
  assert.deepEqual(p.errors.filter((e) => !/status of 401/.test(e)), []);
  assert.deepEqual(p.offLoopback, []);
  await p.context().close();
});
