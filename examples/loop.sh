#!/usr/bin/env bash
# The learning loop with curl, against a running Worker (npm run dev):
#   Execution → Feedback → Analysis → Update → Agent
#
#   BASE=http://127.0.0.1:8787 KEY=<API key from .dev.vars> examples/loop.sh
#
# Uses the bundled support FAQ (examples/support-faq.json): the agent `faq-loop`
# is trained on 4 paraphrases per intent; simulated users then ask the other 6
# training paraphrases of every intent (3 times) and say whether the answer was
# right — bandit feedback: the right answer is never revealed. Half of the
# feedback arrives through submitFeedback, half as one signed webhook. Then
# adaptAgentBehavior trains a candidate (reinforcement) and tunes one
# (performance_tuning), the safety gate decides on each, and the 72 held-out
# paraphrases (never trained on, never asked) measure every version. Needs curl, jq and openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-http://127.0.0.1:8787}
KEY=${KEY:-$(sed -n 's/^API_KEY *= *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' .dev.vars 2>/dev/null)}
AGENT=${AGENT:-faq-loop-$(date +%s)}
SHOTS=${SHOTS:-4}     # training paraphrases per intent (of 10)
ROUNDS=${ROUNDS:-3}   # times the users ask each of the other paraphrases
FAQ=examples/support-faq.json
[ -n "$KEY" ] || { echo "set KEY (npm run dev prints it)"; exit 1; }

call() { # call <function> <json body>: POST /functions/<function>, fails loudly on an error answer
  local out status
  out=$(curl -sS -w '\n%{http_code}' "$BASE/functions/$1" -H "authorization: Bearer $KEY" -H 'content-type: application/json' -d "$2")
  status=${out##*$'\n'}; out=${out%$'\n'*}
  if [ "$status" -ge 400 ]; then echo "$1 → $status $out" >&2; return 1; fi
  printf '%s' "$out"
}
wait_run() { # wait_run <run_id>: until the run has ended
  local status
  while :; do
    status=$(call getTrainingRun "{\"run_id\":\"$1\"}" | jq -r .status)
    case $status in succeeded|failed|cancelled) echo "$status"; return;; esac
    sleep 1
  done
}
held_out_accuracy() { # answers to the 72 held-out paraphrases that are right (exploration off); $1: a version (default: the live one)
  local right=0 total=0 answer
  while IFS=$'\t' read -r input expected; do
    answer=$(call executeAgent "$(jq -n --arg a "$AGENT" --arg i "$input" --argjson v "${1:-null}" '{agent_id: $a, input: $i} + (if $v then {version: $v} else {} end)')" | jq -r .output)
    [ "$answer" = "$expected" ] && right=$((right + 1)); total=$((total + 1))
  done < <(jq -r '.intents[] | .answer as $a | .heldout[] | [., $a] | @tsv' "$FAQ")
  echo "$right/$total"
}

echo "1. trainAgent: $SHOTS paraphrases per intent"
body=$(jq --arg a "$AGENT" --argjson n "$SHOTS" '{agent_id: $a, training_type: "supervised", training_data: [.intents[] | .answer as $a | .train[:$n][] | {input: ., expected_output: $a}]}' "$FAQ")
run=$(call trainAgent "$body" | jq -r .run_id)
echo "   run $run: $(wait_run "$run")"
before=$(held_out_accuracy)
echo "   held-out paraphrases answered right: $before"

echo "2. configureAgent: explore (softmax on 30% of executions; every execution logs the probability of what it showed)"
call configureAgent "{\"agent_id\":\"$AGENT\",\"exploration\":{\"strategy\":\"softmax\",\"rate\":0.3}}" | jq -c .exploration

