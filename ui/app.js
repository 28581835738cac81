// foreman's dashboard: fed by GET /events (read with fetch, so an API key
// can travel in the Authorization header), drawn with uPlot. Plain JS.
'use strict';

const HOUR_MS = 60 * 60 * 1000;
const NEAR_BOUND = 0.8; // of FOREMAN_MAX_WAIT: a queued job this old is marked
const WAIT_BUCKETS = [
  ['<1s', 1], ['1–5s', 5], ['5–30s', 30], ['30s–1m', 60], ['1–5m', 300], ['>5m', Infinity],
];
const ACTIVE = new Set(['queued', 'loading', 'working']);

const model = {
  settings: { keys_required: false, max_wait_seconds: 300 },
  key: sessionStorage.getItem('foreman-key') || '',
  lastEventId: '',
  jobs: new Map(), // id -> {id, state, model, client, kind, priority, created_ms, started_ms}
  worker: { state: 'idle', running_job_id: null },
  progress: { job_id: null, tokens: 0 }, // of the running job's stream
  target: null,
  stats: [], // {t (s), queued, jobs_per_minute}
  loads: [], // {t (ms), model}
  waits: WAIT_BUCKETS.map(() => 0),
};

const $ = (id) => document.getElementById(id);

function authHeaders() {
  return model.key ? { Authorization: 'Bearer ' + model.key } : {};
}

async function api(method, path) {
  const res = await fetch(path, { method, headers: authHeaders() });
  if (res.status === 401) {
    askForKey('The key was refused.');
    throw new Error('unauthorized');
  }
  return res;
}

// -- the key -------------------------------------------------------------------

function askForKey(problem) {
  model.key = '';
  sessionStorage.removeItem('foreman-key');
  stopStream();
  $('dashboard').hidden = true;
  $('forget-key').hidden = true;
  $('key-form').hidden = false;
  $('key-error').textContent = problem || '';
  $('connection').textContent = 'needs a key';
  $('key-input').focus();
}

$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('key-input').value.trim();
  const res = await fetch('/status', { headers: { Authorization: 'Bearer ' + key } });
  if (res.status !== 200) {
    $('key-error').textContent = res.status === 401 ? 'Unknown key.' : 'foreman answered ' + res.status + '.';
    return;
  }
  model.key = key;
  sessionStorage.setItem('foreman-key', key);
  $('key-input').value = '';
  start();
});

$('forget-key').addEventListener('click', () => askForKey(''));

// -- the event stream ------------------------------------------------------------

let streamAbort = null;
let retryTimer = null;

function stopStream() {
  if (streamAbort) streamAbort.abort();
  streamAbort = null;
  clearTimeout(retryTimer);
}

async function openStream() {
  stopStream();
  streamAbort = new AbortController();
  const headers = authHeaders();
  if (model.lastEventId) headers['Last-Event-ID'] = model.lastEventId;
  try {
    // A stream that starts over (no resumable id) opens with the last hour.
    const res = await fetch('/events?history=1', { headers, signal: streamAbort.signal });
    if (res.status === 401) return askForKey('The key was refused.');
    if (!res.ok) throw new Error('GET /events answered ' + res.status);
    $('connection').textContent = 'live';
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        takeFrame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (err) {
    if (err.name === 'AbortError') return;
  }
  $('connection').textContent = 'reconnecting…';
  retryTimer = setTimeout(openStream, 1000);
}

function takeFrame(text) {
  let name = 'message';
  let id = '';
  let data = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('event: ')) name = line.slice(7);
    else if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (id) model.lastEventId = id;
  const payload = JSON.parse(data);
  const handlers = { snapshot: onSnapshot, history: onHistory, job: onJob, worker: onWorker,
                     target: onTarget, stats: onStats, progress: onProgress };
  if (handlers[name]) handlers[name](payload);
  scheduleRender();
}

function remember(job) {
  const known = model.jobs.get(job.id) || {};
  model.jobs.set(job.id, Object.assign(known, job));
}

function fromApi(x) {
  return {
    id: x.id, state: x.state, model: x.model, client: x.client, kind: x.kind,
    priority: x.priority, created_ms: Date.parse(x.created_at),
    started_ms: x.started_at ? Date.parse(x.started_at) : null,
  };
}

async function onSnapshot(snapshot) {
  model.jobs.clear();
  for (const x of snapshot.jobs) remember(fromApi(x));
  const status = snapshot.status;
  if (status.worker.running_job) remember(fromApi(status.worker.running_job));
  model.worker = { state: status.worker.state,
                   running_job_id: status.worker.running_job ? status.worker.running_job.id : null };
  // The snapshot lists the newest jobs; the queue may hold older ones.
  const res = await api('GET', '/jobs?state=queued&limit=200');
  if (res.ok) for (const x of (await res.json()).jobs) remember(fromApi(x));
  scheduleRender();
}

