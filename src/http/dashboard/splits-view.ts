/** An agent's rollouts and experiments: both arms, the difference with its always-valid interval, the p-value and the decision. */
export const SPLITS_VIEW = String.raw`async function showSplits(agent) {
  const { splits } = await call('listTrafficSplits', { agent_id: agent, limit: 10 });
  const active = splits.find((s) => s.status === 'active');
  $('splitsStatus').textContent = splits.length ? splits.length + ' rollout(s) and experiment(s)' + (active ? '; ' + active.id + ' is active' : '') : 'none (startRollout, startExperiment)';
  const arm = (a) => a ? a.n + ' / ' + a.mean.toFixed(3) : '–';
  fill('splits', splits.map((s) => {
    const l = s.look;
    const interval = l ? l.difference.toFixed(3) + ' [' + fmt(l.interval.lower, 3) + ', ' + fmt(l.interval.upper, 3) + ']' : '–';
    return '<tr data-split="' + s.id + '">' + td(s.id, 'l') + td(s.kind) + td(s.control_version + ' → ' + s.treatment_version) + td(s.status) +
      td((100 * s.share).toFixed(0) + '%' + (s.kind === 'rollout' && s.steps ? ' (step ' + s.step + '/' + s.steps.length + ')' : '')) + td(esc(s.settings.metric ?? '–')) +
      td(arm(l?.control)) + td(arm(l?.treatment)) + td(interval) + td(l ? l.p_value.toFixed(3) : '–') + td(esc((l?.decision ?? 'undecided') + ' — ' + (l?.reason ?? '')), 'l') + '</tr>';
  }));
}`;
