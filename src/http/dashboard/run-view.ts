/** The run section: learning curves, progress, plan and timing, live from the run's event stream (reconnecting with Last-Event-ID). */
export const RUN_VIEW = String.raw`const secs = (ms) => ms === null || ms === undefined ? '–' : ms < 10000 ? (ms / 1000).toFixed(2) + ' s' : ms < 600000 ? (ms / 1000).toFixed(0) + ' s' : (ms / 60000).toFixed(1) + ' min';
function planText(p) {
  const parts = [p.n_train + ' training rows, ' + p.n_valid + ' validation rows', p.epochs + ' epochs in ' + p.total_steps + ' queue steps'];
  if (p.shards > 1) parts.push(p.shards + ' shards a round' + (p.partitions ? ' (' + Math.min(...p.partitions) + '–' + Math.max(...p.partitions) + ' training rows each)' : ''));
  if (p.members > 1) parts.push('an ensemble of ' + p.members);
  if (p.refit) parts.push('then a refit on every row');
  if (p.memory) parts.push('a step needs ~' + p.memory.peak_mb + ' of its ' + p.memory.budget_mb + ' MB');
  return 'Plan: ' + parts.join(', ');
}
function timingText(t) {
  const parts = ['elapsed ' + secs(t.elapsed_ms), t.steps_committed + ' steps committed'];
  if (t.mean_step_ms !== null) parts.push(secs(t.mean_step_ms) + ' a step');
  if (t.max_step_ms !== null && t.max_step_ms !== undefined) parts.push('the longest ' + secs(t.max_step_ms));
  if (t.rounds) parts.push('critical path ' + secs(t.rounds.critical_path_ms) + ' (shards ' + secs(t.rounds.shard_ms) + ' in all, the longest ' + secs(t.rounds.max_shard_ms) + ')');
  return 'Timing: ' + parts.join(', ') + '; started ' + when(t.started_at) + (t.finished_at ? ', finished ' + when(t.finished_at) : '');
}
function draw(run) {
  const es = run.metrics.epochs;
  const maxE = Math.max(1, run.progress.epochs, ...es.map((e) => e.epoch));
  const maxL = Math.max(0.1, ...es.flatMap((e) => [e.train_loss, e.valid_loss]).filter((v) => v !== null));
  const series = (key) => es.filter((e) => e[key] !== null).map((e) => [e.epoch, e[key]]);
  const ticks = [];
  for (let e = 0; e <= maxE; e += Math.max(1, Math.ceil(maxE / 10))) ticks.push([e, String(e)]);
  chart($('curves'), {
    x: [0, maxE], ticks,
    left: { max: maxL, label: (v) => v.toFixed(2) },
    right: { max: 1, label: (v) => (100 * v).toFixed(0) + '%' },
    lines: [{ points: series('train_loss'), color: '#c44' }, { points: series('valid_loss'), color: '#e90' }, { points: series('valid_accuracy'), color: '#27a', right: true }],
  });
  $('curves').dataset.points = String(es.length);
  fill('epochs', es.map((e) => '<tr>' + td(e.epoch + (e.epoch === run.metrics.best_epoch ? ' ←' : '')) + td(fmt(e.train_loss, 4)) + td(fmt(e.valid_loss, 4)) + td(pct(e.valid_accuracy)) + '</tr>'));
  $('fill').style.width = (100 * run.progress.fraction).toFixed(1) + '%';
  $('status').textContent = run.status + ' — ' + run.progress.phase + ' epoch ' + run.progress.epoch + '/' + run.progress.epochs + ', step ' + run.progress.step + '/' + run.progress.total_steps +
    (run.metrics.best_valid_accuracy === null ? '' : ', best validation accuracy ' + pct(run.metrics.best_valid_accuracy)) + (run.error ? ' — ' + run.error : '');
  $('plan').textContent = planText(run.plan) + (run.dataset_ids ? '; federated: one shard for each of ' + run.dataset_ids.join(', ') : '');
  $('timing').textContent = timingText(run.timing);
}
let watching = 0;
$('form').onsubmit = async (ev) => {
  ev.preventDefault();
  const id = $('run').value.trim(), mine = ++watching;
  let lastId = '', done = false, retry = 1000;
  // A stream closes after a while; reconnect with the last event id until the run is done (or another run is watched).
  while (!done && mine === watching) {
    const headers = { authorization: 'Bearer ' + apiKey() };
    if (lastId) headers['last-event-id'] = lastId;
    const res = await fetch('/runs/' + encodeURIComponent(id) + '/events', { headers });
    if (!res.ok) { $('status').textContent = (await res.json()).error?.message || res.statusText; return; }
    const reader = res.body.getReader(), decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      if (mine !== watching) { reader.cancel(); return; }
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const field = (name) => event.split('\n').filter((l) => l.startsWith(name + ':')).map((l) => l.slice(name.length + 1).trim()).join('');
        if (field('retry')) retry = Number(field('retry'));
        const data = field('data');
        if (!data) continue;
        lastId = field('id') || lastId;
        if (field('event') === 'done') done = true;
        draw(JSON.parse(data));
      }
    }
    if (!done) await new Promise((r) => setTimeout(r, retry));
  }
};`;