function countWait(seconds) {
  model.waits[WAIT_BUCKETS.findIndex(([, limit]) => seconds < limit)] += 1;
}

// The charts start from the hour the journal holds up to the snapshot; the
// live events carry on from there.
function onHistory(history) {
  model.stats = history.queue.map((x) => ({
    t: Date.parse(x.timestamp) / 1000, queued: x.queued, jobs_per_minute: x.jobs_per_minute,
  }));
  model.loads = history.loads.map((x) => ({ t: Date.parse(x.timestamp), model: x.model }));
  model.waits = WAIT_BUCKETS.map(() => 0);
  for (const ms of history.waits_ms) countWait(ms / 1000);
}

function onJob(event) {
  const t = Date.parse(event.timestamp);
  const job = {
    id: event.job_id, state: event.state, model: event.model, client: event.client,
    kind: event.kind, priority: event.priority, created_ms: Date.parse(event.created_at),
  };
  if ((event.state === 'loading' || event.state === 'working') && event.previous_state === 'queued') {
    job.started_ms = t;
    if (event.attempt === 1) countWait((t - job.created_ms) / 1000);
  }
  if (event.state === 'loading') model.loads.push({ t, model: event.model });
  remember(job);
  if (detailId === event.job_id) showDetail(event.job_id);
}

function onWorker(worker) { model.worker = worker; }
function onProgress(progress) { model.progress = progress; }
function onTarget(target) { model.target = target; }

function onStats(stats) {
  const t = Date.parse(stats.timestamp);
  const queued = stats.queue.by_model.reduce((sum, m) => sum + m.queued, 0);
  model.stats.push({ t: t / 1000, queued, jobs_per_minute: stats.jobs_per_minute });
  const from = (t - HOUR_MS) / 1000;
  while (model.stats.length && model.stats[0].t < from) model.stats.shift();
  while (model.loads.length && model.loads[0].t < t - HOUR_MS) model.loads.shift();
}

// -- rendering -------------------------------------------------------------------

let renderPending = false;
function scheduleRender() {
  if (renderPending) return;
  renderPending = true;
  requestAnimationFrame(() => {
    renderPending = false;
    render();
  });
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) node.append(child);
  return node;
}

function age(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm ' + (s % 60) + 's';
  return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm';
}

function render() {
  renderNow();
  renderQueue();
  renderJobs();
  renderCharts();
}

function renderNow() {
  const target = model.target;
  $('target-state').textContent = !target ? '–'
    : target.url + (target.reachable ? ' (reachable)' : ' (unreachable: ' + target.error + ')');
  $('worker-state').textContent = model.worker.state;
  const running = model.jobs.get(model.worker.running_job_id);
  const tokens = running && model.progress.job_id === running.id
    ? ' · ' + model.progress.tokens + ' tokens' : '';
  $('running-job').textContent = !running ? 'none'
    : 'job ' + running.id + ' · ' + running.model + ' · ' + (running.client || 'anonymous')
      + ' · ' + (running.started_ms ? age(running.started_ms) : '–') + tokens;
  const list = $('residents');
  list.replaceChildren();
  for (const name of (target ? target.residents : [])) {
    const pinned = target.embed_model === name;
    list.append(el('li', { className: pinned ? 'pinned' : '',
                           textContent: name + (pinned ? ' (pinned embedder)' : '') }));
  }
}

function cancelButton(job) {
  const button = el('button', { type: 'button', textContent: 'Cancel' });
  button.setAttribute('aria-label', 'Cancel job ' + job.id);
  button.addEventListener('click', async (event) => {
    event.stopPropagation();
    button.disabled = true;
    const res = await api('DELETE', '/jobs/' + job.id);
    if (res.ok) remember(fromApi(await res.json()));
    scheduleRender();
  });
  return button;
}

function jobRow(job, cells) {
  const row = el('tr', { tabIndex: 0 });
  for (const cell of cells) row.append(el('td', {}, cell));
  row.addEventListener('click', () => showDetail(job.id));
  row.addEventListener('keydown', (event) => {
    if (event.key === 'Enter') showDetail(job.id);
  });
  row.dataset.jobId = job.id;
  return row;
}

function stateCell(state) {
  return el('span', { className: 'state state-' + state, textContent: state });
}

