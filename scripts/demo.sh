#!/usr/bin/env bash
# `make demo`: see the plugins work without a cluster or an Azure subscription. Starts the fake API
# server as a local sandbox seeded with an azureml-fe installation and one model service, points a
# temporary kubeconfig at it, and runs `kubectl aml fe` and `certs` through kubectl's plugin
# mechanism; then starts the fake Azure Resource Manager (a workspace with a Kubernetes compute and
# registered assets, reached through a temporary az configuration) for `attach` and `deploy`.
set -euo pipefail
cd "$(dirname "$0")/.."
# --bin names every binary: with it cargo builds only those named, in every package given.
cargo build --quiet -p kubectl-aml-fe -p kubectl-aml-certs -p kubectl-aml-attach -p kubectl-aml-deploy \
  -p aml-tests --bin kubectl-aml-fe --bin kubectl-aml-certs --bin kubectl-aml-attach \
  --bin kubectl-aml-deploy --bin fake-kube --bin fake-arm
sandbox=$(mktemp -d)
cleanup() {
  [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null
  [ -n "${arm:-}" ] && kill "$arm" 2>/dev/null
  rm -rf "$sandbox"
}
trap cleanup EXIT
target/debug/fake-kube --seed scripts/demo/azureml-fe.yaml --kubeconfig "$sandbox/kubeconfig" \
  >"$sandbox/url" 2>"$sandbox/log" &
fake=$!
for _ in $(seq 50); do [ -s "$sandbox/url" ] && break; sleep 0.1; done
[ -s "$sandbox/url" ] || { cat "$sandbox/log" >&2; exit 1; }
export KUBECONFIG="$sandbox/kubeconfig" KUBECACHEDIR="$sandbox/cache" PATH="$PWD/target/debug:$PATH"
mkdir "$sandbox/backups" "$sandbox/export"

bold='' plain=''
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
step() { printf '\n%s$ %s%s\n' "$bold" "$*" "$plain"; "$@" || printf '(exit code %s)\n' "$?"; }
echo "Sandbox API server: $(cat "$sandbox/url")  (KUBECONFIG=$KUBECONFIG)"
step kubectl aml fe status
step kubectl aml certs export --out-dir "$sandbox/export"
step kubectl aml fe cleanup --yes --backup-dir "$sandbox/backups"
step kubectl scale deployment/sentiment -n ws1 --replicas=0
step kubectl aml fe cleanup --yes --backup-dir "$sandbox/backups"
step ls -l "$sandbox/backups"
step kubectl aml fe status

target/debug/fake-arm --dir "$sandbox/arm" >"$sandbox/arm.out" 2>"$sandbox/arm.log" &
arm=$!
# It prints the two exports to stdout once it serves, and what it serves to stderr.
for _ in $(seq 50); do grep -q serving "$sandbox/arm.log" 2>/dev/null && break; sleep 0.1; done
grep -q serving "$sandbox/arm.log" || { cat "$sandbox/arm.log" >&2; exit 1; }
eval "$(grep '^export ' "$sandbox/arm.out")"
echo
echo "Sandbox Azure Resource Manager (AZURE_CONFIG_DIR=$AZURE_CONFIG_DIR): $(grep -o 'serving.*' "$sandbox/arm.log")"
step kubectl aml attach list
step kubectl aml deploy create sentiment --compute k8s --model sentiment:1 --environment sklearn-env:3 \
  --cpu-cores 0.5 --memory-gb 1 --autoscale --autoscale-max-replicas 4
step kubectl aml deploy create bad --compute k8s --model sentiment:1 --environment sklearn-env:3 \
  --cpu-cores 0 --autoscale-target-utilization 150 --num-replicas 2
step kubectl aml deploy update sentiment --autoscale-max-replicas 6
step kubectl aml deploy keys sentiment
step kubectl aml deploy delete sentiment --yes
