#!/usr/bin/env bash
# Fails if a second TLS stack entered the dependency tree: kubectl-aml uses rustls + ring only
# (../shared/facts/crates.md §3). Run by `make lint` and CI.
set -euo pipefail
status=0
for crate in aws-lc-rs aws-lc-sys openssl-sys native-tls; do
  if out=$(cargo tree --workspace --locked -e all -i "$crate" 2>&1); then
    echo "error: $crate is in the dependency tree; keep one TLS stack (rustls + ring):" >&2
    echo "$out" | head -20 >&2
    status=1
  elif ! grep -q "did not match any packages" <<<"$out"; then
    echo "error: cargo tree failed while looking for $crate:" >&2
    echo "$out" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "one TLS stack: rustls + ring (no aws-lc-rs, openssl-sys, native-tls)"
exit "$status"
