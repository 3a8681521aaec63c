"""Normalize a tool catalog and build the texts that get indexed.

Accepted tools: LangChain ``BaseTool`` objects, OpenAI-style dicts
(``{"type": "function", "function": {...}}``) and JSON-schema / function dicts
(``{"name", "description", "parameters"}`` or ``{"title", "properties", ...}``). Optional
keys read from a dict (or from ``BaseTool.metadata``): ``examples`` (example queries) and
``namespace``.

Rules (tested):

* an empty catalog, a tool without a name, or a non-string example raises
  :class:`~langchain_tokenopt.errors.ToolSelectionError`;
* duplicate names raise unless ``on_duplicate="first"`` / ``"last"`` says which one wins;
* a tool without a description is indexed by its name and parameters (a debug log says so).

Example:
    .. code-block:: python

        from langchain_tokenopt.tools.catalog import build_catalog

        specs = build_catalog([get_weather, {"name": "send_email", "description": "Send mail"}])
        specs[0].name, specs[0].parameters
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from langchain_tokenopt.errors import ToolSelectionError
from langchain_tokenopt.tools.records import ToolSpec

logger = logging.getLogger(__name__)

__all__ = [
    "OnDuplicate",
    "build_catalog",
    "content_hash",
    "dense_text",
    "lexical_text",
    "name_words",
    "tokenize",
]

OnDuplicate = Literal["error", "first", "last"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "get",
        "give",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "show",
        "should",
        "so",
        "some",
        "tell",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "this",
        "to",
        "up",
        "us",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_MAX_PARAMS = 64


def name_words(name: str) -> list[str]:
    """Split a tool name into lowercase words (snake_case, camelCase, dots, dashes)."""
    spaced = _CAMEL.sub(" ", name)
    return _WORD.findall(spaced.lower())


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lexical tokens for BM25: camelCase split, lowercase, stopwords dropped, light stemming."""
    words = _WORD.findall(_CAMEL.sub(" ", text).lower())
    return [_stem(w) for w in words if w not in _STOPWORDS]


def content_hash(text: str) -> str:
    """Stable content hash (sha256 hex) of an indexed text."""
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def dense_text(spec: ToolSpec, *, with_parameters: bool = True) -> str:
    """The text embedded for a tool: name words, description and (optionally) parameters."""
    head = " ".join(name_words(spec.name)) or spec.name
    text = f"{head}: {spec.description}" if spec.description else head
    if with_parameters and spec.parameters:
        params = ", ".join(" ".join(name_words(p)) or p for p, _ in spec.parameters)
        text = f"{text}. Parameters: {params}"
    return text


def lexical_text(spec: ToolSpec, *, with_parameters: bool = True) -> str:
    """The text BM25 indexes: name, description, parameter names/descriptions and examples."""
    parts = [spec.name, spec.name, spec.description]
    if with_parameters:
        for pname, pdesc in spec.parameters:
            parts.append(pname)
            parts.append(pdesc)
    parts.extend(spec.examples)
    return " ".join(p for p in parts if p)