function renderQueue() {
  const bound = model.settings.max_wait_seconds * 1000;
  const now = Date.now();
  const queued = [...model.jobs.values()].filter((j) => j.state === 'queued');
  const overdue = (j) => now - j.created_ms >= bound;
  queued.sort((a, b) => (overdue(b) - overdue(a)) || (b.priority - a.priority) || (a.id - b.id));
  const byModel = new Map();
  queued.forEach((job, position) => {
    if (!byModel.has(job.model)) byModel.set(job.model, []);
    byModel.get(job.model).push({ job, position: position + 1 });
  });
  const groups = $('queue-groups');
  groups.replaceChildren();
  if (!queued.length) groups.append(el('p', { className: 'hint', textContent: 'Nothing queued.' }));
  for (const [name, entries] of byModel) {
    const body = el('tbody');
    for (const { job, position } of entries) {
      const waited = now - job.created_ms;
      const row = jobRow(job, [String(position), String(job.id), String(job.priority),
                               job.client || '–', age(job.created_ms), cancelButton(job)]);
      if (waited >= bound) row.className = 'past-bound';
      else if (waited >= NEAR_BOUND * bound) row.className = 'near-bound';
      body.append(row);
    }
    const head = el('thead', {}, el('tr', {}, ...['Position', 'ID', 'Priority', 'Client', 'Age', '']
      .map((h) => el('th', { scope: 'col', textContent: h }))));
    groups.append(el('h3', { textContent: name + ' (' + entries.length + ')' }),
                  el('div', { className: 'table-wrap' }, el('table', {}, head, body)));
  }
}

function renderJobs() {
  const state = $('filter-state').value;
  const modelFilter = $('filter-model').value.trim();
  const client = $('filter-client').value.trim();
  const jobs = [...model.jobs.values()]
    .filter((j) => (!state || j.state === state)
      && (!modelFilter || j.model.startsWith(modelFilter))
      && (!client || (j.client || '').includes(client)))
    .sort((a, b) => b.id - a.id)
    .slice(0, 100);
  const body = $('jobs-table').tBodies[0];
  body.replaceChildren(...jobs.map((job) => jobRow(job, [
    String(job.id), stateCell(job.state), job.model, job.client || '–', job.kind,
    age(job.created_ms) + ' ago', ACTIVE.has(job.state) ? cancelButton(job) : '',
  ])));
  const models = new Set([...model.jobs.values()].map((j) => j.model));
  $('models-seen').replaceChildren(...[...models].map((m) => el('option', { value: m })));
}

for (const id of ['filter-state', 'filter-model', 'filter-client'])
  $(id).addEventListener('input', scheduleRender);
$('filters').addEventListener('submit', (event) => event.preventDefault());

// -- job detail ------------------------------------------------------------------

let detailId = null;

async function showDetail(id) {
  detailId = id;
  const res = await api('GET', '/jobs/' + id);
  if (!res.ok) return;
  const job = await res.json();
  const facts = $('detail-facts');
  facts.replaceChildren();
  for (const name of ['id', 'state', 'kind', 'model', 'client', 'priority', 'attempt',
                      'max_attempts', 'error', 'state_webhook_url', 'created_at',
                      'started_at', 'finished_at', 'updated_at', 'queue_position']) {
    if (job[name] === undefined || job[name] === null || job[name] === '') continue;
    facts.append(el('dt', { textContent: name }), el('dd', { textContent: String(job[name]) }));
  }
  $('detail-title').textContent = 'Job ' + job.id;
  $('detail-payload').textContent = JSON.stringify(job.payload, null, 2);
  $('detail-result').textContent = job.result === null || job.result === undefined
    ? '–' : JSON.stringify(job.result, null, 2);
  const artifacts = $('detail-artifacts');
  artifacts.replaceChildren();
  const listed = await api('GET', '/jobs/' + id + '/artifacts');
  if (listed.ok)
    for (const a of (await listed.json()).artifacts) {
      const button = el('button', { type: 'button', textContent: 'Download ' + a.name + ' (' + a.size + ' bytes)' });
      button.addEventListener('click', () => download(a));
      artifacts.append(el('li', {}, button));
    }
  await showDeliveries(id, job);
  const section = $('detail');
  const opening = section.hidden;
  section.hidden = false;
  if (opening) section.focus();
}

async function showDeliveries(id, job) {
  const res = await api('GET', '/jobs/' + id + '/webhooks');
  const deliveries = res.ok ? (await res.json()).deliveries : [];
  const time = (text) => new Date(text).toLocaleTimeString();
  $('detail-webhooks').tBodies[0].replaceChildren(...deliveries.map((d) => el('tr', {}, ...[
    String(d.event_id), d.state, String(d.attempt),
    d.outcome + (d.next_attempt_at ? ' (next at ' + time(d.next_attempt_at) + ')' : ''),
    d.http_status ? String(d.http_status) : d.error, time(d.at),
  ].map((text) => el('td', { textContent: text })))));
  $('detail-webhooks-wrap').hidden = deliveries.length === 0;
  $('detail-webhooks-none').hidden = deliveries.length > 0;
  $('detail-webhooks-none').textContent = job.state_webhook_url
    ? 'No delivery attempted yet.' : 'This job has no webhook.';
}

