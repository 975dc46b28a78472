/** The agents list and one agent: versions with a rollback, deployment history, runs (each to watch), latest evaluation, memory search. */
export const AGENT_VIEW = String.raw`const agentId = () => $('agent').value.trim();
async function listAgents() {
  try {
    const agents = [];
    let after;
    do {
      const page = await call('listAgents', after ? { limit: 100, after } : { limit: 100 });
      agents.push(...page.agents);
      after = page.next_after;
    } while (after && agents.length < 500);
    $('agentsStatus').textContent = agents.length + ' agent(s)' + (after ? ' (the first 500)' : '');
    fill('agents', agents.map((a) => '<tr>' + td(esc(a.agent_id), 'l') + td(a.live_version ?? '–') + td(a.candidates) + td(a.versions) +
      td(a.traffic_split ? a.traffic_split.kind + ': version ' + a.traffic_split.treatment_version + ' at ' + (100 * a.traffic_split.share).toFixed(0) + '%' : '–', 'l') +
      td(when(a.updated_at)) + td('<button data-agent="' + esc(a.agent_id) + '">Show</button>') + '</tr>'));
  } catch (e) { $('agentsStatus').textContent = e.message; }
}
$('connect').onsubmit = (ev) => { ev.preventDefault(); listAgents(); };
$('agents').onclick = (ev) => {
  const id = ev.target.dataset?.agent;
  if (!id) return;
  $('agent').value = id;
  showAgent();
  $('agent-h').scrollIntoView();
};
async function showVersions(agent) {
  const list = await call('listVersions', { agent_id: agent });
  $('agentStatus').textContent = agent + ': live version ' + (list.live_version ?? 'none') + ', ' + list.versions.length + ' version(s)';
  $('agentStatus').dataset.live = String(list.live_version ?? '');
  fill('versions', list.versions.map((v) => '<tr data-version="' + v.version + '">' + td(v.version) + td(v.label) + td((100 * v.traffic_share).toFixed(0) + '%') + td(esc(v.kind)) +
    td(v.evaluation ? Object.entries(v.evaluation).map(([k, x]) => esc(k) + ' ' + x.toFixed(3)).join(', ') : '–') + td(when(v.created_at)) +
    td(v.label === 'live' ? '' : '<button data-rollback="' + v.version + '">Make live (roll back)</button>') + '</tr>'));
  fill('deployments', list.deployments.map((d) => '<tr>' + td(when(d.at)) + td(esc(d.action)) + td(d.from_version ?? '–') + td(d.to_version) + td(esc(d.actor)) + td(esc(d.reason).slice(0, 120), 'l') + '</tr>'));
}
async function showRuns(agent) {
  const { runs } = await call('listTrainingRuns', { agent_id: agent, limit: 10 });
  fill('runs', runs.map((r) => '<tr>' + td(r.run_id) + td(r.status) + td(esc(r.training_type) + (r.shards > 1 ? ' (' + r.shards + ' shards)' : '')) + td(r.epoch + '/' + r.epochs) +
    td(pct(r.best_valid_accuracy)) + td(r.version ?? '–') + td(when(r.created_at)) + td('<button data-watch="' + r.run_id + '">Watch</button>') + '</tr>'));
}
async function showEvaluation(agent) {
  const { evaluations } = await call('listEvaluations', { agent_id: agent, limit: 10 });
  const e = evaluations.find((x) => x.status === 'succeeded' && x.report);
  if (!e) { $('evalStatus').textContent = 'no finished evaluation (testAgent)'; fill('perClass', []); fill('confused', []); return; }
  $('evalStatus').textContent = e.evaluation_id + ' of version ' + e.version + ', ' + e.cases + ' cases: ' + Object.entries(e.report.scores).map(([k, v]) => esc(k) + ' ' + v.toFixed(3)).join(', ');
  const acc = e.report.criteria.accuracy?.details;
  fill('perClass', (acc?.per_class ?? []).map((r) => '<tr>' + td(esc(r.class).slice(0, 60), 'l') + td(r.precision.toFixed(3)) + td(r.recall.toFixed(3)) + td(r.f1.toFixed(3)) + td(r.support) + '</tr>'));
  fill('confused', (acc?.most_confused ?? []).map((r) => '<tr>' + td(esc(r.expected).slice(0, 60), 'l') + td(esc(r.answered).slice(0, 60), 'l') + td(r.count) + '</tr>'));
}
// Each section on its own: one the key may not read (a scope it lacks) says so and the others still show.
async function showAgent() {
  const agent = agentId();
  const sections = [[showVersions, 'agentStatus'], [showRuns, 'agentStatus'], [showEvaluation, 'evalStatus'], [showSplits, 'splitsStatus'], [showSeries, 'seriesStatus']];
  await Promise.all(sections.map(([show, status]) => show(agent).catch((e) => { $(status).textContent = e.message; })));
}
$('agentForm').onsubmit = (ev) => { ev.preventDefault(); showAgent(); };
$('runs').onclick = (ev) => {
  const id = ev.target.dataset?.watch;
  if (!id) return;
  $('run').value = id;
  $('form').requestSubmit();
  $('run-h').scrollIntoView();
};
$('versions').onclick = async (ev) => {
  const to = ev.target.dataset?.rollback;
  if (!to) return;
  try {
    const r = await call('rollbackAgent', { agent_id: agentId(), to_version: Number(to), reason: 'rolled back from the dashboard' });
    await showAgent();
    $('agentStatus').textContent += ' — rolled back from version ' + r.previous_version + ' to ' + r.live_version;
  } catch (e) { $('agentStatus').textContent = e.message; }
};
$('memForm').onsubmit = async (ev) => {
  ev.preventDefault();
  try {
    const json = await post('/entities/AgentMemory/search', { agent_id: agentId(), query: $('memQuery').value, top_k: 10 });
    fill('memories', json.results.map((r) => '<tr>' + td(r.score.toFixed(3)) + td(r.memory.memory_type) + td(esc(JSON.stringify(r.memory.content)).slice(0, 160), 'l') + '</tr>'));
  } catch (e) { $('agentStatus').textContent = e.message; }
};`;
