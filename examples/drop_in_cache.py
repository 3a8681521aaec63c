"""Drop-in semantic cache: three lines turn it on for every LangChain model call.

Run: ``.venv/bin/python examples/drop_in_cache.py`` (offline; uses the local SmolLM2).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from langchain_core.globals import set_llm_cache

from langchain_tokenopt import SemanticCache, cache_scope
from langchain_tokenopt.cache import LocalBackend
from langchain_tokenopt.llms import LocalChatModel


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tokenopt-example-"))
    # The three lines (``SemanticCache()`` alone uses the user cache dir; a temp file here).
    set_llm_cache(SemanticCache(backend=LocalBackend(path=folder / "cache.sqlite")))
    llm = LocalChatModel(max_new_tokens=24)

    for question in ("What is the capital of France?", "What is the capital of France?"):
        with cache_scope(tenant_id="acme"):
            start = time.perf_counter()
            answer = llm.invoke(question)
            print(f"{(time.perf_counter() - start) * 1000:9.1f} ms  {answer.content!r}")
    with cache_scope(tenant_id="globex"):  # another tenant never sees acme's entries
        start = time.perf_counter()
        answer = llm.invoke("What is the capital of France?")
        print(f"{(time.perf_counter() - start) * 1000:9.1f} ms  {answer.content!r} (globex)")
    set_llm_cache(None)


if __name__ == "__main__":
    main()
