"""Typed records returned by the compressors and the prompt assembler.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression import QueryAwareCompressor

        result = QueryAwareCompressor(target_tokens=200).invoke(
            {"context": long_text, "question": "Who founded the city?"}
        )
        result.text, result.tokens_before, result.tokens_after, result.ratio
"""

from __future__ import annotations

from typing import Literal

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AssembledPrompt",
    "CompressionMethod",
    "CompressionResult",
    "DroppedItem",
    "ItemKind",
    "ModuleChoice",
]

#: How a result was produced.
CompressionMethod = Literal[
    "unchanged",
    "query_aware",
    "query_aware+importance",
    "llmlingua",
    "longllmlingua",
    "passthrough",
]

#: What kind of unit an item is.
ItemKind = Literal[
    "document", "paragraph", "sentence", "fragment", "json_entry", "json", "code", "block"
]


class DroppedItem(BaseModel):
    """One unit of the context the compressor left out.

    Example:
        .. code-block:: python

            for item in result.dropped_items:
                print(item.source, item.kind, item.tokens, item.score)
    """

    model_config = ConfigDict(frozen=True)

    source: int
    """Index of the input piece it came from (document, list entry or message)."""
    index: int
    """Position of the item among all items of the input, in reading order."""
    kind: ItemKind
    """Granularity of the item."""
    text: str
    """The item's text, byte for byte as it was in the input."""
    tokens: int
    """Its size in tokens of the target model's tokenizer."""
    score: float
    """Relevance score used for ranking (higher is more relevant)."""


class CompressionResult(BaseModel):
    """The outcome of one compression.

    ``text`` is always the compressed context as one string; ``documents`` holds the kept
    items grouped by the input piece they came from (the original ``Document`` objects'
    metadata dicts are reused, not copied); ``messages`` is set when messages went in.

    Example:
        .. code-block:: python

            result = compressor.invoke({"context": docs, "question": q})
            assert result.tokens_after <= compressor.target_tokens
            [d.metadata["source"] for d in result.documents]
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    text: str
    """The compressed context as one string (pieces joined in their original order)."""
    documents: list[Document] = Field(default_factory=list)
    """Kept content per input piece, in original order, with the input's metadata."""
    messages: list[BaseMessage] | None = None
    """The rewritten message list when the input was a list of messages, else ``None``."""
    tokens_before: int
    """Tokens of the context before compression (target model's tokenizer)."""
    tokens_after: int
    """Tokens of :attr:`text` after compression."""
    ratio: float
    """``tokens_before / tokens_after`` (1.0 when nothing was removed or both are 0)."""
    dropped_items: list[DroppedItem] = Field(default_factory=list)
    """Units left out, in reading order."""
    method: CompressionMethod
    """How the result was produced (``"unchanged"`` when the input was already in budget)."""
    question: str = ""
    """The question used for ranking (never altered)."""
    elapsed_ms: float = 0.0
    """Wall time of the compression in milliseconds."""
    warnings: list[str] = Field(default_factory=list)
    """Anything that made the compressor fall back (it fails open, never raises at run time)."""


class ModuleChoice(BaseModel):
    """Why a prompt module was or was not included.

    Example:
        .. code-block:: python

            for choice in assembled.choices:
                print(choice.name, choice.included, choice.reason)
    """

    model_config = ConfigDict(frozen=True)

    name: str
    """Module name."""
    included: bool
    """Whether the module is in the assembled prompt."""
    reason: str
    """Human-readable reason (``"core"``, ``"relevant (0.61 >= 0.35)"``, ``"over budget"`` …)."""
    score: float
    """Relevance of the module to the query (1.0 for core modules)."""
    tokens: int
    """The module's size in tokens."""


class AssembledPrompt(BaseModel):
    """A system prompt assembled for one query.

    Example:
        .. code-block:: python

            assembled = assembler.invoke("How do I get a refund?")
            SystemMessage(assembled.text)
            assembled.chosen  # ["core", "refund_policy"]
    """

    model_config = ConfigDict(frozen=True)

    text: str
    """The assembled prompt: included modules in declared order, joined by the separator."""
    chosen: list[str]
    """Names of the included modules, in output order."""
    choices: list[ModuleChoice]
    """One entry per module in declared order, included or not, with the reason."""
    tokens: int
    """Tokens of :attr:`text`."""
    budget_tokens: int | None
    """The budget it was assembled under (``None`` for no budget)."""
    cached_prefix: str
    """The stable prefix before the cache breakpoint, byte for byte (empty if none)."""
