/**
 * The page at `/`: one request, no build step, no library. Connect with a key
 * (kept in the tab's session storage only) and list the app's agents; watch a
 * run learn (loss and accuracy curves per epoch, live from its event stream,
 * with its plan, phase and timing); and for an agent: its versions (live and
 * candidates) with a rollback, its deployment history, its rollouts and
 * experiments (arms, interval, decision), its runs, its latest evaluation
 * (per-class table, confused pairs), feedback and metrics over time, and a
 * search of its memories. The script is plain JavaScript in parts, one per
 * section (this folder); charts are one SVG function (chart.ts).
 */
import { CORE } from "./core.ts";
import { CHART } from "./chart.ts";
import { RUN_VIEW } from "./run-view.ts";
import { AGENT_VIEW } from "./agent-view.ts";
import { SPLITS_VIEW } from "./splits-view.ts";
import { SERIES_VIEW } from "./series-view.ts";

const STYLE = `body{font:15px system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}
.bar{height:12px;background:#eee;border-radius:6px}.bar>div{height:12px;background:#3a7;border-radius:6px;width:0}
input,select{font:inherit;padding:.2rem .4rem}input{width:16rem}label{margin-right:.5rem}
svg{width:100%;height:auto;background:#fcfcfc;border:1px solid #ddd;border-radius:4px}
.legend span{margin-right:1rem}.k{display:inline-block;width:1rem;height:3px;vertical-align:middle;margin-right:.3rem}
table{border-collapse:collapse;margin-bottom:.5rem}td,th{padding:.15rem .6rem;text-align:right;border-bottom:1px solid #eee}td.l,th.l{text-align:left}
.note{color:#555;font-size:14px}nav a{margin-right:1rem}`;

const legend = (items: [string, string][]) => `<figcaption class="legend">${items.map(([color, label]) => `<span><i class="k" style="background:${color}"></i>${label}</span>`).join("")}</figcaption>`;
const table = (id: string, heads: string[]) => `<table id="${id}"><thead><tr>${heads.map((h) => (h.startsWith("<") ? h : `<th>${h}</th>`)).join("")}</tr></thead><tbody></tbody></table>`;

const BODY = `<h1>archon-training</h1>
<p>Agent training as base44-style functions: <code>POST /functions/trainAgent</code>, <code>executeAgent</code>, <code>testAgent</code>,
<code>adaptAgentBehavior</code>, <code>analyzeAndOptimize</code>, … API reference: <a href="/openapi.json">/openapi.json</a>; a typed client: <code>archon-training/client</code>.</p>
<nav><a href="#agents-h">Agents</a><a href="#run-h">Run</a><a href="#agent-h">Agent</a><a href="#splits-h">Rollouts and experiments</a><a href="#series-h">Feedback and metrics</a><a href="#memories-h">Memories</a></nav>
<h2 id="agents-h">Agents</h2>
<form id="connect"><label>API key <input id="key" type="password" autocomplete="off" aria-label="API key"></label> <button id="list">List agents</button></form>
<p id="agentsStatus" role="status" class="note"></p>
${table("agents", ['<th class="l">agent</th>', "live", "candidates", "versions", '<th class="l">traffic split</th>', "updated", ""])}
<h2 id="run-h">Watch a run learn</h2>
<form id="form"><label>Run <input id="run" placeholder="run_…" aria-label="run id"></label> <button id="go">Watch</button></form>
<p id="status" role="status">—</p>
<div class="bar" aria-hidden="true"><div id="fill"></div></div>
<p id="plan" class="note"></p><p id="timing" class="note"></p>
<figure><svg id="curves" viewBox="0 0 640 260" role="img" aria-label="learning curves"></svg>
${legend([["#c44", "training loss"], ["#e90", "validation loss"], ["#27a", "validation accuracy (right axis)"]])}</figure>
${table("epochs", ["epoch", "train loss", "valid loss", "valid acc"])}
<h2 id="agent-h">An agent</h2>
<form id="agentForm"><label>Agent <input id="agent" placeholder="agent_id" aria-label="agent id"></label> <button id="show">Show</button></form>
<p id="agentStatus" role="status"></p>
<h3>Versions</h3>
${table("versions", ["version", "label", "traffic", "made by", "evaluation", "created", ""])}
<h3>Deployment history</h3>
${table("deployments", ["when", "action", "from", "to", "by", '<th class="l">why</th>'])}
<h3 id="splits-h">Rollouts and experiments</h3>
<p id="splitsStatus" class="note">–</p>
${table("splits", ['<th class="l">id</th>', "kind", "versions", "status", "share", "metric", "control n / mean", "candidate n / mean", "difference [interval]", "p", '<th class="l">decision</th>'])}
<h3>Runs</h3>
${table("runs", ["run", "status", "type", "epoch", "best valid acc", "version", "created", ""])}
<h3>Latest evaluation</h3>
<p id="evalStatus">–</p>
${table("perClass", ['<th class="l">class</th>', "precision", "recall", "F1", "support"])}
<h4>Most confused</h4>
${table("confused", ['<th class="l">expected</th>', '<th class="l">answered</th>', "count"])}
<h3 id="series-h">Feedback and metrics</h3>
<form id="seriesForm"><label>Metric <select id="seriesName" aria-label="metric">
<option value="latency_ms">executions: latency (ms)</option><option value="accuracy">feedback: success (correct, corrections, reward)</option>
<option value="user_satisfaction">feedback: user satisfaction</option><option value="confidence">executions: confidence</option>
<option value="fallback">executions: fallback rate</option><option value="tokens">executions: language-model tokens</option>
<option value="cost_usd">executions: language-model cost (USD)</option><option value="step_ms">training: step time (ms)</option></select></label>
<label>or a recorded one <input id="seriesCustom" placeholder="name (recordMetric)" aria-label="recorded metric name" style="width:12rem"></label>
<label>Over <select id="seriesRange" aria-label="range"><option value="24h">24 hours</option><option value="7d">7 days</option><option value="30d">30 days</option></select></label>
<button id="seriesGo">Show</button></form>
<p id="seriesStatus" class="note">–</p>
<figure><svg id="seriesChart" viewBox="0 0 640 260" role="img" aria-label="metric over time"></svg>
${legend([["#27a", "mean"], ["#c44", "p95"], ["#999", "count (right axis)"]])}</figure>
${table("series", ["from", "count", "mean", "p50", "p95"])}
<h3 id="memories-h">Memories</h3>
<form id="memForm"><label>Search <input id="memQuery" placeholder="what the agent remembers about…" aria-label="memory search"></label> <button id="memGo">Search</button></form>
${table("memories", ["score", "type", '<th class="l">content</th>'])}`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>archon-training</title>
<style>${STYLE}</style></head>
<body>${BODY}
<script>
${[CORE, CHART, RUN_VIEW, AGENT_VIEW, SPLITS_VIEW, SERIES_VIEW].join("\n")}
</script></body></html>`;

export function dashboardHtml(): string {
  return PAGE;
}
