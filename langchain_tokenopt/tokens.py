"""Token counting with the real tokenizers, offline.

:class:`TokenCounter` picks the encoding from the model name and counts strings, batches of
strings, LangChain message lists and tool schemas. Every component counts with it.

Encodings by model family:

* ``o200k_base``: gpt-4o, gpt-4.1, gpt-4.5, gpt-5, o1 / o3 / o4 and chatgpt-4o families.
* ``cl100k_base``: gpt-4 (non-o), gpt-4-turbo, gpt-3.5, text-embedding-3 / ada-002.
* anything else (Claude, Llama, Gemini, Mistral, local models, unknown names): ``o200k_base``
  as a documented stand-in, with one logged warning per model name. Their own tokenizers
  differ: expect counts within roughly ±15 % for English prose (more for code and non-Latin
  scripts). Pass ``encoding=`` to force one.

Message formula (OpenAI's published chat-format accounting, extended to tool calls)::

    total = 3 (reply priming)
          + Σ_messages [ 3 + tokens(role) + tokens(text content)
                         + (1 + tokens(name) if name)
                         + Σ_tool_calls [ 3 + tokens(call name) + tokens(arguments JSON) ]
                         + tokens(tool_call_id)   for tool messages ]

Tool schemas are counted as they are sent in a ``tools`` array: each tool converted to the
OpenAI format (``{"type": "function", "function": {...}}``), serialized as compact JSON and
encoded, plus :data:`TOOLS_ARRAY_OVERHEAD` once per non-empty array.

Example:
    .. code-block:: python

        from langchain_core.messages import HumanMessage
        from langchain_tokenopt import TokenCounter

        counter = TokenCounter("gpt-4o")
        counter.count("Hello world")                       # 2
        counter.count_messages([HumanMessage("Hello world")])  # 3 + 1 + 2 + 3 = 9
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage

from langchain_tokenopt.errors import MissingDependencyError, TokenCountError, TokenOptConfigError

__all__ = [
    "MESSAGE_OVERHEAD",
    "REPLY_PRIMING",
    "TOOLS_ARRAY_OVERHEAD",
    "TOOL_CALL_OVERHEAD",
    "EncodingName",
    "TokenCounter",
    "encoding_for_model",
    "get_token_counter",
]

logger = logging.getLogger(__name__)

EncodingName = Literal["o200k_base", "cl100k_base"]

#: Tokens added per message by the chat format (``<|start|>role ... <|end|>``).
MESSAGE_OVERHEAD = 3
#: Tokens that prime the assistant's reply, once per request.
REPLY_PRIMING = 3
#: Tokens added per tool call inside an assistant message (our convention, documented above).
TOOL_CALL_OVERHEAD = 3
#: Tokens added once for a non-empty ``tools`` array (OpenAI's published estimate).
TOOLS_ARRAY_OVERHEAD = 12
#: Tokens charged for an image block (OpenAI's low-detail figure).
IMAGE_TOKENS = 85
#: Default encoding for models whose tokenizer we do not ship.
DEFAULT_ENCODING: EncodingName = "o200k_base"

_O200K = re.compile(r"^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|o1|o3|o4|chatgpt-4o|gpt-oss|codex)")
_CL100K = re.compile(r"^(gpt-4|gpt-3\.5|gpt-35|text-embedding-3|text-embedding-ada)")


def _known_encoding(model: str) -> EncodingName | None:
    """The encoding of an OpenAI model family, or ``None`` for any other model."""
    name = model.strip().lower().rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    if _O200K.match(name):
        return "o200k_base"
    if _CL100K.match(name):
        return "cl100k_base"
    return None


def encoding_for_model(model: str | None) -> EncodingName:
    """Return the encoding name used to count tokens for ``model``.

    Provider prefixes (``openai:gpt-4o``, ``openai/gpt-4o``) are ignored. Unknown or
    non-OpenAI models get :data:`DEFAULT_ENCODING` (see the module docstring for the
    expected error).
    """
    if not model:
        return DEFAULT_ENCODING
    return _known_encoding(model) or DEFAULT_ENCODING


@cache
def _warn_stand_in(model: str) -> None:
    """Log, once per model name and process, that its tokens are counted with a stand-in."""
    logger.warning(
        "TokenCounter: no tokenizer is known for model %r; counting with %s as a stand-in"
        " (expect within roughly 15%% for English prose). Pass encoding= to choose one.",
        model,
        DEFAULT_ENCODING,
    )


class TokenCounter:
    """Count tokens of strings, messages and tool schemas with a real tokenizer.

    Uses ``quicktok`` (exact against tiktoken, several times faster) when it is installed
    and ``tiktoken`` otherwise; both come with the ``tokenizers`` extra. Instances are
    cheap; :func:`get_token_counter` returns a shared one per encoding.

    A ``model`` outside the OpenAI families (Claude, Llama, a local model, a typo such as
    ``"no-such-model"``) is counted with ``o200k_base`` as a stand-in, and the first
    counter built for that model name logs one warning saying so. Pass ``encoding=`` to
    choose the encoding yourself (no warning).

    Args:
        model: Model name used to pick the encoding (see :func:`encoding_for_model`).
        encoding: Force an encoding instead of deriving it from ``model``.

    Example:
        .. code-block:: python

            counter = TokenCounter("gpt-4o")
            counter.count_batch(["one", "two words"])  # [1, 2]
            counter(messages)  # also usable as ``token_counter=`` in ``trim_messages``
    """

    def __init__(self, model: str | None = None, *, encoding: str | None = None) -> None:
        if model is not None and not isinstance(model, str):
            msg = f"model must be a string or None, got {type(model).__name__}"
            raise TokenOptConfigError(msg)
        name = encoding or encoding_for_model(model)
        if encoding is None and model and _known_encoding(model) is None:
            _warn_stand_in(model)
        if name not in ("o200k_base", "cl100k_base"):
            msg = f"encoding must be 'o200k_base' or 'cl100k_base', got {name!r}"
            raise TokenOptConfigError(msg)
        self.model = model
        self.encoding_name: str = name
        self._encode: Callable[[str], Sequence[int]]
        self._batch: Callable[[list[str]], list[int]] | None = None
        self._encode, self._batch = _backend(name)

    def __repr__(self) -> str:
        return f"TokenCounter(model={self.model!r}, encoding={self.encoding_name!r})"

    # ------------------------------------------------------------------ strings
    def count(self, text: str) -> int:
        """Count the tokens of one string (special tokens are counted as plain text)."""
        if not isinstance(text, str):
            msg = f"count() takes a str, got {type(text).__name__}"
            raise TokenCountError(msg)
        if not text:
            return 0
        return len(self._encode(_clean(text)))

    def count_batch(self, texts: Iterable[str]) -> list[int]:
        """Count many strings at once (multi-threaded fast path when quicktok is present)."""
        items = list(texts)
        for t in items:
            if not isinstance(t, str):
                msg = f"count_batch() takes strings, got {type(t).__name__}"
                raise TokenCountError(msg)
        cleaned = [_clean(t) for t in items]
        if self._batch is not None and len(cleaned) >= _SMALL_BATCH:
            return self._batch(cleaned)
        return [len(self._encode(t)) if t else 0 for t in cleaned]

    def encode(self, text: str) -> list[int]:
        """Return the token ids of ``text`` (ordinary tokens only)."""
        return list(self._encode(_clean(text)))

    # ------------------------------------------------------------------ messages
    def count_message(self, message: BaseMessage) -> int:
        """Count one message, including its per-message overhead (no reply priming)."""
        fixed, texts = self._message_parts(message)
        return fixed + sum(self.count(t) for t in texts)

    def count_each(self, messages: Sequence[BaseMessage]) -> list[int]:
        """Return :meth:`count_message` of every message, counting all their texts in one batch.

        Example:
            .. code-block:: python

                TokenCounter("gpt-4o").count_each([HumanMessage("hi"), AIMessage("hello")])
        """
        fixed: list[int] = []
        ends: list[int] = []
        texts: list[str] = []
        for message in messages:
            base, parts = self._message_parts(message)
            fixed.append(base)
            texts.extend(parts)
            ends.append(len(texts))
        sizes = self.count_batch(texts) if texts else []
        out: list[int] = []
        start = 0
        for base, end in zip(fixed, ends, strict=True):
            out.append(base + sum(sizes[start:end]))
            start = end
        return out

    def _message_parts(self, message: BaseMessage) -> tuple[int, list[str]]:
        """Fixed tokens of a message and the texts whose tokens add to them."""
        if not isinstance(message, BaseMessage):
            msg = f"expected a BaseMessage, got {type(message).__name__}"
            raise TokenCountError(msg)
        fixed = MESSAGE_OVERHEAD
        texts = [_role(message)]
        fixed += self._content_parts(message.content, texts)
        name = getattr(message, "name", None)
        if name:
            fixed += 1
            texts.append(str(name))
        if isinstance(message, AIMessage):
            for call in message.tool_calls:
                args = json.dumps(call.get("args", {}), ensure_ascii=False, separators=(",", ":"))
                fixed += TOOL_CALL_OVERHEAD
                texts += [call.get("name") or "", args]
            for bad in message.invalid_tool_calls:
                fixed += TOOL_CALL_OVERHEAD
                texts += [bad.get("name") or "", str(bad.get("args") or "")]
        if isinstance(message, ToolMessage):
            texts.append(message.tool_call_id or "")
        return fixed, texts

    def count_messages(self, messages: Sequence[BaseMessage]) -> int:
        """Count a list of messages as one chat request (formula in the module docstring)."""
        if isinstance(messages, BaseMessage | str):
            msg = "count_messages() takes a sequence of BaseMessage"
            raise TokenCountError(msg)
        items = list(messages)
        if not items:
            return 0
        return REPLY_PRIMING + sum(self.count_message(m) for m in items)

    def __call__(self, messages: Sequence[BaseMessage]) -> int:
        """Alias of :meth:`count_messages` so the counter plugs into ``trim_messages``."""
        return self.count_messages(messages)

    # ------------------------------------------------------------------ tools
    def count_tool(self, tool: Any) -> int:
        """Count one tool schema (``BaseTool``, OpenAI dict, JSON schema or pydantic model)."""
        return self.count(tool_schema_json(tool))

    def count_tools(self, tools: Sequence[Any]) -> int:
        """Count a ``tools`` array as sent to the provider (0 for an empty one)."""
        items = list(tools)
        if not items:
            return 0
        texts = [tool_schema_json(t) for t in items]
        return TOOLS_ARRAY_OVERHEAD + sum(self.count_batch(texts))

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _content_parts(content: str | list[Any], texts: list[str]) -> int:
        """Append the texts of ``content`` to ``texts``; return its fixed tokens (images)."""
        if isinstance(content, str):
            texts.append(content)
            return 0
        fixed = 0
        for block in content:
            if isinstance(block, str):
                texts.append(block)
            elif isinstance(block, dict):
                kind = block.get("type")
                if kind == "text":
                    texts.append(str(block.get("text", "")))
                elif kind in ("image", "image_url"):
                    fixed += IMAGE_TOKENS
                else:
                    texts.append(json.dumps(block, ensure_ascii=False, default=str))
            else:
                texts.append(str(block))
        return fixed


def tool_schema_json(tool: Any) -> str:
    """Serialize a tool as it appears in a provider's ``tools`` array (compact JSON).

    Accepts anything ``langchain_core.utils.function_calling.convert_to_openai_tool`` does.

    Raises:
        TokenCountError: the object cannot be converted to a tool schema.
    """
    from langchain_core.utils.function_calling import convert_to_openai_tool

    try:
        schema = convert_to_openai_tool(tool)
    except Exception as exc:
        msg = f"cannot convert {type(tool).__name__} to a tool schema: {exc}"
        raise TokenCountError(msg) from exc
    return json.dumps(schema, ensure_ascii=False, separators=(",", ":"))


def _role(message: BaseMessage) -> str:
    return {"human": "user", "ai": "assistant", "tool": "tool", "system": "system"}.get(
        message.type, message.type
    )


def _clean(text: str) -> str:
    # Lone surrogates cannot be encoded; count them as the replacement character.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


#: Fewer texts than this are encoded one by one: the batch call's fixed cost (~8 us, it
#: builds a numpy array) exceeds a short text's encoding (~1.5 us).
_SMALL_BATCH = 12
#: Batches with fewer characters are counted without worker threads (see ``_backend``).
_THREADED_BATCH_CHARS = 1_000_000


@cache
def _backend(
    name: str,
) -> tuple[Callable[[str], Sequence[int]], Callable[[list[str]], list[int]] | None]:
    from langchain_tokenopt._assets import get_encoding, has_module

    if has_module("quicktok"):
        import quicktok

        qt = quicktok.get_encoding(name)

        def batch(texts: list[str]) -> list[int]:
            # Worker threads cost ~1 ms per call to start (far more on a busy or pinned
            # core), so small batches are counted on the calling thread.
            threads = 1 if sum(map(len, texts)) < _THREADED_BATCH_CHARS else 0
            return [int(n) for n in quicktok.count_batch(qt, texts, threads=threads)]

        return qt.encode, batch
    if not has_module("tiktoken"):
        raise MissingDependencyError("A tokenizer (tiktoken / quicktok)", extra="tokenizers")
    enc = get_encoding(name)
    return enc.encode_ordinary, None


@cache
def get_token_counter(model: str | None = None) -> TokenCounter:
    """Return a shared :class:`TokenCounter` for ``model`` (cached per model name)."""
    return TokenCounter(model)
