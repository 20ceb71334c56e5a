#!/usr/bin/env bash
# Rotates the azureml-fe TLS certificate when it is due — for cron and CI.
#
# Usage:
#   rotate-certs.sh --from-secret NAME [--from-namespace NS] [options]   new pair from a secret
#                                                                        (e.g. cert-manager's)
#   rotate-certs.sh --cert FILE --key FILE [options]                      new pair from files
# Options:
#   -n, --namespace NS    namespace of azureml-fe and its secret (default: the context's)
#   --context NAME        kubeconfig context (KUBECONFIG is honoured as by kubectl)
#   --secret NAME         the azureml-fe TLS secret (default: azuremlfessl)
#   --renew-days N        rotate when the current certificate has fewer than N days left (default: 30)
#   --min-days N          the new certificate must stay valid at least N days (default: --renew-days)
#   --backup-dir DIR      where the current secret is saved before it is replaced (default: .)
#   --timeout DURATION    how long to wait for azureml-fe's rollout (default: 5m)
# Exit codes: 0 = nothing due, or rotated and rolled out; otherwise the code of the failing
# `kubectl aml certs` step (1 failure, 2 usage, 3 auth, 4 not found, 5 timeout), with a message.
# Needs kubectl and the kubectl-aml-certs plugin on PATH. Example crontab line:
#   17 3 * * * KUBECONFIG=/etc/aml/kubeconfig /usr/local/bin/rotate-certs.sh --from-secret azureml-fe-tls -n azureml --backup-dir /var/backups/aml >>/var/log/aml-rotate.log 2>&1
set -euo pipefail

say() { printf '%s rotate-certs: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2; }
# --help: the header above on stdout, exit 0.
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }

cert='' key='' from_secret='' from_namespace='' secret=azuremlfessl renew_days=30 min_days=''
backup_dir=. timeout=5m kube_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --cert) cert=${2:?--cert needs a file}; shift 2 ;;
    --key) key=${2:?--key needs a file}; shift 2 ;;
    --from-secret) from_secret=${2:?--from-secret needs a name}; shift 2 ;;
    --from-namespace) from_namespace=${2:?--from-namespace needs a namespace}; shift 2 ;;
    -n|--namespace) kube_args+=(-n "${2:?$1 needs a namespace}"); shift 2 ;;
    --context) kube_args+=(--context "${2:?--context needs a name}"); shift 2 ;;
    --secret) secret=${2:?--secret needs a name}; shift 2 ;;
    --renew-days) renew_days=${2:?--renew-days needs a number}; shift 2 ;;
    --min-days) min_days=${2:?--min-days needs a number}; shift 2 ;;
    --backup-dir) backup_dir=${2:?--backup-dir needs a directory}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs a duration}; shift 2 ;;
    -h|--help) usage ;;
    *) say "unknown argument '$1' (see --help)"; exit 2 ;;
  esac
done
if [ -n "$from_secret" ] && { [ -n "$cert" ] || [ -n "$key" ]; }; then
  say "give either --from-secret or --cert/--key, not both"; exit 2
fi
if [ -z "$from_secret" ] && { [ -z "$cert" ] || [ -z "$key" ]; }; then
  say "the new pair is needed: --from-secret NAME, or --cert FILE --key FILE"; exit 2
fi
case "$renew_days" in ''|*[!0-9]*) say "--renew-days must be a whole number of days"; exit 2 ;; esac
min_days=${min_days:-$renew_days}

# Is rotation due? verify exits 0 when the current pair is fine for --renew-days more days.
set +e
failed=$(kubectl aml certs verify --secret "$secret" --min-days "$renew_days" -o name "${kube_args[@]}")
status=$?
set -e
case $status in
  0) say "secret $secret: the certificate is valid for at least $renew_days more days; nothing to do"; exit 0 ;;
  1) say "secret $secret needs a new certificate (failed checks: $(echo $failed | tr ' ' ','))" ;;
  *) say "cannot check the current certificate (exit $status)"; exit "$status" ;;
esac

if [ -n "$from_secret" ]; then
  work=$(mktemp -d)
  chmod 700 "$work"
  trap 'rm -rf "$work"' EXIT
  source_args=("${kube_args[@]}")
  [ -n "$from_namespace" ] && source_args+=(-n "$from_namespace")
  set +e
  kubectl aml certs export --secret "$from_secret" --out-dir "$work" -o name "${source_args[@]}" >/dev/null
  status=$?
  set -e
  if [ "$status" -ne 0 ]; then
    say "cannot read the new pair from secret $from_secret (exit $status)"; exit "$status"
  fi
  cert=$work/cert.pem key=$work/key.pem
fi

# -o json: the log says whether the pair changed (cert-manager may not have renewed it yet).
set +e
report=$(kubectl aml certs rotate --cert "$cert" --key "$key" --secret "$secret" --min-days "$min_days" \
    --backup-dir "$backup_dir" --yes --wait --timeout "$timeout" -o json "${kube_args[@]}")
status=$?
set -e
if [ "$status" -ne 0 ]; then
  say "rotation failed (exit $status); the messages above say what was and was not changed"
  exit "$status"
fi
field() { printf '%s\n' "$report" | sed -n "s/^ *\"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" | head -n 1; }
if [ "$(field changed)" = false ]; then
  say "secret $secret already holds the new pair: no change (restart: $(field restart)); renew the source certificate"
else
  say "secret $secret rotated; azureml-fe rolled out with the new certificate"
fi
