"""System prompts as named modules, assembled per query within a token budget.

A :class:`ModularPrompt` is an ordered list of :class:`PromptModule` (core, policies, tool
guidance, examples, persona …), each with a description. For every query,
:class:`PromptAssembler` includes the core modules plus the optional modules relevant to
the query (MiniLM similarity to the module's name and description, or one of its
keywords in the query) that fit the budget. Output order is fixed: core modules first in
declared order, then the chosen optional modules in declared order, so the prefix is
byte-identical across queries and providers' prompt caches keep hitting. Everything up to
the declared cache breakpoint is core and is never rewritten.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import ModularPrompt, PromptAssembler, PromptModule

        prompt = ModularPrompt(
            [
                PromptModule(name="core", text="You are a support agent for Acme.", core=True),
                PromptModule(name="refunds", text="Refunds: within 30 days ...",
                             description="refund and return policy", keywords=("refund",)),
                PromptModule(name="shipping", text="Shipping: 3-5 days ...",
                             description="delivery times and shipping costs"),
            ],
            cache_breakpoint="core",
        )
        assembled = PromptAssembler(prompt, budget_tokens=400).invoke("Can I get my money back?")
        assembled.chosen  # ['core', 'refunds']
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.runnables import Runnable, RunnableConfig

from langchain_tokenopt.compression.records import AssembledPrompt, ModuleChoice
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter, get_token_counter

__all__ = ["ModularPrompt", "PromptAssembler", "PromptModule"]

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass(frozen=True)
class PromptModule:
    """One named part of a system prompt."""

    name: str
    """Unique name (letters, digits, ``_ . -``)."""
    text: str
    """The module's text, emitted byte for byte."""
    description: str = ""
    """What the module is about; matched against the query."""
    core: bool = False
    """Always included (the stable core)."""
    keywords: tuple[str, ...] = ()
    """Words or phrases that include the module when they occur in the query (case-insensitive)."""


class ModularPrompt:
    """An ordered set of prompt modules with an optional cache breakpoint.

    Args:
        modules: Modules in the order they must appear (``PromptModule`` or dicts with
            the same fields).
        cache_breakpoint: Name of the last module of the cached prefix. That module and
            every module before it must be core; they form a prefix that is never rewritten.
        separator: Text between modules.

    Example:
        .. code-block:: python

            prompt = ModularPrompt([{"name": "core", "text": "Be brief.", "core": True}])
            prompt.cached_prefix  # ''
    """

    def __init__(
        self,
        modules: Sequence[PromptModule | Mapping[str, Any]],
        *,
        cache_breakpoint: str | None = None,
        separator: str = "\n\n",
    ) -> None:
        parsed: list[PromptModule] = []
        for entry in modules:
            if isinstance(entry, Mapping):
                data = dict(entry)
                data["keywords"] = tuple(data.get("keywords", ()))
                entry = PromptModule(**data)
            if not isinstance(entry, PromptModule):
                msg = f"modules must be PromptModule or dicts, got {type(entry).__name__}"
                raise TokenOptConfigError(msg)
            if not _NAME.match(entry.name):
                msg = f"module name {entry.name!r} must use letters, digits, '_', '.' or '-'"
                raise TokenOptConfigError(msg)
            if not isinstance(entry.text, str) or not entry.text.strip():
                msg = f"module {entry.name!r} has empty text"
                raise TokenOptConfigError(msg)
            parsed.append(entry)
        if not parsed:
            msg = "a ModularPrompt needs at least one module"
            raise TokenOptConfigError(msg)
        names = [m.name for m in parsed]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            msg = f"module names must be unique, duplicated: {duplicates}"
            raise TokenOptConfigError(msg)
        prefix_len = 0
        if cache_breakpoint is not None:
            if cache_breakpoint not in names:
                msg = f"cache_breakpoint {cache_breakpoint!r} is not a module name ({names})"
                raise TokenOptConfigError(msg)
            prefix_len = names.index(cache_breakpoint) + 1
            not_core = [m.name for m in parsed[:prefix_len] if not m.core]
            if not_core:
                msg = f"modules up to the cache breakpoint must be core; not core: {not_core}"
                raise TokenOptConfigError(msg)
        self.modules: tuple[PromptModule, ...] = tuple(parsed)
        self.cache_breakpoint = cache_breakpoint
        self.separator = separator
        self._prefix_len = prefix_len

    @property
    def cached_prefix(self) -> str:
        """The text before the cache breakpoint (empty without one), as always emitted."""
        return self.separator.join(m.text for m in self.modules[: self._prefix_len])

    def module(self, name: str) -> PromptModule:
        """Return a module by name."""
        for m in self.modules:
            if m.name == name:
                return m
        msg = f"no module named {name!r}"
        raise KeyError(msg)


