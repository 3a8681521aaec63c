"""``ToolRetriever``: a LangChain ``BaseRetriever`` over a tool catalog (BM25 + MiniLM).

Example:
    .. code-block:: python

        from langchain_tokenopt import ToolRetriever

        retriever = ToolRetriever(tools=[get_weather, send_email, search_flights], k=2)
        for doc in retriever.invoke("book me a flight to Rome", k=1):
            print(doc.metadata["name"], doc.metadata["score"])
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field, PrivateAttr, ValidationError

from langchain_tokenopt._vectors import CachedEncoder
from langchain_tokenopt.errors import TokenOptConfigError, TokenOptError, ToolSelectionError
from langchain_tokenopt.tools.catalog import OnDuplicate, build_catalog
from langchain_tokenopt.tools.index import FusionWeights, RankResult, ToolIndex
from langchain_tokenopt.tools.records import ToolSpec
from langchain_tokenopt.tools.rerank import Reranker, RerankWeights
from langchain_tokenopt.tools.store import EmbeddingStore

logger = logging.getLogger(__name__)

__all__ = ["ToolHit", "ToolRetriever"]

#: Query texts whose vectors are kept (one text each: a clause shared by the task's query
#: and the newest message, or a context text seen on the last call, is embedded once).
_QUERY_CACHE_SIZE = 2048

ToolHit = tuple[ToolSpec, float, bool]
"""``(tool, score, named in the query)``: the reranker's probability that the tool is needed
when the ranking was reranked, else the fused score."""


def _embedder_id(embeddings: Any) -> str:
    cls = type(embeddings)
    parts = [f"{cls.__module__}.{cls.__qualname__}"]
    for attr in ("model_name", "model", "backend", "quantized", "dimension"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str | int | float | bool):
            parts.append(f"{attr}={value}")
    return ";".join(parts)


#: Characters of a query that are ranked (the rest is ignored).
_MAX_QUERY_CHARS = 4000


class ToolRetriever(BaseRetriever):
    """Hybrid retriever that returns the tools relevant to a query as ``Document``s.

    Each document's ``page_content`` is ``"<name>: <description>"`` and its metadata holds
    ``name``, ``score`` (higher is better: the second stage's probability that the tool is
    needed, or the fused score with ``rerank=False`` or without the dense side), ``schema``
    (OpenAI tool format), ``namespace``, ``forced`` (the query named the tool) and ``rank``.

    A tool named in the query (``get_weather``, ``getWeather``, ``get weather``, or with one
    typo) is always returned first, whatever its description. An empty or blank query
    returns no documents.

    Args:
        tools: ``BaseTool``s, OpenAI tool dicts or JSON-schema dicts (non-empty, unique names).
        k: Documents returned by default (``invoke(query, k=...)`` overrides).
        examples: Example queries per tool name, indexed with the tool (Tool2Vec-style).
        embeddings: A LangChain ``Embeddings`` for the tool documents (default: the packaged
            MiniLM as an int8 ONNX model, one thread; the torch MiniLM when onnxruntime is
            missing).
        query_embeddings: The ``Embeddings`` for queries (default: ``embeddings``). Must be
            the same model as ``embeddings`` (a faster build of it, such as
            :class:`~langchain_tokenopt.embeddings.OnnxEmbeddings`, is fine).
        dense: Use dense similarity; ``False`` gives BM25 + names only (no torch).
        fusion: How lexical, dense, example and per-clause scores are fused
            (:class:`~langchain_tokenopt.tools.FusionWeights`; the default is the point
            calibrated on the dev splits).
        decompose: Split multi-intent queries into clauses.
        index_parameters: Index parameter names and descriptions.
        rerank: Reorder the top fused candidates with the learned second stage
            (:mod:`~langchain_tokenopt.tools.rerank`; only with the dense side).
        rerank_weights: The second stage's model (default: fitted on the BFCL and MetaTool
            dev splits).
        on_duplicate: ``"error"``, ``"first"`` or ``"last"`` for repeated tool names.
        cache_dir: Where tool vectors persist (default: ``user_cache_dir()/tool_embeddings``).
        persist: Persist tool vectors keyed by content hash (only changed tools re-embed).

    Example:
        .. code-block:: python

            retriever = ToolRetriever(tools=tools, k=5)
            docs = await retriever.ainvoke("convert 10 USD to EUR", k=3)
            [d.metadata["name"] for d in docs]
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tools: list[Any] = Field(default_factory=list, repr=False)
    k: int = 5
    examples: dict[str, list[str]] | None = Field(default=None, repr=False)
    embeddings: Any = Field(default=None, repr=False)
    query_embeddings: Any = Field(default=None, repr=False)
    dense: bool = True
    fusion: FusionWeights = Field(default_factory=FusionWeights)
    decompose: bool = True
    index_parameters: bool = True
    rerank: bool = True
    rerank_weights: RerankWeights | None = Field(default=None, repr=False)
    on_duplicate: OnDuplicate = "error"
    cache_dir: Path | str | None = None
    persist: bool = True

    _index: ToolIndex = PrivateAttr()
    _reranker: Reranker | None = PrivateAttr(default=None)
    _queries: CachedEncoder = PrivateAttr(
        default_factory=lambda: CachedEncoder(None, max_entries=_QUERY_CACHE_SIZE)
    )

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            # Re-raise our own configuration / catalog errors instead of pydantic's wrapper.
            for err in exc.errors():
                cause = (err.get("ctx") or {}).get("error")
                if isinstance(cause, TokenOptError):
                    raise cause from None
            raise

    def model_post_init(self, context: Any, /) -> None:
        """Validate the configuration and build the index."""
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            msg = f"k must be a positive int, got {self.k!r}"
            raise TokenOptConfigError(msg)
        if not isinstance(self.fusion, FusionWeights):
            msg = f"fusion must be a FusionWeights, got {type(self.fusion).__name__}"
            raise TokenOptConfigError(msg)
        specs = build_catalog(self.tools, examples=self.examples, on_duplicate=self.on_duplicate)
        embed = None
        store = None
        if self.dense:
            if self.embeddings is None:
                from langchain_tokenopt.embeddings import get_default_query_embeddings

                self.embeddings = get_default_query_embeddings()
            if self.query_embeddings is None:
                self.query_embeddings = self.embeddings
            embed = self._embed_texts
            if self.persist:
                if self.cache_dir is None:
                    from langchain_tokenopt._assets import user_cache_dir

                    root = user_cache_dir() / "tool_embeddings"
                else:
                    root = Path(self.cache_dir)
                store = EmbeddingStore(root, embedder_id=_embedder_id(self.embeddings))
        self._index = ToolIndex(
            specs,
            embed=embed,
            store=store,
            index_parameters=self.index_parameters,
            weights=self.fusion,
        )
        if self.rerank and self._index.doc_vectors is not None:
            self._reranker = Reranker(self._index, weights=self.rerank_weights)
        logger.debug("indexed %d tools (%d texts embedded)", len(specs), self._index.embedded_count)

    @classmethod
    def from_tools(cls, tools: Sequence[Any], **kwargs: Any) -> ToolRetriever:
        """Build a retriever from a catalog (same keywords as the constructor)."""
        return cls(tools=list(tools), **kwargs)

    # ------------------------------------------------------------------ catalog
    @property
    def index(self) -> ToolIndex:
        """The underlying :class:`~langchain_tokenopt.tools.index.ToolIndex`."""
        return self._index

    @property
    def specs(self) -> list[ToolSpec]:
        """The normalized catalog, in input order."""
        return self._index.specs

    @property
    def names(self) -> list[str]:
        """Tool names, in input order."""
        return self._index.names

    def get(self, name: str) -> ToolSpec:
        """Return the tool called ``name``.

        Raises:
            ToolSelectionError: no tool has that name.
        """
        pos = self._index.position.get(name)
        if pos is None:
            msg = f"no tool named {name!r} in the catalog"
            raise ToolSelectionError(msg)
        return self._index.specs[pos]

    # ------------------------------------------------------------------ embedding
    @staticmethod
    def _encode(embeddings: Any, texts: list[str]) -> np.ndarray:
        encode = getattr(embeddings, "encode", None)
        if callable(encode):
            return np.asarray(encode(texts), dtype=np.float32)
        return np.asarray(embeddings.embed_documents(texts), dtype=np.float32)

    def _embed_texts(self, texts: list[str]) -> np.ndarray:
        return self._encode(self.embeddings, texts)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """Embed query texts with the query embedder (``(len(texts), d)`` unit vectors).

        Raises:
            ToolSelectionError: the retriever has no dense side (``dense=False``).
        """
        if self.query_embeddings is None:
            msg = "this retriever has no embedder (dense=False)"
            raise ToolSelectionError(msg)
        return self._encode(self.query_embeddings, texts)

    def forget(self) -> None:
        """Drop the kept query vectors (the next rank of each text embeds it again)."""
        self._queries.clear()

    def _stacked(self, found: dict[str, np.ndarray], texts: list[str]) -> np.ndarray:
        doc_vectors = self._index.doc_vectors
        dim = 0 if doc_vectors is None else doc_vectors.shape[1]
        return np.asarray([found[t] for t in texts], dtype=np.float32).reshape(len(texts), dim)

    def _query_vectors(self, texts: list[str], parts: Sequence[str] = ()) -> np.ndarray | None:
        if self._index.doc_vectors is None:
            return None
        part_of = _part_of(parts)
        found, missing = self._queries.lookup(_wanted(texts, parts, part_of))
        if missing:
            self._queries.keep(found, missing, self.embed_queries(missing))
        return self._stacked(_joined(found, texts, parts, part_of), texts)

    async def _aquery_vectors(
        self, texts: list[str], parts: Sequence[str] = ()
    ) -> np.ndarray | None:
        if self._index.doc_vectors is None:
            return None
        part_of = _part_of(parts)
        found, missing = self._queries.lookup(_wanted(texts, parts, part_of))
        if missing:
            raw = await self.query_embeddings.aembed_documents(missing)
            self._queries.keep(found, missing, np.asarray(raw, dtype=np.float32))
        return self._stacked(_joined(found, texts, parts, part_of), texts)

    # ------------------------------------------------------------------ ranking
    @staticmethod
    def _check_query(query: Any) -> str:
        if not isinstance(query, str):
            msg = f"the query must be a str, got {type(query).__name__}"
            raise ToolSelectionError(msg)
        # a tool query is a sentence or two: bound the work on pathological (10 MB) input
        return query[:_MAX_QUERY_CHARS].strip()

    def _rank_text(
        self, text: str, vectors: np.ndarray | None, decompose: bool | None = None
    ) -> RankResult:
        """Fuse the signals of ``text``, then rerank the top candidates (when enabled)."""
        split = self.decompose if decompose is None else decompose
        signals = self._index.signals(text, vectors, decompose=split)
        result = self._index.fuse(signals)
        if self._reranker is None or not signals.has_dense:
            return result
        return self._reranker.apply(signals, result)

    def rank(
        self, query: str, *, decompose: bool | None = None, parts: Sequence[str] = ()
    ) -> RankResult | None:
        """Score every tool for ``query`` (``None`` for an empty query).

        ``decompose`` overrides the retriever's own setting for this query (``False``: the
        text is embedded whole, not also clause by clause). ``parts`` are the texts that
        ``query`` joins (a conversation's turns, in order): the query's own vector is then
        the length-weighted mean of theirs, each part embedded once and kept, instead of
        the joined text embedded anew each time a turn is added (the encoder's time grows
        with the text's length; the words are still matched on the whole query).
        """
        text = self._check_query(query)
        if not text:
            return None
        split = self.decompose if decompose is None else decompose
        texts = self._index.query_texts(text, decompose=split)
        return self._rank_text(text, self._query_vectors(texts, _parts(parts)), split)

    async def arank(
        self, query: str, *, decompose: bool | None = None, parts: Sequence[str] = ()
    ) -> RankResult | None:
        """Async :meth:`rank`: the embedding runs off the event loop."""
        text = self._check_query(query)
        if not text:
            return None
        split = self.decompose if decompose is None else decompose
        texts = self._index.query_texts(text, decompose=split)
        vectors = await self._aquery_vectors(texts, _parts(parts))
        return self._rank_text(text, vectors, split)

    def rank_batch(self, queries: Sequence[str]) -> list[RankResult | None]:
        """Rank many queries, embedding them in one batch (for evaluation and calibration)."""
        texts = [self._check_query(q) for q in queries]
        per = [self._index.query_texts(t, decompose=self.decompose) if t else [] for t in texts]
        flat = [t for group in per for t in group]
        vectors = None
        if self._index.doc_vectors is not None and flat:
            vectors = self.embed_queries(flat)
        out: list[RankResult | None] = []
        pos = 0
        for text, group in zip(texts, per, strict=True):
            if not text:
                out.append(None)
                continue
            chunk = None if vectors is None else vectors[pos : pos + len(group)]
            pos += len(group)
            out.append(self._rank_text(text, chunk))
        return out

    def hits(self, result: RankResult | None, k: int) -> list[ToolHit]:
        """The top ``k`` tools of a ranking as ``(spec, score, forced)``."""
        if result is None:
            return []
        forced = set(result.forced)
        scores = result.fused if result.probability is None else result.probability
        out: list[ToolHit] = []
        for i in result.order[:k]:
            idx = int(i)
            out.append((self._index.specs[idx], float(scores[idx]), idx in forced))
        return out

    def clause_hits(self, result: RankResult | None) -> list[list[ToolHit]]:
        """Each clause's own best tools of a multi-intent ranking, as ``(spec, score, forced)``.

        For every clause, its best tools by the clause's own score, ordered by the final
        score (the second stage's probability when reranked): what the clause asks for even
        when another clause's tools lead the whole query. Empty for one intent.
        """
        if result is None or not result.clause_tops:
            return []
        forced = set(result.forced)
        scores = result.fused if result.probability is None else result.probability
        return [
            [
                (self._index.specs[i], float(scores[i]), i in forced)
                for i in sorted(tops, key=lambda i: -float(scores[i]))
            ]
            for tops in result.clause_tops
        ]

    def _resolve_k(self, k: Any) -> int:
        if k is None:
            return self.k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            msg = f"k must be a positive int, got {k!r}"
            raise ToolSelectionError(msg)
        return k

    @staticmethod
    def _to_documents(hits: list[ToolHit]) -> list[Document]:
        docs = []
        for rank, (spec, score, forced) in enumerate(hits):
            content = f"{spec.name}: {spec.description}" if spec.description else spec.name
            docs.append(
                Document(
                    page_content=content,
                    metadata={
                        "name": spec.name,
                        "score": score,
                        "schema": spec.schema,
                        "namespace": spec.namespace,
                        "forced": forced,
                        "rank": rank,
                    },
                )
            )
        return docs

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        n = self._resolve_k(k)
        return self._to_documents(self.hits(self.rank(query), n))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        k: int | None = None,
    ) -> list[Document]:
        n = self._resolve_k(k)
        return self._to_documents(self.hits(await self.arank(query), n))


