#!/usr/bin/env bash
# `make demo`: see `kubectl aml fe` and `kubectl aml certs` work without a cluster. Starts the fake API server as a local
# sandbox seeded with an azureml-fe installation and one model service, points a temporary
# kubeconfig at it, and runs the plugin through kubectl's plugin mechanism.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet -p kubectl-aml-fe -p kubectl-aml-certs -p aml-tests --bin kubectl-aml-fe --bin kubectl-aml-certs --bin fake-kube
sandbox=$(mktemp -d)
cleanup() { [ -n "${fake:-}" ] && kill "$fake" 2>/dev/null; rm -rf "$sandbox"; }
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
