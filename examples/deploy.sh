#!/usr/bin/env bash
# Evaluate and deploy with curl, against a running Worker (npm run dev):
#   train v1, train v2 (a candidate), testAgent comparing them, a rollout that
#   advances, an experiment that decides, a rollback, and the metrics.
#
#   BASE=http://127.0.0.1:8787 KEY=<API key from .dev.vars> examples/deploy.sh
#
# Uses the bundled support FAQ (examples/support-faq.json). Simulated users ask
# the FAQ's training paraphrases and say whether the answer was right; the 72
# held-out paraphrases are the test suite. The cron is triggered by hand
# (npm run dev exposes /__scheduled). Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-http://127.0.0.1:8787}
KEY=${KEY:-$(sed -n 's/^API_KEY *= *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' .dev.vars 2>/dev/null)}
AGENT=${AGENT:-faq-deploy-$(date +%s)}
FAQ=examples/support-faq.json
[ -n "$KEY" ] || { echo "set KEY (npm run dev prints it)"; exit 1; }

call() { # call <function> <json body>
  local out status
  out=$(curl -sS -w '\n%{http_code}' "$BASE/functions/$1" -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d "$2")
  status=${out##*$'\n'}; out=${out%$'\n'*}
  if [ "$status" -ge 400 ]; then echo "$1 → $status $out" >&2; return 1; fi
  printf '%s' "$out"
}
train() { # train <shots per intent> <seed>: a version from the first N paraphrases of each intent
  local run status
  run=$(call trainAgent "$(jq --arg a "$AGENT" --argjson n "$1" --argjson s "$2" '{agent_id: $a, training_data: [.intents[] | .answer as $a | .train[:$n][] | {input: ., expected_output: $a}], config: {seed: $s}}' "$FAQ")" | jq -r .run_id)
  while :; do
    status=$(call getTrainingRun "{\"run_id\":\"$run\"}" | jq -r .status)
    case $status in succeeded) return;; failed|cancelled) echo "run $run $status" >&2; return 1;; esac
    sleep 1
  done
}
users() { # users <from> <count>: users ask training paraphrases and say whether the answer was right
  local fb=() i=0 input expected out
  while IFS=$'\t' read -r input expected; do
    i=$((i + 1)); [ "$i" -le "$1" ] && continue; [ "$i" -gt $(($1 + $2)) ] && break
    out=$(call executeAgent "$(jq -n --arg a "$AGENT" --arg i "$input" --arg u "user-$i" '{agent_id: $a, input: $i, user_id: $u}')")
    fb+=("$(jq -c --arg f "$([ "$(jq -r .output <<<"$out")" = "$expected" ] && echo correct || echo incorrect)" '{execution_id, feedback: $f}' <<<"$out")")
  done < <(for r in 1 2 3 4 5 6; do jq -r '.intents[] | .answer as $a | .train[] | [., $a] | @tsv' "$FAQ"; done)
  call submitFeedback "$(printf '%s\n' "${fb[@]}" | jq -s -c .)" >/dev/null
}
cron() { curl -sS "$BASE/__scheduled?cron=*/5+*+*+*+*" >/dev/null; }

echo "1. trainAgent twice: version 1 on 2 paraphrases per intent, version 2 on all 10 (a candidate: version 1 stays live)"
train 2 1
train 10 2
call listVersions "{\"agent_id\":\"$AGENT\"}" | jq -c '{live_version, versions: [.versions[] | {version: .version, label: .label}]}'

echo "2. testAgent: version 2 against version 1 on the 72 held-out paraphrases"
suite=$(jq -c '[.intents[] | .answer as $a | .heldout[] | {input: ., expected: $a}]' "$FAQ")
call testAgent "{\"agent_id\":\"$AGENT\",\"version\":2,\"compare_to\":1,\"test_suite\":$suite,\"evaluation_criteria\":[\"accuracy\",\"relevance\",\"safety\",\"calibration\"]}" |
  jq -c '{scores: .report.scores, comparisons: [.report.comparisons[] | {against, difference, mcnemar_p: .mcnemar.p_value, verdict}]}'

echo "3. startRollout: version 2 to 20%, then 50%, then everyone, while it is not significantly worse"
rollout=$(call startRollout "{\"agent_id\":\"$AGENT\",\"version\":2,\"steps\":[0.2,0.5,1],\"gate\":{\"metric\":\"success\",\"min_samples\":40}}" | jq -r .id)
for round in 1 2; do
  users $((round * 300)) 300
  cron
  call getRollout "{\"rollout_id\":\"$rollout\"}" | jq -c '{status, step, share, decision: .look.decision, reason: .look.reason}'
done

echo "4. startExperiment: a version 3 (1 paraphrase per intent) against the live version 2, 50/50"
train 1 3
experiment=$(call startExperiment "{\"agent_id\":\"$AGENT\",\"treatment\":3,\"metric\":\"success\",\"traffic\":0.5}" | jq -r .id)
users 900 400
cron
call getExperiment "{\"experiment_id\":\"$experiment\"}" | jq -c '{status, decision: .look.decision, control: .look.control, treatment: .look.treatment, interval: .look.interval, p_value: .look.p_value}'

echo "5. rollbackAgent: back to the version live before (1), then forward again to 2"
call rollbackAgent "{\"agent_id\":\"$AGENT\",\"reason\":\"walk-through\"}" | jq -c .
call promoteVersion "{\"agent_id\":\"$AGENT\",\"version\":2,\"reason\":\"it won its rollout\"}" | jq -c .
call listVersions "{\"agent_id\":\"$AGENT\"}" | jq -c '.deployments[] | {from_version, to_version, action, actor, reason}'

echo "6. GET /metrics: the users' success by hour, and executeAgent latency"
curl -sS "$BASE/metrics?name=accuracy&agent_id=$AGENT&bucket=1h" -H "authorization: Bearer $KEY" | jq -c '.buckets'
curl -sS "$BASE/metrics?name=latency_ms&agent_id=$AGENT&bucket=1h" -H "authorization: Bearer $KEY" | jq -c '.buckets'
