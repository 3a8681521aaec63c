"""Typed records of tool selection: catalog entries, classifier decisions, selections.

Example:
    .. code-block:: python

        from langchain_tokenopt.tools import ToolRetriever

        retriever = ToolRetriever.from_tools([get_weather, send_email], k=2)
        docs = retriever.invoke("what's the weather in Paris?")
        docs[0].metadata["name"], docs[0].metadata["score"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["QueryDecision", "ToolSelection", "ToolSpec"]


@dataclass(frozen=True)
class ToolSpec:
    """One tool of a catalog, normalized from a ``BaseTool``, OpenAI dict or JSON schema.

    Example:
        .. code-block:: python

            spec = ToolSpec(name="get_weather", description="Current weather", schema={...})
    """

    name: str
    """The tool name as the model sees it."""
    description: str
    """The tool description ('' when the tool has none)."""
    schema: dict[str, Any]
    """The OpenAI-format schema (``{"type": "function", "function": {...}}``)."""
    parameters: tuple[tuple[str, str], ...] = ()
    """``(parameter name, parameter description)`` pairs, nested ones flattened."""
    examples: tuple[str, ...] = ()
    """Example queries the tool answers (given by the user), indexed with the tool."""
    namespace: str | None = None
    """Category / namespace of the tool (explicit, or the name part before a dot)."""
    source: Any = field(default=None, compare=False, repr=False)
    """The object the user passed (what gets bound to the chat model)."""


@dataclass(frozen=True)
class QueryDecision:
    """What :class:`~langchain_tokenopt.tools.QueryClassifier` decided for one query.

    Example:
        .. code-block:: python

            decision = classifier.classify("hi, how are you?")
            decision.needs_tool, decision.confidence  # False, 0.93
    """

    needs_tool: bool
    """True when some tool should be bound; False means abstain (answer without tools)."""
    confidence: float
    """Confidence in ``needs_tool`` in [0.5, 1]: ``p`` if needs_tool else ``1 - p``."""
    probability: float
    """Calibrated probability in [0, 1] that the query needs a tool."""
    categories: tuple[str, ...] = ()
    """Namespaces of the best-matching tools, best first (empty when the catalog has none)."""
    forced: tuple[str, ...] = ()
    """Tool names the query mentions explicitly (these always force ``needs_tool``)."""
    always_include: tuple[str, ...] = ()
    """Tool names configured to be bound on every turn."""
    features: dict[str, float] = field(default_factory=dict)
    """The features the decision was made from (for debugging and monitoring)."""


class ToolSelection(BaseModel):
    """The tools to bind for one user turn, and what they cost in tokens.

    ``tools`` may be empty (abstained, nothing always-included and no ``find_tools``); then
    never call ``bind_tools`` with it: use :meth:`bind`, which leaves the model unbound.

    Example:
        .. code-block:: python

            selection = selector.select(state["messages"])
            model_with_tools = selection.bind(chat_model)
            selection.names, selection.bound_tokens, selection.catalog_tokens
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    tools: list[Any] = Field(default_factory=list)
    """The tool objects to bind, in a stable order (what the user passed, plus find_tools)."""
    names: list[str] = Field(default_factory=list)
    """Names of ``tools`` in the same order."""
    scores: dict[str, float] = Field(default_factory=dict)
    """Retrieval score of each selected catalog tool (always-included and loaded ones too)."""
    abstained: bool = False
    """True when the classifier decided no tool is needed for this turn."""
    confidence: float = 1.0
    """Classifier confidence in its decision (1.0 when no classifier ran)."""
    categories: list[str] = Field(default_factory=list)
    """Namespaces the classifier found relevant."""
    forced: list[str] = Field(default_factory=list)
    """Tools selected because the user named them."""
    loaded: list[str] = Field(default_factory=list)
    """Tools added inside this turn by ``find_tools`` calls."""
    carried: list[str] = Field(default_factory=list)
    """Tools kept from earlier turns (recently used), subject to the cap."""
    evicted: list[str] = Field(default_factory=list)
    """Candidate tools dropped to respect ``max_tools`` (the stalest first)."""
    turn_id: str = ""
    """Identifier of the user turn this selection belongs to."""
    bound_tokens: int = 0
    """Tokens of the bound ``tools`` array (Foundation's counter)."""
    catalog_tokens: int = 0
    """Tokens of the whole catalog as one ``tools`` array."""
    working_set: dict[str, Any] | None = None
    """The thread's tool working set after this call, as kept in the agent state (pass it
    back as ``select(..., working_set=...)`` on the next call)."""

    @property
    def saved_tokens(self) -> int:
        """Schema tokens not sent compared with binding the whole catalog."""
        return max(0, self.catalog_tokens - self.bound_tokens)

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to bind."""
        return not self.tools

    def bind(self, model: Any, **kwargs: Any) -> Any:
        """Bind the selected tools to a chat model, or return it unbound when there are none.

        Providers reject an empty ``tools`` array, so an empty selection omits the argument.
        """
        return bind_tools_if_any(model, self.tools, **kwargs)

    def event(self) -> dict[str, Any]:
        """A JSON-serializable summary for monitoring (``tokenopt_tool_selection`` event)."""
        return {
            "step": "tool_selection",
            "turn_id": self.turn_id,
            "names": list(self.names),
            "abstained": self.abstained,
            "confidence": self.confidence,
            "loaded": list(self.loaded),
            "evicted": list(self.evicted),
            "tools_bound": len(self.names),
            "tokens_before": self.catalog_tokens,
            "tokens_after": self.bound_tokens,
            "tokens_saved": self.saved_tokens,
        }


def bind_tools_if_any(model: Any, tools: list[Any], **kwargs: Any) -> Any:
    """Return ``model.bind_tools(tools, **kwargs)``, or ``model`` itself when ``tools`` is empty.

    Example:
        .. code-block:: python

            llm = bind_tools_if_any(chat_model, selection.tools)
    """
    if not tools:
        return model
    return model.bind_tools(list(tools), **kwargs)
