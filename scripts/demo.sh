#!/usr/bin/env bash
# `make demo`: the whole loop on one machine, on the sandbox (`aml-sandbox`: fake Kubernetes API
# server and Azure Resource Manager, model replicas that are the real Azure ML inference server,
# our router as the azureml-fe pods). Every step prints its command; the demo exits non-zero when a
# step's outcome is wrong. `--short` (the end-to-end test) shortens the load and the window.
set -euo pipefail
cd "$(dirname "$0")/.."
load_seconds=30 window=20
if [ "${1:-}" = "--short" ]; then load_seconds=12 window=6; fi
# AML_DEMO_BIN: a directory that already holds the kubectl-aml-* plugins and aml-sandbox (the
# end-to-end test's); otherwise they are built here.
bin=${AML_DEMO_BIN:-}
if [ -z "$bin" ]; then
  # After `make install` (or `make release`) the optimised plugins are there: use them, and build
  # the sandbox beside them, instead of building everything again in debug.
  profile=debug flag=
  if [ -x target/release/kubectl-aml-fe ]; then profile=release flag=--release; fi
  if [ "$profile" = release ]; then
    echo "building the sandbox beside the release plugins (the first time takes a few minutes)"
  else
    echo "building the plugins and the sandbox (debug; the first time takes about 4 minutes on 2 cores)"
  fi
  start=$(date +%s)
  cargo build --quiet $flag -p kubectl-aml-fe -p kubectl-aml-certs -p kubectl-aml-attach -p kubectl-aml-deploy \
    -p kubectl-aml-scale -p aml-tests --bin kubectl-aml-fe --bin kubectl-aml-certs --bin kubectl-aml-attach \
    --bin kubectl-aml-deploy --bin kubectl-aml-scale --bin aml-sandbox
  echo "built in $(( $(date +%s) - start )) s ($profile)"
  bin=target/$profile
fi
bin=$(cd "$bin" && pwd)
# kubectl finds `kubectl aml <verb>` as kubectl-aml-<verb> on PATH: these builds come first.
export PATH="$bin:$PATH"
for tool in jq curl kubectl; do
  command -v "$tool" >/dev/null || { echo "error: the demo needs $tool" >&2; exit 2; }
