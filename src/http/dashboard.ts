/** A small page: what the service is, where its API is documented, and a run viewer. */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>archon-training</title>
<style>body{font:15px system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}pre{padding:.6rem;overflow:auto}
.bar{height:12px;background:#eee;border-radius:6px}.bar>div{height:12px;background:#3a7;border-radius:6px;width:0}
input{font:inherit;padding:.2rem .4rem;width:22rem}</style></head>
<body><h1>archon-training</h1>
<p>Agent training as base44-style functions: <code>POST /functions/trainAgent</code>, <code>executeAgent</code>,
<code>getTrainingRun</code>, <code>cancelTrainingRun</code>, <code>resumeTrainingRun</code>. API reference: <a href="/openapi.json">/openapi.json</a>.</p>
<h2>Follow a run</h2>
<p><input id="key" placeholder="API key" type="password"> <input id="run" placeholder="run_…"> <button id="go">Watch</button></p>
<div class="bar"><div id="fill"></div></div><pre id="out">—</pre>
<script>
document.getElementById('go').onclick = async () => {
  const key = document.getElementById('key').value, id = document.getElementById('run').value.trim();
  const out = document.getElementById('out');
  let lastId = '', done = false, retry = 1000;
  // A stream closes after a while; reconnect with the last event id until the run is done.
  while (!done) {
    const headers = { authorization: 'Bearer ' + key };
    if (lastId) headers['last-event-id'] = lastId;
    const res = await fetch('/runs/' + id + '/events', { headers });
    if (!res.ok) { out.textContent = await res.text(); return; }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader(); let buf = '';
    for (;;) { const { value, done: end } = await reader.read(); if (end) break; buf += value;
      let i; while ((i = buf.indexOf('\\n\\n')) >= 0) { const ev = buf.slice(0, i); buf = buf.slice(i + 2);
        const field = (name) => ev.split('\\n').filter(l => l.startsWith(name + ':')).map(l => l.slice(name.length + 1).trim()).join('');
        if (field('retry')) retry = Number(field('retry'));
        const data = field('data'); if (!data) continue;
        lastId = field('id') || lastId; if (field('event') === 'done') done = true;
        const run = JSON.parse(data);
        document.getElementById('fill').style.width = (100 * run.progress.fraction).toFixed(1) + '%';
        out.textContent = run.status + '  ' + run.progress.phase + ' epoch ' + run.progress.epoch + '/' + run.progress.epochs + '\\n' +
          run.metrics.epochs.map(e => 'epoch ' + e.epoch + '  valid_acc ' + (e.valid_accuracy ?? '-') + '  valid_loss ' + (e.valid_loss ?? '-')).join('\\n'); } }
    if (!done) await new Promise(r => setTimeout(r, retry));
  }
};
</script></body></html>`;
}
