/** Feedback and metrics over time for an agent (getMetrics): mean, p95 and count per bucket, charted and tabled. */
export const SERIES_VIEW = String.raw`const RANGES = { '24h': [86400000, '1h'], '7d': [7 * 86400000, '6h'], '30d': [30 * 86400000, '1d'] };
async function showSeries(agent) {
  const name = $('seriesCustom').value.trim() || $('seriesName').value;
  const [span, bucket] = RANGES[$('seriesRange').value];
  const to = Date.now(), from = to - span;
  const s = await call('getMetrics', { name, agent_id: agent, bucket, from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  const buckets = s.buckets.filter((b) => b.count > 0);
  const total = buckets.reduce((n, b) => n + b.count, 0);
  $('seriesStatus').textContent = name + ': ' + total + ' value(s) in ' + buckets.length + ' bucket(s) of ' + bucket + ' — ' + s.source;
  const at = (b) => Date.parse(b.start) + s.bucket_ms / 2;
  const label = (t) => { const d = new Date(t).toISOString(); return span > 86400000 ? d.slice(5, 10) : d.slice(11, 16); };
  const ticks = [];
  for (let i = 0; i <= 6; i++) ticks.push([from + i * span / 6, label(from + i * span / 6)]);
  const top = Math.max(1e-9, ...buckets.map((b) => Math.max(b.p95, b.mean)));
  chart($('seriesChart'), {
    x: [from, to], ticks,
    left: { max: top, label: (v) => Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2) },
    right: { max: Math.max(1, ...buckets.map((b) => b.count)), label: (v) => v.toFixed(0) },
    lines: [{ points: buckets.map((b) => [at(b), b.mean]), color: '#27a' }, { points: buckets.map((b) => [at(b), b.p95]), color: '#c44' }, { points: buckets.map((b) => [at(b), b.count]), color: '#999', right: true }],
  });
  $('seriesChart').dataset.points = String(buckets.length);
  fill('series', buckets.map((b) => '<tr>' + td(when(b.start).slice(0, 16)) + td(b.count) + td(b.mean.toFixed(3)) + td(b.p50.toFixed(3)) + td(b.p95.toFixed(3)) + '</tr>'));
}
$('seriesForm').onsubmit = (ev) => { ev.preventDefault(); showSeries(agentId()).catch((e) => { $('seriesStatus').textContent = e.message; }); };`;
