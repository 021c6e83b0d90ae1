# jpki-kiosk — the two commands of the README are `make demo` and `make test`.
# Both install what is missing (Debian packages, then a .venv) and are fast on a second run.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test setup system-deps pcscd lint unit screenshots bench fuzz clean package wheel deb-test speech

demo: setup pcscd
	$(BIN)/kiosk demo

# The suite on this machine's CPUs (at most 4, pytest-xdist, a test module kept whole on one
# worker), then the tests of the one virtual reader alone (tests/conftest.py says why).
TEST_JOBS ?= $(shell $(PYTHON) -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')

test: setup pcscd lint
	$(BIN)/python -m pytest -m "not reader" -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder
	$(BIN)/python -m pytest -m reader

# The fuzz harnesses of tests/fuzz with 100,000 random cases each (make test runs 10,000, fixed).
fuzz: setup
	JPKI_FUZZ_EXAMPLES=100000 JPKI_FUZZ_RANDOM=1 $(BIN)/python -m pytest -m fuzz tests/fuzz

setup: system-deps $(STAMP)

system-deps:
	@packaging/setup/system-deps.sh

# The Debian packages come first (pyscard builds with gcc, swig, libpcsclite-dev), also under -j.
$(STAMP): pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

pcscd: system-deps
	@packaging/setup/pcscd-up.sh

lint: $(STAMP)
	$(BIN)/ruff check kiosk tests bench packaging
	$(BIN)/ruff format --check kiosk tests bench packaging
	$(BIN)/lint-imports
	$(BIN)/mypy

# The spoken guidance's audio (kiosk/resources/speech, committed): the prompts whose text changed
# are synthesised again (Open JTalk, espeak-ng; docs/guidance.md). --all remakes every one.
speech: setup
	$(BIN)/python -m kiosk.ui.guidance_build

# Every screen in ja and en; then a few in large text and in portrait (docs/accessibility.md).
SHOWCASE := attract,insert-card,idle-countdown,signature-password,staff-menu,payment-receipt,insurance-eligibility,login-code-entry
screenshots: setup pcscd
	xvfb-run -a -s "-screen 0 1280x800x24" $(BIN)/python packaging/screenshots.py
	for look in "--large --size 1280x800" "--size 800x1280" "--large --size 800x1280"; do \
		xvfb-run -a -s "-screen 0 1280x1280x24" $(BIN)/python packaging/screenshots.py \
			$$look --screens $(SHOWCASE) --palette || exit 1; \
	done

bench: setup pcscd
	$(BIN)/python bench/card_bench.py
	$(BIN)/python bench/verify_bench.py
	$(BIN)/python bench/platform_bench.py
	$(BIN)/python bench/crl_bench.py
	$(BIN)/python bench/gui_bench.py

# What an installer takes away, in dist/: the wheel, and the .deb made from it (packaging/deb).
package: wheel
	packaging/deb/build.sh

# Installs dist/'s .deb into a clean Debian 12 root and runs kiosk doctor there (root; about a
# minute with JPKI_DEB_TEST_ROOT=<a debootstrap'd bookworm root> to copy, more with debootstrap).
deb-test: package
	JPKI_DEB_TEST=1 $(BIN)/python -m pytest -p no:cacheprovider -m deb tests/packaging

# The wheel and the sdist (resources and migrations inside), built from the venv's setuptools.
wheel: $(STAMP)
	rm -f dist/jpki_kiosk-*
	$(BIN)/python -m build --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache dist build