class PromptAssembler(Runnable[Any, AssembledPrompt]):
    """Assemble a :class:`ModularPrompt` for one query: core first, relevant modules after.

    Args:
        prompt: The modular prompt.
        budget_tokens: Token budget of the assembled prompt (``None``: no budget). Core
            modules must fit it.
        model: Target model name for counting.
        token_counter: A counter to use instead.
        threshold: Minimum relevance (cosine of query and module description, in [-1, 1])
            for an optional module.
        max_modules: At most this many optional modules (``None``: no limit).
        embeddings: Embedder with ``encode`` or a LangChain ``Embeddings``; default the
            packaged MiniLM. ``use_embeddings=False`` uses keywords only.

    Example:
        .. code-block:: python

            assembler = PromptAssembler(prompt, budget_tokens=600, threshold=0.3)
            out = assembler.invoke("How long does shipping take?")
            [(c.name, c.reason) for c in out.choices]
    """

    def __init__(
        self,
        prompt: ModularPrompt,
        *,
        budget_tokens: int | None = None,
        model: str | None = None,
        token_counter: TokenCounter | None = None,
        threshold: float = 0.3,
        max_modules: int | None = None,
        embeddings: Any = None,
        use_embeddings: bool = True,
    ) -> None:
        if not isinstance(prompt, ModularPrompt):
            msg = f"prompt must be a ModularPrompt, got {type(prompt).__name__}"
            raise TokenOptConfigError(msg)
        if budget_tokens is not None and (not isinstance(budget_tokens, int) or budget_tokens < 1):
            msg = f"budget_tokens must be a positive int or None, got {budget_tokens!r}"
            raise TokenOptConfigError(msg)
        if not -1.0 <= threshold <= 1.0:
            msg = f"threshold must be within [-1, 1], got {threshold!r}"
            raise TokenOptConfigError(msg)
        if max_modules is not None and (not isinstance(max_modules, int) or max_modules < 0):
            msg = f"max_modules must be a non-negative int or None, got {max_modules!r}"
            raise TokenOptConfigError(msg)
        self.prompt = prompt
        self.budget_tokens = budget_tokens
        self.counter = token_counter or get_token_counter(model)
        self.threshold = threshold
        self.max_modules = max_modules
        self.embeddings = embeddings
        self.use_embeddings = use_embeddings
        self._tokens = self.counter.count_batch([m.text for m in prompt.modules])
        self._sep_tokens = self.counter.count(prompt.separator)
        core_tokens = self._total([i for i, m in enumerate(prompt.modules) if m.core])
        if budget_tokens is not None and core_tokens > budget_tokens:
            msg = f"core modules need {core_tokens} tokens, more than budget_tokens={budget_tokens}"
            raise TokenOptConfigError(msg)
        self._vectors: np.ndarray | None = None
        self._lock = threading.Lock()

    def invoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AssembledPrompt:
        """Assemble for a query (a ``str`` or ``{"query": str}``)."""
        return self._call_with_config(self._assemble, input, config, run_type="prompt")

    async def ainvoke(
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AssembledPrompt:
        """Async :meth:`invoke` (embedding runs in a worker thread)."""
        return await asyncio.to_thread(self.invoke, input, config)

    # ------------------------------------------------------------------ core
    def _total(self, indexes: Sequence[int]) -> int:
        if not indexes:
            return 0
        return sum(self._tokens[i] for i in indexes) + self._sep_tokens * (len(indexes) - 1)

    def _relevance(self, query: str) -> np.ndarray:
        modules = self.prompt.modules
        scores = np.full(len(modules), -1.0)
        if self.use_embeddings and query.strip():
            embedder = self.embeddings
            if embedder is None:
                from langchain_tokenopt.embeddings import get_default_embeddings

                embedder = self.embeddings = get_default_embeddings()
            with self._lock:
                if self._vectors is None:
                    texts = [
                        f"{m.name.replace('_', ' ')}: {m.description or m.text[:300]}"
                        for m in modules
                    ]
                    self._vectors = _encode(embedder, texts)
            scores = self._vectors @ _encode(embedder, [query])[0]
        return scores

    def _assemble(self, value: Any) -> AssembledPrompt:
        query = value.get("query", "") if isinstance(value, Mapping) else value
        if not isinstance(query, str):
            msg = f"query must be a str, got {type(query).__name__}"
            raise TokenOptConfigError(msg)
        modules = self.prompt.modules
        relevance = self._relevance(query)
        low = query.lower()
        chosen = [i for i, m in enumerate(modules) if m.core]
        reasons: dict[int, str] = {i: "core" for i in chosen}
        scores = {i: 1.0 for i in chosen}
        candidates: list[tuple[float, int, str]] = []
        for i, m in enumerate(modules):
            if m.core:
                continue
            hit = next((k for k in m.keywords if k.lower() in low), None)
            score = float(relevance[i])
            scores[i] = score
            if hit is not None:
                candidates.append((max(score, 1.0), i, f"keyword {hit!r} in query"))
            elif score >= self.threshold:
                candidates.append((score, i, f"relevant ({score:.2f} >= {self.threshold:.2f})"))
            else:
                reasons[i] = f"not relevant ({score:.2f} < {self.threshold:.2f})"
        candidates.sort(key=lambda c: (-c[0], c[1]))
        optional: list[int] = []
        for _, i, why in candidates:
            if self.max_modules is not None and len(optional) >= self.max_modules:
                reasons[i] = f"over max_modules={self.max_modules}"
                continue
            trial = chosen + sorted([*optional, i])
            if self.budget_tokens is not None and self._total(trial) > self.budget_tokens:
                reasons[i] = f"over budget ({why})"
                continue
            optional.append(i)
            reasons[i] = why
        order = chosen + sorted(optional)
        text = self.prompt.separator.join(modules[i].text for i in order)
        included = set(order)
        return AssembledPrompt(
            text=text,
            chosen=[modules[i].name for i in order],
            choices=[
                ModuleChoice(
                    name=m.name,
                    included=i in included,
                    reason=reasons[i],
                    score=round(scores[i], 4),
                    tokens=self._tokens[i],
                )
                for i, m in enumerate(modules)
            ],
            tokens=self.counter.count(text),
            budget_tokens=self.budget_tokens,
            cached_prefix=self.prompt.cached_prefix,
        )


def _encode(embeddings: Any, texts: list[str]) -> np.ndarray:
    if hasattr(embeddings, "encode"):
        return np.asarray(embeddings.encode(texts), dtype=np.float64)
    vectors = np.asarray(embeddings.embed_documents(texts), dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms == 0, 1, norms)
