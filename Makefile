# The project's entry points. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
# Parallel test threads; the machine has 2 cores but most tests wait on the kernel.
TEST_THREADS ?= 4

.PHONY: all deps build test demo bench fuzz soak fmt lint clean install

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(CARGO) build --workspace --all-targets

# Every test: unit, golden, kernel (BPF_PROG_TEST_RUN, XDP on veth in netns) and end-to-end.
# Kernel tests need root. Every test binary runs even after one fails (--no-fail-fast), so a
# failure does not hide how the rest fare.
test: deps
	$(CARGO) build --workspace --all-targets
	$(CARGO) test --workspace --no-fail-fast -- --test-threads=$(TEST_THREADS)
	# The VM's and the standard library's kernel tests again on the objects built for TC
	# (with the random chains and the semantic tests fused too, as at XDP), and the corpus
	# fused against interpreted at TC.
	HIKE_TEST_HOOK=tc_ingress $(CARGO) test -p hike-vm-tests -p hike-stdlib-tests --no-fail-fast -- --test-threads=$(TEST_THREADS)
	HIKE_TEST_HOOK=tc_ingress $(CARGO) test -p eclat-link --test kernel_fused --no-fail-fast -- --test-threads=$(TEST_THREADS)

demo: deps
	@bash scripts/demo.sh

# The benchmarks of PERFORMANCE.md (root): builds hike-bench and eclatd (release, side by side:
# control_plane starts that eclatd) and writes bench/results/. ARGS for hike-bench, e.g.
# `make bench ARGS="--scenario control_plane"`.
bench: deps
	@bash scripts/bench.sh $(ARGS)

# Long robustness runs (RELIABILITY.md): mutation fuzzing of the eCLAT front end and
# differential testing of the kernel VM against the reference VM. FUZZ_MINUTES per campaign.
FUZZ_MINUTES ?= 10
fuzz: deps
	$(CARGO) run --release -p eclat-fuzz --bin eclat-fuzz -- --minutes $(FUZZ_MINUTES)
	HIKE_DIFF_CASES=20000 $(CARGO) test --release -p hike-vm-tests --test kernel_differential

# The daemon's long load run: SOAK_CYCLES load/unload cycles of Listing 2 through eclatd,
# descriptors, BPF objects, pins and memory measured before and after (printed).
SOAK_CYCLES ?= 1000
soak: deps
	ECLATD_SOAK_CYCLES=$(SOAK_CYCLES) $(CARGO) test --release -p eclatd --test faults load_unload_cycles_leak_nothing -- --nocapture

# eclat and eclatd (release), eclatd's systemd unit, completions and man pages, under
# DESTDIR/PREFIX (see scripts/install.sh). The service is not enabled or started.
PREFIX ?= /usr/local
install:
	PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" CARGO="$(CARGO)" bash scripts/install.sh

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
