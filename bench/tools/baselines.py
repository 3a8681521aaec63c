"""langgraph-bigtool's default tool retrieval, set up as its README does (a baseline).

Its agent starts with one tool, ``retrieve_tools``; the model writes a search query, the default
retrieval function searches a LangGraph store and the hits are bound from then on (an add-only
set). Its README indexes each tool as "name: description" in an ``InMemoryStore`` with an
embedding index; we do the same with the packaged MiniLM (the embedder ours uses) and give the
user's question as the query, the most favourable query its model could write. The model round
trip that writes the query (one extra LLM call per search) is not counted in its latency.

Example::

    store = bigtool_store(catalog, embedder)
    orders = bigtool_orders(store, queries, retriever.index.position)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.tools.data import KS, Query
from langchain_tokenopt.embeddings import OnnxEmbeddings

BIGTOOL_NAMESPACE = ("tools",)


def bigtool_store(catalog: list[dict], embeddings: OnnxEmbeddings) -> Any:
    """A LangGraph ``InMemoryStore`` holding the catalog the way langgraph-bigtool's README does."""
    from langgraph.store.base import PutOp
    from langgraph.store.memory import InMemoryStore

    store = InMemoryStore(index={"embed": embeddings, "dims": 384, "fields": ["description"]})
    store.batch(
        [
            PutOp(
                BIGTOOL_NAMESPACE,
                t["name"],
                {"description": f"{t['name']}: {t.get('description') or ''}"},
            )
            for t in catalog
        ]
    )
    return store


def bigtool_retrieve(store: Any, limit: int) -> Any:
    """langgraph-bigtool's own default retrieval function, bound to ``store``."""
    from langgraph_bigtool.tools import get_default_retrieval_tool

    retrieve, _ = get_default_retrieval_tool(BIGTOOL_NAMESPACE, limit=limit)
    return lambda query: retrieve(query, store=store)


def bigtool_latency_methods(store: Any) -> dict[str, Any]:
    """langgraph-bigtool's retrieval at its default limit (2 tools per search) and at 5."""
    return {f"langgraph_bigtool_limit{n}": bigtool_retrieve(store, n) for n in (2, 5)}


def bigtool_orders(store: Any, queries: list[Query], pos: dict[str, int]) -> list[np.ndarray]:
    """Its top 10 tool ids per question (enough for every k reported)."""
    retrieve = bigtool_retrieve(store, max(KS))
    return [np.asarray([pos[key] for key in retrieve(q.text)], dtype=np.int64) for q in queries]
