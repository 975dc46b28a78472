/**
 * The page at `/`: what the service is, where its API is documented, and a
 * run viewer that draws the run's learning curves (training loss, validation
 * loss and accuracy per epoch) as they grow, from the run's event stream, and
 * an agent's versions (live, candidates, their evaluations) with a rollback,
 * its deployment history, its executions of the last day (count and latency
 * per hour), its runs (each one to watch),
 * its latest evaluation (scores, per-class table, most confused pairs) and a
 * search of its memories.
 * Plain HTML, CSS and a script: no build step, no library; the key is kept in
 * the tab's session storage only.
 */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>archon-training</title>
<style>body{font:15px system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}pre{padding:.6rem;overflow:auto}
.bar{height:12px;background:#eee;border-radius:6px}.bar>div{height:12px;background:#3a7;border-radius:6px;width:0}
input{font:inherit;padding:.2rem .4rem;width:20rem}label{margin-right:.5rem}
svg{width:100%;height:auto;background:#fcfcfc;border:1px solid #ddd;border-radius:4px}
.legend span{margin-right:1rem}.k{display:inline-block;width:1rem;height:3px;vertical-align:middle;margin-right:.3rem}
table{border-collapse:collapse}td,th{padding:.15rem .6rem;text-align:right;border-bottom:1px solid #eee}</style></head>
<body><h1>archon-training</h1>
<p>Agent training as base44-style functions: <code>POST /functions/trainAgent</code>, <code>executeAgent</code>,
<code>getTrainingRun</code>, <code>cancelTrainingRun</code>, <code>resumeTrainingRun</code>, … API reference: <a href="/openapi.json">/openapi.json</a>;
a typed client: <code>archon-training/client</code>.</p>
<h2>Watch a run learn</h2>
<form id="form"><label>API key <input id="key" type="password" autocomplete="off" aria-label="API key"></label>
<label>Run <input id="run" placeholder="run_…" aria-label="run id"></label> <button id="go">Watch</button></form>
<p id="status" role="status">—</p>
<div class="bar" aria-hidden="true"><div id="fill"></div></div>
<figure><svg id="curves" viewBox="0 0 640 260" role="img" aria-label="learning curves"></svg>
<figcaption class="legend"><span><i class="k" style="background:#c44"></i>training loss</span><span><i class="k" style="background:#e90"></i>validation loss</span><span><i class="k" style="background:#27a"></i>validation accuracy (right axis)</span></figcaption></figure>
<table id="epochs"><thead><tr><th>epoch</th><th>train loss</th><th>valid loss</th><th>valid acc</th></tr></thead><tbody></tbody></table>
<h2>An agent's versions</h2>
<form id="agentForm"><label>Agent <input id="agent" placeholder="agent_id" aria-label="agent id"></label> <button id="show">Show</button></form>
<p id="agentStatus" role="status"></p>
<table id="versions"><thead><tr><th>version</th><th>label</th><th>traffic</th><th>made by</th><th>evaluation</th><th>created</th><th></th></tr></thead><tbody></tbody></table>
<h3>Deployment history</h3>
<table id="deployments"><thead><tr><th>when</th><th>action</th><th>from</th><th>to</th><th>by</th><th style="text-align:left">why</th></tr></thead><tbody></tbody></table>
<h3>Executions, last 24 hours</h3>
<table id="executions"><thead><tr><th>hour</th><th>executions</th><th>latency p50</th><th>latency p95</th></tr></thead><tbody></tbody></table>
<h3>Runs</h3>
<table id="runs"><thead><tr><th>run</th><th>status</th><th>type</th><th>epoch</th><th>best valid acc</th><th>version</th><th>created</th><th></th></tr></thead><tbody></tbody></table>
<h3>Latest evaluation</h3>
<p id="evalStatus">–</p>
<table id="perClass"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead><tbody></tbody></table>
<h4>Most confused</h4>
<table id="confused"><thead><tr><th>expected</th><th>answered</th><th>count</th></tr></thead><tbody></tbody></table>
<h3>Memories</h3>
<form id="memForm"><label>Search <input id="memQuery" placeholder="what the agent remembers about…" aria-label="memory search"></label> <button id="memGo">Search</button></form>
<table id="memories"><thead><tr><th>score</th><th>type</th><th>content</th></tr></thead><tbody></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
$('key').value = sessionStorage.getItem('archon-key') || '';
const fmt = (x, d) => x === null || x === undefined ? '–' : x.toFixed(d);
function draw(run) {
  const es = run.metrics.epochs, W = 640, H = 260, L = 40, R = 40, T = 10, B = 30;
  const maxE = Math.max(1, run.progress.epochs, ...es.map(e => e.epoch));
  const losses = es.flatMap(e => [e.train_loss, e.valid_loss]).filter(v => v !== null);
  const maxL = Math.max(0.1, ...losses);
  const x = (e) => L + (W - L - R) * e / maxE, yl = (v) => T + (H - T - B) * (1 - v / maxL), ya = (v) => T + (H - T - B) * (1 - v);
  const line = (key, y, color) => { const pts = es.filter(e => e[key] !== null).map(e => x(e.epoch).toFixed(1) + ',' + y(e[key]).toFixed(1));
    return pts.length ? '<polyline fill="none" stroke="' + color + '" stroke-width="2" points="' + pts.join(' ') + '"/>' + pts.map(p => '<circle r="2.5" fill="' + color + '" cx="' + p.split(',')[0] + '" cy="' + p.split(',')[1] + '"/>').join('') : ''; };
  let axes = '<line x1="' + L + '" y1="' + (H - B) + '" x2="' + (W - R) + '" y2="' + (H - B) + '" stroke="#999"/>';
  for (let e = 0; e <= maxE; e += Math.max(1, Math.ceil(maxE / 10))) axes += '<text x="' + x(e) + '" y="' + (H - B + 16) + '" font-size="11" text-anchor="middle">' + e + '</text>';
  for (const f of [0, 0.5, 1]) axes += '<text x="' + (L - 4) + '" y="' + (yl(f * maxL) + 4) + '" font-size="11" text-anchor="end">' + (f * maxL).toFixed(2) + '</text>' +
    '<text x="' + (W - R + 4) + '" y="' + (ya(f) + 4) + '" font-size="11">' + (100 * f).toFixed(0) + '%</text>';
  $('curves').innerHTML = axes + line('train_loss', yl, '#c44') + line('valid_loss', yl, '#e90') + line('valid_accuracy', ya, '#27a');
  $('curves').dataset.points = String(es.length);
  $('epochs').tBodies[0].innerHTML = es.map(e => '<tr><td>' + e.epoch + (e.epoch === run.metrics.best_epoch ? ' ←' : '') + '</td><td>' + fmt(e.train_loss, 4) + '</td><td>' + fmt(e.valid_loss, 4) + '</td><td>' + fmt(e.valid_accuracy === null ? null : 100 * e.valid_accuracy, 1) + '</td></tr>').join('');
  $('fill').style.width = (100 * run.progress.fraction).toFixed(1) + '%';
  $('status').textContent = run.status + ' — ' + run.progress.phase + ' epoch ' + run.progress.epoch + '/' + run.progress.epochs + ', step ' + run.progress.step + '/' + run.progress.total_steps +
    (run.metrics.best_valid_accuracy === null ? '' : ', best validation accuracy ' + (100 * run.metrics.best_valid_accuracy).toFixed(1) + '%');
}
async function post(path, body) {
  const key = $('key').value;
  sessionStorage.setItem('archon-key', key);
  const res = await fetch(path, { method: 'POST', headers: { authorization: 'Bearer ' + key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.json();
  if (!res.ok) throw new Error(json.error?.message || res.statusText);
  return json;
}
const call = (fn, body) => post('/functions/' + fn, body);
async function showAgent() {
  const agent = $('agent').value.trim();
  try {
    const list = await call('listVersions', { agent_id: agent });
    $('agentStatus').textContent = agent + ': live version ' + (list.live_version ?? 'none') + ', ' + list.versions.length + ' version(s)';
    $('agentStatus').dataset.live = String(list.live_version ?? '');
    $('versions').tBodies[0].innerHTML = list.versions.map(v => '<tr data-version="' + v.version + '"><td>' + v.version + '</td><td>' + v.label + '</td><td>' + (100 * v.traffic_share).toFixed(0) + '%</td><td>' + v.kind +
      '</td><td>' + (v.evaluation ? Object.entries(v.evaluation).map(([k, x]) => k + ' ' + x.toFixed(3)).join(', ') : '–') + '</td><td>' + v.created_at.slice(0, 19).replace('T', ' ') +
      '</td><td>' + (v.label === 'live' ? '' : '<button data-rollback="' + v.version + '">Make live (roll back)</button>') + '</td></tr>').join('');
    $('deployments').tBodies[0].innerHTML = list.deployments.map(d => '<tr><td>' + d.at.slice(0, 19).replace('T', ' ') + '</td><td>' + esc(d.action) + '</td><td>' + (d.from_version ?? '–') + '</td><td>' + d.to_version +
      '</td><td>' + esc(d.actor) + '</td><td style="text-align:left">' + esc(d.reason).slice(0, 120) + '</td></tr>').join('');
    const latency = await call('getMetrics', { name: 'latency_ms', agent_id: agent, bucket: '1h' });
    $('executions').tBodies[0].innerHTML = latency.buckets.filter(b => b.count > 0).map(b => '<tr><td>' + b.start.slice(0, 16).replace('T', ' ') + '</td><td>' + b.count + '</td><td>' + b.p50.toFixed(1) + ' ms</td><td>' + b.p95.toFixed(1) + ' ms</td></tr>').join('');
    const { runs } = await call('listTrainingRuns', { agent_id: agent, limit: 10 });
    $('runs').tBodies[0].innerHTML = runs.map(r => '<tr><td>' + r.run_id + '</td><td>' + r.status + '</td><td>' + esc(r.training_type) + (r.shards > 1 ? ' (' + r.shards + ' shards)' : '') + '</td><td>' + r.epoch + '/' + r.epochs +
      '</td><td>' + (r.best_valid_accuracy === null ? '–' : (100 * r.best_valid_accuracy).toFixed(1) + '%') + '</td><td>' + (r.version ?? '–') + '</td><td>' + r.created_at.slice(0, 19).replace('T', ' ') +
      '</td><td><button data-watch="' + r.run_id + '">Watch</button></td></tr>').join('');
    await showEvaluation(agent);
  } catch (e) { $('agentStatus').textContent = e.message; }
}
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function showEvaluation(agent) {
  const { evaluations } = await call('listEvaluations', { agent_id: agent, limit: 10 });
  const e = evaluations.find((x) => x.status === 'succeeded' && x.report);
  if (!e) { $('evalStatus').textContent = 'no finished evaluation (testAgent)'; return; }
  $('evalStatus').textContent = e.evaluation_id + ' of version ' + e.version + ', ' + e.cases + ' cases: ' + Object.entries(e.report.scores).map(([k, v]) => k + ' ' + v.toFixed(3)).join(', ');
  const acc = e.report.criteria.accuracy?.details;
  $('perClass').tBodies[0].innerHTML = (acc?.per_class ?? []).map((r) => '<tr><td>' + esc(r.class).slice(0, 60) + '</td><td>' + r.precision.toFixed(3) + '</td><td>' + r.recall.toFixed(3) + '</td><td>' + r.f1.toFixed(3) + '</td><td>' + r.support + '</td></tr>').join('');
  $('confused').tBodies[0].innerHTML = (acc?.most_confused ?? []).map((r) => '<tr><td>' + esc(r.expected).slice(0, 60) + '</td><td>' + esc(r.answered).slice(0, 60) + '</td><td>' + r.count + '</td></tr>').join('');
}
$('memForm').onsubmit = async (ev) => {
  ev.preventDefault();
  let json;
  try {
    json = await post('/entities/AgentMemory/search', { agent_id: $('agent').value.trim(), query: $('memQuery').value, top_k: 10 });
  } catch (e) { $('agentStatus').textContent = e.message; return; }
  $('memories').tBodies[0].innerHTML = json.results.map((r) => '<tr><td>' + r.score.toFixed(3) + '</td><td>' + r.memory.memory_type + '</td><td style="text-align:left">' + esc(JSON.stringify(r.memory.content)).slice(0, 160) + '</td></tr>').join('');
};
$('agentForm').onsubmit = (ev) => { ev.preventDefault(); showAgent(); };
$('runs').onclick = (ev) => {
  const id = ev.target.dataset?.watch;
  if (!id) return;
  $('run').value = id;
  $('form').requestSubmit();
  window.scrollTo(0, 0);
};
$('versions').onclick = async (ev) => {
  const to = ev.target.dataset?.rollback;
  if (!to) return;
  try {
    const r = await call('rollbackAgent', { agent_id: $('agent').value.trim(), to_version: Number(to), reason: 'rolled back from the dashboard' });
    await showAgent();
    $('agentStatus').textContent += ' — rolled back from version ' + r.previous_version + ' to ' + r.live_version;
  } catch (e) { $('agentStatus').textContent = e.message; }
};
$('form').onsubmit = async (ev) => {
  ev.preventDefault();
  const key = $('key').value, id = $('run').value.trim();
  sessionStorage.setItem('archon-key', key);
  let lastId = '', done = false, retry = 1000;
  // A stream closes after a while; reconnect with the last event id until the run is done.
  while (!done) {
    const headers = { authorization: 'Bearer ' + key };
    if (lastId) headers['last-event-id'] = lastId;
    const res = await fetch('/runs/' + encodeURIComponent(id) + '/events', { headers });
    if (!res.ok) { $('status').textContent = (await res.json()).error?.message || res.statusText; return; }
    const reader = res.body.getReader(), decoder = new TextDecoder(); let buf = '';
    for (;;) { const { value, done: end } = await reader.read(); if (end) break; buf += decoder.decode(value, { stream: true });
      let i; while ((i = buf.indexOf('\\n\\n')) >= 0) { const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        const field = (name) => ev.split('\\n').filter(l => l.startsWith(name + ':')).map(l => l.slice(name.length + 1).trim()).join('');
        if (field('retry')) retry = Number(field('retry'));
        const data = field('data'); if (!data) continue;
        lastId = field('id') || lastId; if (field('event') === 'done') done = true;
        draw(JSON.parse(data)); } }
    if (!done) await new Promise(r => setTimeout(r, retry));
  }
};
</script></body></html>`;
}
