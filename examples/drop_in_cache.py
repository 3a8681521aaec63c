"""Drop-in semantic cache: one ``set_llm_cache`` line turns it on for every LangChain model call.

Shows, on the local SmolLM2 chat model, each outcome of a lookup (``CacheLookup.outcome``):

* ``miss``: a new question goes to the model and its answer is stored;
* ``exact_hit``: the same question again is served from the cache;
* ``semantic_hit``: a paraphrase ("What is France's capital?") is served by the semantic layer;
* ``rejected``: a near miss ("... unsafe ..." after "... safe ...") is close in embedding
  space, but the verifier turns it down and says why, so the model answers it;
* tenant isolation: another tenant (``globex``) never sees acme's entries.

Run: ``.venv/bin/python examples/drop_in_cache.py`` (offline; uses the local SmolLM2).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from langchain_core.globals import set_llm_cache
from langchain_core.outputs import Generation

from langchain_tokenopt import SemanticCache, cache_scope
from langchain_tokenopt.cache import CacheLookup, LocalBackend
from langchain_tokenopt.llms import LocalChatModel


class ExplainedCache(SemanticCache):
    """``SemanticCache`` that keeps the account of its latest lookup, for printing.

    In your code plain ``SemanticCache`` is all you need; this subclass only exposes what
    ``lookup_detailed`` says about the lookup LangChain made.
    """

    latest: CacheLookup | None = None

    def lookup(self, prompt: str, llm_string: str) -> list[Generation] | None:
        """Look up as usual and remember the full account (outcome, similarity, reason)."""
        self.latest, generations = self.lookup_detailed(prompt, llm_string)
        return generations


ASKED = [
    ("acme", "What is the capital of France?"),  # miss: the model answers, the answer is stored
    ("acme", "What is the capital of France?"),  # exact_hit
    ("acme", "What is France's capital?"),  # semantic_hit: a paraphrase
    ("acme", "Is it safe to take ibuprofen with alcohol?"),  # miss
    ("acme", "Is it unsafe to take ibuprofen with alcohol?"),  # rejected: a near miss
    ("globex", "What is the capital of France?"),  # miss: another tenant
]


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="tokenopt-example-"))
    # ``SemanticCache()`` alone keeps its entries in the user cache dir; a temp file here.
    cache = ExplainedCache(backend=LocalBackend(path=folder / "cache.sqlite"))
    set_llm_cache(cache)
    llm = LocalChatModel(max_new_tokens=24, max_sentences=1)

    for tenant, question in ASKED:
        with cache_scope(tenant_id=tenant):
            start = time.perf_counter()
            answer = llm.invoke(question)
            ms = (time.perf_counter() - start) * 1000
        found = cache.latest
        assert found is not None
        sim = "" if found.best_similarity is None else f"sim={found.best_similarity:.3f}"
        print(f"{found.outcome:12} {sim:9} {ms:8.1f} ms  ({tenant}) {question!r}")
        print(f"{'':32}-> {answer.content!r}")
        if found.reason:
            print(f"{'':32}reason: {found.reason}")
    stats = cache.stats()
    print(f"hits: exact={stats.exact_hits} semantic={stats.semantic_hits}")
    set_llm_cache(None)
    cache.close()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