def _flatten_parameters(schema: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if not isinstance(schema, Mapping) or depth > 3:
        return out
    props = schema.get("properties")
    if isinstance(props, Mapping):
        for key, sub in props.items():
            desc = ""
            if isinstance(sub, Mapping):
                desc = str(sub.get("description") or sub.get("title") or "")
            out.append((f"{prefix}{key}", desc))
            if isinstance(sub, Mapping):
                out.extend(_flatten_parameters(sub, f"{prefix}{key}.", depth + 1))
                items = sub.get("items")
                if isinstance(items, Mapping):
                    out.extend(_flatten_parameters(items, f"{prefix}{key}.", depth + 1))
    return out[:_MAX_PARAMS]


def _extras(tool: Any) -> tuple[list[str], str | None]:
    source: Any = tool if isinstance(tool, Mapping) else getattr(tool, "metadata", None)
    examples: list[str] = []
    namespace: str | None = None
    if isinstance(source, Mapping):
        raw = source.get("examples") or ()
        if isinstance(raw, str):
            raw = [raw]
        for ex in raw:
            if not isinstance(ex, str):
                msg = f"tool examples must be strings, got {type(ex).__name__}"
                raise ToolSelectionError(msg)
            if ex.strip():
                examples.append(ex.strip())
        ns = source.get("namespace")
        if ns is not None:
            namespace = str(ns)
    return examples, namespace


def to_spec(tool: Any, *, examples: Sequence[str] = ()) -> ToolSpec:
    """Normalize one tool into a :class:`ToolSpec`.

    Raises:
        ToolSelectionError: the object is not a tool, or it has no name.
    """
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if tool is None or isinstance(tool, str | bytes | int | float):
        msg = f"not a tool: {tool!r} (pass a BaseTool, an OpenAI tool dict or a JSON schema)"
        raise ToolSelectionError(msg)
    try:
        schema = convert_to_openai_tool(tool)
    except Exception as exc:
        msg = f"cannot read a tool schema from {type(tool).__name__}: {exc}"
        raise ToolSelectionError(msg) from exc
    function = schema.get("function") if isinstance(schema, Mapping) else None
    if not isinstance(function, Mapping):
        msg = f"cannot read a tool schema from {type(tool).__name__}: no 'function' section"
        raise ToolSelectionError(msg)
    name = function.get("name")
    if not isinstance(name, str) or not name.strip():
        msg = f"every tool needs a non-empty string name, got {name!r}"
        raise ToolSelectionError(msg)
    description = str(function.get("description") or "").strip()
    if not description:
        logger.debug("tool %r has no description: indexed by name and parameters", name)
    own_examples, namespace = _extras(tool)
    if namespace is None and "." in name.strip(".") and len(name.split(".")[0]) > 1:
        namespace = name.split(".")[0]
    all_examples = tuple(dict.fromkeys([*own_examples, *(e.strip() for e in examples)]))
    return ToolSpec(
        name=name,
        description=description,
        schema=dict(schema),
        parameters=tuple(_flatten_parameters(function.get("parameters"))),
        examples=tuple(e for e in all_examples if e),
        namespace=namespace,
        source=tool,
    )


def build_catalog(
    tools: Iterable[Any],
    *,
    examples: Mapping[str, Sequence[str]] | None = None,
    on_duplicate: OnDuplicate = "error",
) -> list[ToolSpec]:
    """Normalize a catalog, validating names and attaching example queries.

    Args:
        tools: ``BaseTool`` objects, OpenAI tool dicts or JSON-schema dicts.
        examples: Extra example queries per tool name (unknown names raise).
        on_duplicate: ``"error"`` (default) raises on a repeated name; ``"first"`` /
            ``"last"`` keep that definition.

    Raises:
        ToolSelectionError: empty catalog, bad tool, duplicate name, examples for an
            unknown tool.
    """
    if on_duplicate not in ("error", "first", "last"):
        msg = f"on_duplicate must be 'error', 'first' or 'last', got {on_duplicate!r}"
        raise ToolSelectionError(msg)
    if isinstance(tools, Mapping | str | bytes):
        msg = "tools must be a list of tools, not a single dict or string"
        raise ToolSelectionError(msg)
    extra = dict(examples or {})
    by_name: dict[str, ToolSpec] = {}
    for tool in tools:
        spec = to_spec(tool)
        if spec.name in by_name:
            if on_duplicate == "error":
                msg = (
                    f"duplicate tool name {spec.name!r}: tool names must be unique "
                    "(or pass on_duplicate='first' / 'last')"
                )
                raise ToolSelectionError(msg)
            if on_duplicate == "first":
                continue
            del by_name[spec.name]
        by_name[spec.name] = spec
    if not by_name:
        msg = "the tool catalog is empty: pass at least one tool"
        raise ToolSelectionError(msg)
    unknown = sorted(set(extra) - set(by_name))
    if unknown:
        msg = f"examples given for unknown tools: {unknown[:5]}"
        raise ToolSelectionError(msg)
    specs = []
    for spec in by_name.values():
        more = extra.get(spec.name)
        if more:
            if isinstance(more, str) or not all(isinstance(e, str) for e in more):
                msg = f"examples for {spec.name!r} must be a list of strings"
                raise ToolSelectionError(msg)
            merged = tuple(dict.fromkeys([*spec.examples, *(e.strip() for e in more if e.strip())]))
            spec = ToolSpec(
                name=spec.name,
                description=spec.description,
                schema=spec.schema,
                parameters=spec.parameters,
                examples=merged,
                namespace=spec.namespace,
                source=spec.source,
            )
        specs.append(spec)
    return specs