done
work=$(mktemp -d)
cleanup() {
  "$bin/aml-sandbox" down --dir "$work/sandbox" >/dev/null 2>&1 || true
  [ -n "${sandbox:-}" ] && wait "$sandbox" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# Ports 0: the sandbox takes free ones, so a demo never collides with a running sandbox.
"$bin/aml-sandbox" up --dir "$work/sandbox" --kube-port 0 --http-port 0 --https-port 0 \
  --router "$bin/kubectl-aml-fe"   >"$work/exports" 2>"$work/sandbox.log" &
sandbox=$!
for _ in $(seq 600); do [ "$(grep -c '^export' "$work/exports" 2>/dev/null)" = 5 ] && break; sleep 0.1; done
[ "$(grep -c '^export' "$work/exports")" = 5 ] || { cat "$work/sandbox.log" >&2; exit 1; }
eval "$(cat "$work/exports")"
export KUBECACHEDIR="$work/cache"

bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@"; }
fail() { echo "demo failed: $*" >&2; echo "--- sandbox log" >&2; tail -20 "$work/sandbox.log" >&2; exit 1; }
replicas() { kubectl get deployment sentiment-blue -n models -o jsonpath='{.spec.replicas}' 2>/dev/null || echo 0; }
grep -m1 '^model replicas' "$work/sandbox.log" || true
echo "sandbox: API server in $KUBECONFIG, scoring at http://$AML_SANDBOX_HTTP and https://$AML_SANDBOX_HTTPS"

step kubectl aml attach k8s k8s --cluster aks1 -n models
fixtures=tests/fixtures/tls
step kubectl aml fe install --cert $fixtures/rsa-chain.crt --key $fixtures/rsa.key --cluster-purpose dev-test \
  --scale-down-window "${window}s" --wait --timeout 90s
# Requests may wait up to 10 s for a replica (v1 default 500 ms): a load step queues while replicas
# start instead of being answered 503.
step kubectl aml deploy create sentiment --compute k8s --model sentiment:1 --environment sklearn-env:3 \
  --autoscale --autoscale-max-replicas 4 --max-request-wait-time 10000
for _ in $(seq 100); do kubectl get deployment sentiment-blue -n models >/dev/null 2>&1 && break; sleep 0.2; done
step kubectl rollout status deployment/sentiment-blue -n models --timeout=90s

key=$(kubectl aml deploy keys sentiment --show-secrets -o json | jq -r .primaryKey)
url="http://$AML_SANDBOX_HTTP/api/v1/endpoint/sentiment/score"
printf '\n%s$ curl -X POST %s -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -d %s%s\n' \
  "$bold" "$url" "'{\"data\": [[1, 2, 3]]}'" "$plain"
answer=$(curl -s --max-time 10 -X POST "$url" -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"data": [[1, 2, 3]]}')
echo "$answer"
echo "$answer" | jq -e '.prediction[0] == 6' >/dev/null || fail "the model did not answer 6.0"

# A step of load: 8 requests a second, 400 ms each (3.2 replicas busy) on one single-slot replica.
printf 'seconds,rps,request_seconds\n0,8,0.4\n%s,0,0.4\n' "$load_seconds" >"$work/step.csv"
printf '\n%s$ kubectl aml scale replay --trace step.csv --url %s --watch sentiment-blue -n models -o json &%s\n' \
  "$bold" "$url" "$plain"
AML_SCORING_KEY=$key kubectl aml scale replay --trace "$work/step.csv" --url "$url" --watch sentiment-blue \
  -n models --body '{"data": [[1, 2, 3]], "delay_ms": 400}' --timeout 30s -o json >"$work/replay.json" \
  2>"$work/replay.log" &
replay=$!
for _ in $(seq 100); do [ "$(replicas)" -gt 1 ] && break; sleep 0.1; done
[ "$(replicas)" -gt 1 ] || fail "no scale-up within 10 s of the load step"
step kubectl aml scale status -n models --fe-namespace azureml
# Rotate the router's certificate while the load runs: no request may fail.
step kubectl aml certs rotate --cert $fixtures/ec.crt --key $fixtures/ec.key --backup-dir "$work" --wait --yes
wait "$replay" || fail "scale replay failed: $(tail -3 "$work/replay.log")"
printf '\n%s(the replay)%s\n' "$bold" "$plain"
jq -r '.totals | "sent \(.sent), ok \(.ok), transport errors \(.errors), statuses \(.statuses)"' "$work/replay.json"
peak=$(jq '[.seconds[].ready // 0] | max' "$work/replay.json")
echo "replicas ready at the peak: $peak"
failed=$(jq '.totals.sent - .totals.ok' "$work/replay.json")
echo "failed requests: $failed"
if [ "$failed" != 0 ]; then
  jq -c '.seconds[] | select(.sent != .ok)' "$work/replay.json" >&2
  tail -5 "$work/replay.log" >&2
  fail "requests failed under load or during the rotation"
fi
[ "$peak" -gt 1 ] || fail "the replicas did not rise under load"

printf '\n%s(load off: the autoscaler waits the %s s window, then scales down)%s\n' "$bold" "$window" "$plain"
for _ in $(seq $(( (window + 30) * 5 ))); do [ "$(replicas)" = 1 ] && break; sleep 0.2; done
[ "$(replicas)" = 1 ] || fail "no scale-down to 1 within the window + 30 s"
step kubectl aml scale status -n models --fe-namespace azureml
step kubectl aml fe status
step kubectl aml deploy delete sentiment --yes
for _ in $(seq 100); do kubectl get deployment sentiment-blue -n models >/dev/null 2>&1 || break; sleep 0.2; done
step kubectl aml fe cleanup --yes --backup-dir "$work"
printf '\n%sdemo done: every step did what it should%s\n' "$bold" "$plain"