// Artifacts may need the key, which a plain link cannot send.
async function download(artifact) {
  const res = await api('GET', artifact.url);
  if (!res.ok) return;
  const link = el('a', { href: URL.createObjectURL(await res.blob()), download: artifact.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

$('detail-close').addEventListener('click', () => {
  detailId = null;
  $('detail').hidden = true;
});

// -- charts ----------------------------------------------------------------------

const charts = {};
let loadModels = '';

function chartWidth(id) {
  return Math.max(240, $(id).clientWidth);
}

function makeThroughputChart() {
  return new uPlot({
    width: chartWidth('chart-throughput'), height: 200,
    series: [{}, { label: 'queued', stroke: '#0b5cad', width: 2 },
             { label: 'jobs/min', stroke: '#1a7f37', width: 2 }],
    axes: [{}, { label: 'jobs' }],
  }, [[], [], []], $('chart-throughput'));
}

const palette = ['#0b5cad', '#b42318', '#1a7f37', '#8a4baf', '#c76b00', '#0f7b7b', '#555'];

function makeLoadsChart(models) {
  $('chart-loads').replaceChildren();
  return new uPlot({
    width: chartWidth('chart-loads'), height: 200,
    series: [{}, ...models.map((m, i) => ({
      label: m, stroke: palette[i % palette.length], width: 2,
      points: { show: true, size: 8, fill: palette[i % palette.length] },
    }))],
    axes: [{}, { label: 'loads/min' }],
  }, [[], ...models.map(() => [])], $('chart-loads'));
}

function makeWaitsChart() {
  return new uPlot({
    width: chartWidth('chart-waits'), height: 200,
    scales: { x: { time: false, range: [-0.5, WAIT_BUCKETS.length - 0.5] } },
    series: [{}, { label: 'jobs', fill: '#0b5cad88', stroke: '#0b5cad',
                   paths: uPlot.paths.bars({ size: [0.7, 60] }) }],
    axes: [{ splits: () => WAIT_BUCKETS.map((_, i) => i),
             values: (u, splits) => splits.map((i) => WAIT_BUCKETS[i][0]) },
           { label: 'jobs' }],
  }, [WAIT_BUCKETS.map((_, i) => i), model.waits.slice()], $('chart-waits'));
}

// Loads per minute of each model over the last hour, one point per minute.
function loadsByMinute(models) {
  const now = Date.now();
  const first = Math.floor((now - HOUR_MS) / 60000);
  // One minute more than the hour, left empty, keeps this minute's points
  // off the chart's edge.
  const minutes = Array.from({ length: 62 }, (_, i) => (first + i) * 60);
  const counts = models.map(() => new Array(62).fill(null));
  for (const load of model.loads) {
    const slot = Math.floor(load.t / 60000) - first;
    if (slot < 0 || slot > 60) continue;
    const series = counts[models.indexOf(load.model)];
    series[slot] = (series[slot] || 0) + 1;
  }
  return [minutes, ...counts];
}

function renderCharts() {
  if (!charts.throughput) charts.throughput = makeThroughputChart();
  if (!charts.waits) charts.waits = makeWaitsChart();
  const models = [...new Set(model.loads.map((l) => l.model))].sort();
  if (!charts.loads || models.join('|') !== loadModels) {
    if (charts.loads) charts.loads.destroy();
    loadModels = models.join('|');
    charts.loads = makeLoadsChart(models);
  }
  charts.throughput.setData([model.stats.map((s) => s.t), model.stats.map((s) => s.queued),
                             model.stats.map((s) => s.jobs_per_minute)]);
  charts.loads.setData(loadsByMinute(models));
  charts.waits.setData([WAIT_BUCKETS.map((_, i) => i), model.waits.slice()]);
}

window.addEventListener('resize', () => {
  for (const [name, chart] of Object.entries(charts))
    chart.setSize({ width: chartWidth('chart-' + name), height: 200 });
});

// -- start -----------------------------------------------------------------------

function start() {
  $('key-form').hidden = true;
  $('dashboard').hidden = false;
  $('forget-key').hidden = !model.settings.keys_required;
  openStream();
}

// Ages and elapsed times move on between events.
setInterval(() => { if (!$('dashboard').hidden) scheduleRender(); }, 1000);

(async () => {
  const res = await fetch('/ui/settings.json');
  model.settings = await res.json();
  if (model.settings.keys_required && !model.key) askForKey('');
  else start();
})();
