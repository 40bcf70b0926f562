# The two commands a newcomer needs; each runs scripts/setup.sh first.
.PHONY: dev test setup build check-dev check-deploy bench-socketio bench-setup bench-smoke bench-loadgen bench reliability fuzz

dev:          ## run Herald locally on http://127.0.0.1:$${PORT:-8787}
	scripts/dev.sh

test:         ## run every test: clippy (warnings fail), native cargo tests, then end-to-end in workerd
	scripts/test.sh

setup:        ## install the toolchain pieces (idempotent)
	scripts/setup.sh

build:        ## build both Workers' bundles: herald into build/, herald-delivery into delivery/build/
	scripts/build.sh

check-deploy: ## build the bundle a real deployment would upload (wrangler deploy --dry-run)
	scripts/check-deploy.sh

check-dev:    ## start `make dev` on a spare port, publish and read back, push to a recorder subscription, refuse oversize bodies without failing another client, stop
	scripts/check-dev.sh

bench-socketio: ## benchmark a room of 100 clients: JSON protocol, Socket.IO websocket and polling (QUICK=1: one short step)
	scripts/setup.sh
	scripts/build.sh
	node bench/socketio.mjs $(if $(QUICK),--quick)

bench-setup:  ## install the benchmark's npm packages (bench/package-lock.json; skipped when installed)
	bench/setup.sh

bench-smoke:  ## start each system under test in turn; 10 subscribers must each get 50 messages in order (seconds)
	scripts/setup.sh
	scripts/build.sh
	bench/setup.sh
	node bench/smoke.mjs

bench-loadgen: ## build the Rust load generator (bench/loadgen, release) into bench/loadgen/target/release/loadgen
	PATH="$${CARGO_HOME:-$$HOME/.cargo}/bin:$$PATH" cargo build --release --locked --manifest-path bench/loadgen/Cargo.toml

bench:        ## the side-by-side benchmark: every system, every scenario, 3 repetitions; writes bench/results/ and BENCHMARKS.md (QUICK=1: seconds, a smoke test of the harness)
	scripts/setup.sh
	scripts/build.sh
	bench/setup.sh
	$(MAKE) --no-print-directory bench-loadgen
	node bench/run.mjs $(if $(QUICK),--quick)

reliability:  ## measure what holds under bad input, floods, caps, slow consumers, kill -9 and restarts; rewrites the figures in docs/reliability.md (minutes)
	scripts/setup.sh
	scripts/build.sh
	node scripts/reliability.mjs

fuzz:         ## fuzz every decoder for FUZZ_SECONDS each (default 180; nightly and cargo-fuzz, skipped without them); writes fuzz/results.json and the figures in docs/reliability.md
	FUZZ_SECONDS=$(or $(FUZZ_SECONDS),180) $(if $(FUZZ_TARGETS),FUZZ_TARGETS="$(FUZZ_TARGETS)") scripts/fuzz.sh
