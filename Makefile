# The README's two commands: `make lab` and `make test`. Both create the virtual environment
# .venv on first use (Python >= 3.10 and pip are all they need) and update it when
# requirements.txt changes; `make test` adds the checking tools of requirements-dev.txt.
#
#   make lab            open the series in JupyterLab
#   make test           lint, then unit tests + every notebook under nbval (the current stack)
#   make lint           ruff over utils/, tests/, scripts/, site/ and the notebooks' code cells
#   make classic-test   unit tests in the classic stack (Python 3.11, torch 2.3.1, torchtext 0.18)
#   make execute        re-execute the notebooks in place (what the committed outputs come from)
#   make browser-check  open every notebook in JupyterLab in headless Chromium, run notebook 05 and
#                       use its translate box (needs chromium and chromedriver; see .ci/run)
#   make site           the series as a static website in build/site/ (README + notebooks with their
#                       committed outputs, nothing executed), from a venv of its own, .venv-site, with
#                       only requirements-site.txt in it (no torch: the build imports none of the series)
#   make site-check     serve build/site/ on localhost and open every page in headless Chromium, at a
#                       desktop, a tablet and a phone width (adds Selenium to .venv-site)
#
# TORCH picks the torch build, e.g. `make test TORCH=torch==2.13.0`; CI pins a CPU build.

PYTHON ?= python3
TORCH ?= torch>=2.3
VENV ?= .venv
CLASSIC_PYTHON ?= python3.11
CLASSIC_VENV ?= .venv-classic
CLASSIC_PINS = torch==2.3.1 torchtext==0.18.0 "numpy<2"
SITE_VENV ?= .venv-site
PYTEST_ARGS ?=
# Jupyter refuses to start as root (containers, cloud VMs, Colab-like images) without --allow-root.
USER_ID ?= $(shell id -u)
LAB_FLAGS = $(if $(filter 0,$(USER_ID)),--allow-root)

BIN = $(VENV)/bin
CLASSIC_BIN = $(CLASSIC_VENV)/bin
SITE_BIN = $(SITE_VENV)/bin

# pytest exits 5 when it collected no test: for a suite, that is a failure (the tests vanished),
# never a pass. Each pytest target runs through this.
NO_TESTS_FAIL = rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: the suite is missing"; exit 1; fi; \
	exit $$rc

.PHONY: lab test classic-test unit lint execute browser-check site site-check clean

lab: $(VENV)/.installed
	$(BIN)/jupyter lab $(LAB_FLAGS) notebooks/

test: $(VENV)/.dev-installed lint
	@SEQ2SEQ_EXPECT_BACKEND=builtin TQDM_DISABLE=1 $(BIN)/python -m pytest tests notebooks \
	    --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -rs -p no:cacheprovider $(PYTEST_ARGS); \
	$(NO_TESTS_FAIL)

unit: $(VENV)/.dev-installed
	@SEQ2SEQ_EXPECT_BACKEND=builtin $(BIN)/python -m pytest tests -rs -p no:cacheprovider $(PYTEST_ARGS); \
	$(NO_TESTS_FAIL)

classic-test: $(CLASSIC_VENV)/.installed
	@SEQ2SEQ_EXPECT_BACKEND=torchtext $(CLASSIC_BIN)/python -m pytest tests -rs -p no:cacheprovider $(PYTEST_ARGS); \
	$(NO_TESTS_FAIL)

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check utils tests scripts site notebooks

execute: $(VENV)/.installed
	$(BIN)/python scripts/execute_notebooks.py

browser-check: $(VENV)/.dev-installed
	$(BIN)/python scripts/browser_check.py

# The site's packages (Sphinx, myst-nb, the book theme, MathJax) live in a venv of their own: the
# build reads the committed notebooks and imports none of the series' code, so it needs no torch,
# and `make lab` stays lean. The site check adds Selenium (the version requirements-dev.txt names).
site: $(SITE_VENV)/.installed
	$(SITE_BIN)/python scripts/build_site.py

site-check: $(SITE_VENV)/.check-installed
	$(SITE_BIN)/python scripts/site_check.py

$(SITE_VENV)/.installed: requirements-site.txt
	test -x $(SITE_BIN)/python || $(PYTHON) -m venv $(SITE_VENV)
	$(SITE_BIN)/python -m pip install -q --upgrade pip
	$(SITE_BIN)/python -m pip install -q -r requirements-site.txt
	touch $@

$(SITE_VENV)/.check-installed: $(SITE_VENV)/.installed requirements-dev.txt
	$(SITE_BIN)/python -m pip install -q "$$(grep -E '^selenium\b' requirements-dev.txt)"
	touch $@

$(VENV)/.installed: requirements.txt Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

$(CLASSIC_VENV)/.installed: requirements.txt requirements-dev.txt Makefile
	test -x $(CLASSIC_BIN)/python || $(CLASSIC_PYTHON) -m venv $(CLASSIC_VENV)
	$(CLASSIC_BIN)/python -m pip install -q --upgrade pip
	$(CLASSIC_BIN)/python -m pip install -q $(CLASSIC_PINS) -r requirements.txt -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) $(CLASSIC_VENV) $(SITE_VENV) data/cache build/browser build/site build/site-src build/site-doctrees build/site-check
