#!/usr/bin/env bash
# `make demo`: install when the venv is missing or stale (timed), then run the demo, which
# prints its phases at the end: install, one-time preparation, loading and run, with times.
#
#   PY=.venv/bin/python bash scripts/demo.sh [demo.py options]   # what `make demo` runs
#
# The Makefile's own settings (VENV=..., PYTHON=...) reach the inner `make` through MAKEFLAGS.
# The recipe does not name $(MAKE), so `make -n demo` only prints it.
set -euo pipefail
PY=${PY:-.venv/bin/python}

if make --no-print-directory -q install 2>/dev/null; then
    install="installed"
else
    echo "tokenopt demo: installing the package and its extras into the venv first" \
        "(pip; about 2-3 min on 2 cores, once)"
    start=$(date +%s.%N)
    make --no-print-directory install
    end=$(date +%s.%N)
    install=$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.1f", e - s }')
fi
exec "$PY" examples/demo.py --install-seconds "$install" "$@"