echo "3. executeAgent: users ask the other $((10 - SHOTS)) paraphrases of each intent, $ROUNDS times, and say whether the answer was right"
feedback=()
for pass in $(seq "$ROUNDS"); do
  while IFS=$'\t' read -r input expected; do
    out=$(call executeAgent "$(jq -n --arg a "$AGENT" --arg i "$input" '{agent_id: $a, input: $i}')")
    verdict=$([ "$(jq -r .output <<<"$out")" = "$expected" ] && echo correct || echo incorrect)
    feedback+=("$(jq -c --arg f "$verdict" '{execution_id, feedback: $f}' <<<"$out")")
  done < <(jq -r --argjson n "$SHOTS" '.intents[] | .answer as $a | .train[$n:][] | [., $a] | @tsv' "$FAQ")
done
half=$((${#feedback[@]} / 2))
echo "   ${#feedback[@]} executions, $(printf '%s\n' "${feedback[@]}" | grep -c '"correct"') answered right"


echo "4a. submitFeedback: the first $half records in one batch"
call submitFeedback "$(printf '%s\n' "${feedback[@]:0:$half}" | jq -s -c .)" | jq -c '{recorded}'

echo "4b. POST /webhooks/feedback/{app_id}: the rest, signed the Standard Webhooks way"
secret=$(call rotateWebhookSecret '{}' | jq -r .secret)          # whsec_<base64 key>; the local app's id is "default"
msg_id=msg_$(date +%s%N); ts=$(date +%s)
payload=$(printf '%s\n' "${feedback[@]:$half}" | jq -s -c .)
key_hex=$(printf '%s' "${secret#whsec_}" | base64 -d | xxd -p -c 256)
signature=$(printf '%s.%s.%s' "$msg_id" "$ts" "$payload" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64)
curl -sS "$BASE/webhooks/feedback/default" -H 'content-type: application/json' \
  -H "webhook-id: $msg_id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$signature" -d "$payload" | jq -c '{recorded}'
echo "    the same delivery again is a no-op that answers the same:"
curl -sS -D - -o /dev/null "$BASE/webhooks/feedback/default" -H 'content-type: application/json' \
  -H "webhook-id: $msg_id" -H "webhook-timestamp: $ts" -H "webhook-signature: v1,$signature" -d "$payload" | grep -i '^webhook-replay' || true

echo "5. adaptAgentBehavior: reinforcement (off-policy learning from the logged feedback)"
adaptation=$(call adaptAgentBehavior "{\"agent_id\":\"$AGENT\",\"adaptation_strategy\":\"reinforcement\",\"reward_function\":\"maximize_success\",\"performance_metrics\":{\"success_rate\":0.85}}")
jq -c '{adaptation_id, status, run_id, data, metrics_comparison}' <<<"$adaptation"
id=$(jq -r .adaptation_id <<<"$adaptation")
echo "   run $(jq -r .run_id <<<"$adaptation"): $(wait_run "$(jq -r .run_id <<<"$adaptation")")"

echo "6. getAdaptation: the safety gate's verdict"
gate() { jq '{status, base_version, candidate_version, gate: (.gate | {candidate: (.candidate | {value, lower, upper, n, ess}), current, passed, promoted, reason})}'; }
view=$(call getAdaptation "{\"adaptation_id\":\"$id\"}")
gate <<<"$view"

echo "7. adaptAgentBehavior: performance_tuning (the fallback's confidence threshold, memories used, demo similarity, chosen on the same feedback; no training)"
tuned=$(call adaptAgentBehavior "{\"agent_id\":\"$AGENT\",\"adaptation_strategy\":\"performance_tuning\"}")
gate <<<"$tuned"

call configureAgent "{\"agent_id\":\"$AGENT\",\"exploration\":{\"strategy\":\"none\",\"rate\":0}}" >/dev/null
echo "8. the 72 held-out paraphrases (never trained on, never asked), answered right:"
echo "   version 1 (before): $before"
for v in $(jq -r '.candidate_version // empty' <<<"$view") $(jq -r '.candidate_version // empty' <<<"$tuned"); do
  echo "   version $v: $(held_out_accuracy "$v")"
done
live=$(call executeAgent "{\"agent_id\":\"$AGENT\",\"input\":\"hello\"}" | jq -r .version)
echo "   live now: version $live (a candidate the gate held back goes live only by promoteVersion {agent_id, version})"
