# kubectl-aml — `make` lists the targets.
PLUGINS := attach certs deploy fe scale
PREFIX  ?= $(HOME)/.local
BINDIR  := $(PREFIX)/bin
# cargo-nextest when present (it is on our machines), else cargo test.
TEST    := $(shell cargo nextest --version >/dev/null 2>&1 && echo "cargo nextest run --workspace" || echo "cargo test --workspace")

.PHONY: help build release install uninstall krew man test test-unit test-e2e lint fmt check-tls doc bench bench-router bench-autoscale sandbox demo fuzz clean ci

help: ## this list
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## debug build of every crate
	cargo build --workspace

release: ## optimised binaries (the umbrella and every plugin) in target/release
	@echo "building the release binaries: about 4-5 minutes on 2 cores from a clean clone; seconds when up to date"
	@start=$$(date +%s); cargo build --release --locked -p kubectl-aml $(addprefix -p kubectl-aml-,$(PLUGINS)) && \
		echo "release build took $$(( $$(date +%s) - start )) s"

install: release ## put `kubectl-aml` and the plugins in $(PREFIX)/bin (default ~/.local/bin) so `kubectl aml` works (first build ≈ 4-5 min on 2 cores)
	install -d $(BINDIR)
	install -m 0755 target/release/kubectl-aml $(addprefix target/release/kubectl-aml-,$(PLUGINS)) $(BINDIR)/
	install -m 0755 scripts/rotate-certs.sh $(BINDIR)/rotate-certs.sh
	@# kubectl's completion of `kubectl aml …` (1.26+) runs these; they are the umbrella.
	for name in kubectl_complete-aml $(addprefix kubectl_complete-aml-,$(PLUGINS)); do ln -sf kubectl-aml $(BINDIR)/$$name; done
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; *) echo "note: add $(BINDIR) to PATH so kubectl finds the plugins";; esac

uninstall: ## remove the installed plugins
	rm -f $(BINDIR)/kubectl-aml $(addprefix $(BINDIR)/kubectl-aml-,$(PLUGINS)) $(BINDIR)/rotate-certs.sh
	rm -f $(BINDIR)/kubectl_complete-aml $(addprefix $(BINDIR)/kubectl_complete-aml-,$(PLUGINS))

man: ## man pages for kubectl-aml and every verb and command, in target/man
	cargo build -p kubectl-aml $(addprefix -p kubectl-aml-,$(PLUGINS))
	target/debug/kubectl-aml __man target/man
	@echo "man -l target/man/kubectl-aml.1"

krew: release ## the krew archive (target/krew) and krew/aml.yaml's sha256 for it
	install -d target/krew
	tar -czf target/krew/kubectl-aml-linux-amd64.tar.gz -C target/release kubectl-aml $(addprefix kubectl-aml-,$(PLUGINS)) -C $(CURDIR) LICENSE
	sed -i "s/sha256: .*/sha256: \"$$(sha256sum target/krew/kubectl-aml-linux-amd64.tar.gz | cut -d' ' -f1)\"/" krew/aml.yaml
	@echo "target/krew/kubectl-aml-linux-amd64.tar.gz: upload it where krew/aml.yaml's uri points"

test: ## every test: unit and end-to-end (needs kubectl and openssl, which the machines have)
	$(TEST)

test-unit: ## unit tests only
	$(TEST) --lib --bins

test-e2e: ## end-to-end tests against the fake API server and the real kubectl
	$(TEST) -p aml-tests --test e2e

lint: check-tls ## formatting, clippy, one TLS stack
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the code
	cargo fmt --all

check-tls: ## fail if aws-lc-rs or openssl-sys entered the dependency tree
	scripts/check-tls.sh

doc: ## API docs of every crate (warnings are errors)
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --document-private-items

bench: ## against named peers: `fe cleanup` vs kubectl, `deploy create` vs the docs' REST script, the router vs nginx, the live autoscaler vs its simulation and an HPA (release builds; not a test)
	@test -x /usr/bin/time || (apt-get update -qq && apt-get install -y -qq time)
	@command -v jq >/dev/null || (apt-get update -qq && apt-get install -y -qq jq)
	@command -v nginx >/dev/null && command -v wrk >/dev/null && command -v hey >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq nginx-light wrk hey && (service nginx stop >/dev/null 2>&1 || true))
	cargo build --release -p kubectl-aml-fe -p kubectl-aml-deploy
	cargo build --release -p kubectl-aml-scale
	cargo build --release -p aml-tests --bin bench-fe --bin bench-deploy --bin bench-router --bin bench-autoscale
	target/release/bench-fe
	@echo
	target/release/bench-deploy
	@echo
	target/release/bench-router
	@echo
	target/release/bench-autoscale

bench-autoscale: ## the live autoscaler against its simulation and an HPA only (see bench)
	cargo build --release -p kubectl-aml-fe -p kubectl-aml-scale -p aml-tests --bin kubectl-aml-fe --bin kubectl-aml-scale --bin bench-autoscale
	target/release/bench-autoscale

bench-router: ## the router against nginx only (see bench)
	@command -v nginx >/dev/null && command -v wrk >/dev/null && command -v hey >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq nginx-light wrk hey && (service nginx stop >/dev/null 2>&1 || true))
	cargo build --release -p kubectl-aml-fe -p aml-tests --bin kubectl-aml-fe --bin bench-router
	target/release/bench-router

sandbox: ## a local sandbox (fake Kubernetes and Azure, real inference servers, our router): prints the exports, Ctrl-C stops it
	cargo build -p kubectl-aml-fe -p kubectl-aml-certs -p kubectl-aml-attach -p kubectl-aml-deploy -p kubectl-aml-scale \
		-p aml-tests --bin kubectl-aml-fe --bin kubectl-aml-certs --bin kubectl-aml-attach --bin kubectl-aml-deploy \
		--bin kubectl-aml-scale --bin aml-sandbox
	target/debug/aml-sandbox up

demo: ## the whole loop on the sandbox: attach, fe install, deploy, score, load and scaling, certs rotate under load, cleanup (uses the release plugins when built)
	scripts/demo.sh

fuzz: ## the parsers' property tests, long (PROPTEST_CASES=20000; local use, minutes)
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} cargo test -q -p aml-core -p kubectl-aml-deploy --lib -- properties proptests

clean: ## remove build output
	cargo clean

ci: lint test doc ## what CI runs