def _parts(parts: Sequence[str]) -> tuple[str, ...]:
    """The non-empty parts of a joined query, bounded like a query (two at least, or none)."""
    if isinstance(parts, str):
        msg = "parts must be a sequence of texts, not one str"
        raise ToolSelectionError(msg)
    kept = tuple(p[:_MAX_QUERY_CHARS].strip() for p in parts if isinstance(p, str))
    kept = tuple(p for p in kept if p)
    return kept if len(kept) >= 2 else ()


#: What a clause loses of a part that is one clause (its split and strip characters).
_CLAUSE_EDGES = " ,.\"'\n\t-*•;?!"


def _part_of(parts: Sequence[str]) -> dict[str, str]:
    """Each part that is a single clause, by the clause's text (the part without its stop)."""
    return {p.strip(_CLAUSE_EDGES): p for p in parts}


def _wanted(texts: list[str], parts: Sequence[str], part_of: dict[str, str]) -> list[str]:
    """What to embed: the query's texts, or its parts and clauses when it joins parts.

    A clause that is a whole part but for its punctuation ("right now" of "... right now.")
    takes the part's vector (``part_of``) rather than costing an embedding of its own.
    """
    if not parts:
        return texts
    return list(dict.fromkeys([*parts, *(part_of.get(t, t) for t in texts[1:])]))


def _joined(
    found: dict[str, np.ndarray], texts: list[str], parts: Sequence[str], part_of: dict[str, str]
) -> dict[str, np.ndarray]:
    """``found`` with the whole query's vector (``texts[0]``) made from its parts' vectors."""
    if not parts:
        return found
    weights = np.asarray([len(p) for p in parts], dtype=np.float32)
    mean = (weights[:, None] * np.stack([found[p] for p in parts])).sum(axis=0)
    norm = float(np.linalg.norm(mean))
    out = {**found, texts[0]: (mean / norm if norm > 0 else mean).astype(np.float32)}
    for clause in texts[1:]:
        if clause not in out:
            out[clause] = found[part_of[clause]]
    return out
