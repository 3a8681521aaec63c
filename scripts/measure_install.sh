#!/usr/bin/env bash
# Measure what a library user installs: the wheel's size, the size of a fresh venv per extra
# (base, [cache], [all]) and the first semantic-cache call in the [cache] venv (wall and CPU
# time, whether torch was imported). The README's install table quotes these figures.
#
#   bash scripts/measure_install.sh [OUT_DIR]     # default OUT_DIR: /tmp/tokenopt-install
#
# Needs network access to PyPI (or a configured index) and about 2.5 GB of disk.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-/tmp/tokenopt-install}
PY=${PYTHON:-python3}
PIP=(-m pip install --disable-pip-version-check -q)
rm -rf "$OUT" && mkdir -p "$OUT/src" "$OUT/wheel"
# Build from a copy, so the build leaves nothing in the checkout.
cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$OUT/src/"
cp -r "$ROOT/langchain_tokenopt" "$OUT/src/"
find "$OUT/src" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m pip wheel "$OUT/src" --no-deps -w "$OUT/wheel" -q --disable-pip-version-check
WHEEL=$(ls "$OUT"/wheel/*.whl)
echo "wheel: $(basename "$WHEEL") $(du -h "$WHEEL" | cut -f1) ($(stat -c %s "$WHEEL") bytes)"
for extra in base cache all; do
  env_dir="$OUT/venv-$extra"
  "$PY" -m venv "$env_dir"
  start=$(date +%s)
  case $extra in
    base) "$env_dir/bin/python" "${PIP[@]}" "$WHEEL" ;;
    cache) "$env_dir/bin/python" "${PIP[@]}" "$WHEEL[cache]" ;;
    # torch in the same command, so pip takes the CPU build
    all) "$env_dir/bin/python" "${PIP[@]}" "torch==2.13.0" "$WHEEL[all]" ;;
  esac
  echo "venv [$extra]: $(du -sh "$env_dir" | cut -f1), pip install $(($(date +%s) - start)) s"
done
mkdir -p "$OUT/home"
cd "$OUT/home"
LANGCHAIN_TOKENOPT_HOME="$OUT/home" "$OUT/venv-cache/bin/python" - <<'EOF'
import sys
import time

from langchain_core.globals import set_llm_cache
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from langchain_tokenopt import SemanticCache

cache = SemanticCache()
set_llm_cache(cache)
llm = GenericFakeChatModel(messages=iter([AIMessage("Open Settings, then Security.")]))
t0, c0 = time.perf_counter(), time.thread_time()
llm.invoke("How do I reset my password?")
wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
llm.invoke("How can I reset my password?")
print(
    f"[cache] first call: {wall:.2f} s wall, {cpu:.2f} s CPU; "
    f"semantic hits {cache.stats().semantic_hits}; torch imported: {'torch' in sys.modules}"
)
EOF
