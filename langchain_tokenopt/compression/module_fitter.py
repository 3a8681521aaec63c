"""Fit a modular system prompt to a small budget: core modules whole, the rest compressed.

:class:`~langchain_tokenopt.compression.PromptAssembler` includes or drops whole modules, so a
relevant module larger than what is left of the budget (a 1,000-token refund policy next to
the core) is dropped, and with it the one sentence the question needed. :class:`ModuleFitter`
goes one step further, using only the public compression components:

1. the core modules are sent whole and first, byte for byte (the provider-cacheable prefix);
2. the assembler ranks the optional modules against the question; modules included by one
   of their keywords are kept whole when they fit;
3. the other modules (or the ``max_modules`` best matches) are compressed together by a
   :class:`~langchain_tokenopt.compression.QueryAwareCompressor` to what is left of the
   budget, so the sentences that answer the question survive even from a large module.

The result never exceeds ``budget_tokens`` (checked with the same tokenizer). It plugs into
:func:`~langchain_tokenopt.build_optimized_agent` as ``compressor=`` (a callable
``(system_prompt, question) -> str``).

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import ModularPrompt
        from langchain_tokenopt.compression.module_fitter import ModuleFitter

        prompt = ModularPrompt(
            [
                {"name": "core", "text": "You are the Acme support agent.", "core": True},
                {"name": "returns", "text": returns_policy, "description": "return windows"},
            ],
            cache_breakpoint="core",
        )
        fitter = ModuleFitter(prompt, budget_tokens=300)
        fitter.fit("How long can I return boots?").text
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_tokenopt.compression.modular_prompt import ModularPrompt, PromptAssembler
from langchain_tokenopt.compression.query_aware import QueryAwareCompressor
from langchain_tokenopt.errors import TokenOptConfigError
from langchain_tokenopt.tokens import TokenCounter, get_token_counter

__all__ = ["FittedPrompt", "ModuleFitter"]


@dataclass(frozen=True)
class FittedPrompt:
    """The system prompt :class:`ModuleFitter` built for one question."""

    text: str
    """The system prompt to send: core modules, then kept and compressed module text."""
    tokens: int
    """Tokens of ``text`` (the fitter's tokenizer); never above the budget."""
    whole: list[str] = field(default_factory=list)
    """Optional modules sent whole (included by a keyword of the question)."""
    compressed: list[str] = field(default_factory=list)
    """Optional modules whose relevant sentences were compressed into the prompt."""
    compressed_tokens: tuple[int, int] = (0, 0)
    """Tokens of the compressed modules before and after compression."""


class ModuleFitter:
    """Core modules whole, keyword modules whole, relevant modules compressed to the budget.

    Args:
        prompt: The modular system prompt.
        budget_tokens: Token budget of the whole system prompt; the core modules must leave
            room in it.
        token_counter: Counter for the budget (default: ``model``'s tokenizer).
        model: Model name that picks the tokenizer when no counter is given.
        embeddings: Embedder shared by the module ranking and the compressor (default: the
            packaged int8 ONNX MiniLM).
        threshold: Minimum cosine between the question and a module's description for the
            module to be a candidate (the assembler's threshold).
        max_modules: At most this many optional modules (best description match first) are
            candidates; ``None`` (default) makes every optional module a candidate and lets
            the compressor pick their sentences.
        ranking: The compressor's ``RankingConfig`` (e.g. ``RankingConfig.thorough()``, which
            embeds every sentence once and reuses the vectors on later calls).

    Example:
        .. code-block:: python

            fitter = ModuleFitter(prompt, budget_tokens=400, model="gpt-4o")
            graph = build_optimized_agent(model, tools, system_prompt=prompt, compressor=fitter)
    """

    def __init__(
        self,
        prompt: ModularPrompt,
        *,
        budget_tokens: int,
        token_counter: TokenCounter | None = None,
        model: str | None = None,
        embeddings: Any = None,
        threshold: float = 0.3,
        max_modules: int | None = None,
        ranking: Any = None,
    ) -> None:
        if not isinstance(prompt, ModularPrompt):
            msg = f"prompt must be a ModularPrompt, got {type(prompt).__name__}"
            raise TokenOptConfigError(msg)
        if isinstance(budget_tokens, bool) or not isinstance(budget_tokens, int):
            msg = f"budget_tokens must be a positive int, got {budget_tokens!r}"
            raise TokenOptConfigError(msg)
        if max_modules is not None and (
            isinstance(max_modules, bool) or not isinstance(max_modules, int) or max_modules < 1
        ):
            msg = f"max_modules must be a positive int or None, got {max_modules!r}"
            raise TokenOptConfigError(msg)
        self.prompt = prompt
        self.budget_tokens = budget_tokens
        self.counter = token_counter or get_token_counter(model)
        self.separator = prompt.separator
        self._sep_tokens = self.counter.count(prompt.separator)
        self.core_text = prompt.separator.join(m.text for m in prompt.modules if m.core)
        self.core_tokens = self.counter.count(self.core_text) if self.core_text else 0
        if self.core_tokens + self._sep_tokens >= budget_tokens:
            msg = (
                f"budget_tokens={budget_tokens} leaves no room after the core modules "
                f"({self.core_tokens} tokens); raise it or make fewer modules core"
            )
            raise TokenOptConfigError(msg)
        self.assembler = PromptAssembler(
            prompt,
            budget_tokens=None,
            token_counter=self.counter,
            threshold=threshold,
            max_modules=max_modules,
            embeddings=embeddings,
            # Without a cap every optional module is a candidate: only keywords matter here.
            use_embeddings=max_modules is not None,
        )
        self.max_modules = max_modules
        self._room = budget_tokens - self.core_tokens - (self._sep_tokens if self.core_text else 0)
        self.compressor = QueryAwareCompressor(
            target_tokens=self._room,
            token_counter=self.counter,
            embeddings=embeddings,
            ranking=ranking,
        )
        self._order = {m.name: i for i, m in enumerate(prompt.modules)}

    def __call__(self, system_prompt: Any, question: str) -> str:
        """Return the fitted prompt text (the graph's ``compressor`` callable form)."""
        return self.fit(question).text

    def fit(self, question: str) -> FittedPrompt:
        """Build the system prompt for ``question`` within ``budget_tokens``."""
        assembled = self.assembler.invoke(question)
        optional = [
            c
            for c in assembled.choices
            if c.reason != "core" and (c.included or self.max_modules is None)
        ]
        by_keyword = [c for c in optional if c.included and c.reason.startswith("keyword")]
        room = self._room
        whole: list[str] = []
        for choice in sorted(by_keyword, key=lambda c: -c.score):
            cost = choice.tokens + (self._sep_tokens if whole else 0)
            if cost <= room - self._sep_tokens:
                whole.append(choice.name)
                room -= cost
        rest = [c.name for c in optional if c.name not in whole]
        pieces: dict[str, str] = {n: self.prompt.module(n).text for n in whole}
        before = after = 0
        if rest and room > 2 * self._sep_tokens + 8:
            texts = [self.prompt.module(n).text for n in rest]
            target = room - (self._sep_tokens if whole else 0)
            result = self.compressor.invoke(
                {"context": texts, "question": question, "target_tokens": target}
            )
            before, after = result.tokens_before, result.tokens_after
            if result.text.strip():
                pieces[rest[0]] = result.text
        text = self._join(pieces)
        tokens = self.counter.count(text)
        while tokens > self.budget_tokens and pieces:
            # Separators can merge into tokens differently once joined: drop the last piece.
            pieces.pop(max(pieces, key=lambda n: self._order[n]))
            text = self._join(pieces)
            tokens = self.counter.count(text)
        return FittedPrompt(
            text=text,
            tokens=tokens,
            whole=[n for n in whole if n in pieces],
            compressed=rest if rest and rest[0] in pieces else [],
            compressed_tokens=(before, after),
        )

    def _join(self, pieces: dict[str, str]) -> str:
        ordered: Sequence[str] = [pieces[n] for n in sorted(pieces, key=lambda n: self._order[n])]
        return self.separator.join([t for t in (self.core_text, *ordered) if t])
