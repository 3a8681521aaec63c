"""Replay a cached answer as a chat-model stream.

LangChain's ``stream()`` bypasses ``BaseCache``, and a graph node that just returns a cached
``AIMessage`` shows up in ``stream_mode="messages"`` as one whole message. The cache-check
node instead *invokes* :class:`CachedAnswerModel` with the node's config: LangGraph's
messages handler then receives the answer as a sequence of ``AIMessageChunk`` tokens, exactly
like a live model, in a few microseconds per chunk.

Example:
    .. code-block:: python

        from langchain_core.messages import AIMessage
        from langchain_tokenopt.graph.replay import CachedAnswerModel

        model = CachedAnswerModel(answer=AIMessage("Paris is the capital of France."))
        chunks = [c.content for c in model.stream("ignored")]
        "".join(chunks)  # "Paris is the capital of France."
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

__all__ = ["CachedAnswerModel", "split_for_replay"]

_PIECES = re.compile(r"\S+\s*|\s+")


def split_for_replay(text: str) -> list[str]:
    """Split ``text`` into word-sized pieces whose concatenation is exactly ``text``."""
    return _PIECES.findall(text) or [""]


class CachedAnswerModel(BaseChatModel):
    """A chat model that answers with one fixed, cached message, streaming it word by word.

    Tool calls, ``usage_metadata`` and ``response_metadata`` of the cached message are kept
    (they arrive on the last chunk). The reply's ``usage_metadata`` is reported as zero
    tokens: a cache hit costs nothing.
    """

    answer: AIMessage
    """The cached answer to replay."""

    @property
    def _llm_type(self) -> str:
        return "tokenopt-cached-answer"

    def _message(self) -> AIMessage:
        meta = dict(self.answer.response_metadata or {})
        meta["tokenopt_cache_replay"] = True
        return AIMessage(
            content=self.answer.content,
            tool_calls=list(self.answer.tool_calls),
            response_metadata=meta,
            additional_kwargs=dict(self.answer.additional_kwargs or {}),
            id=self.answer.id,
            usage_metadata={"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
        )

    # The answer is fixed: stop words and settings change nothing; LangChain passes the
    # run manager by keyword (it streams the replayed chunks to the callbacks).
    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._message())])

    def _chunks(self) -> Iterator[ChatGenerationChunk]:
        message = self._message()
        text = message.content if isinstance(message.content, str) else message.text
        pieces = split_for_replay(text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            chunk = AIMessageChunk(
                content=piece,
                id=message.id,
                tool_call_chunks=[
                    {"name": c["name"], "args": _json(c["args"]), "id": c["id"], "index": n}
                    for n, c in enumerate(message.tool_calls)
                ]
                if last
                else [],
                response_metadata=message.response_metadata if last else {},
                usage_metadata=message.usage_metadata if last else None,
            )
            yield ChatGenerationChunk(message=chunk)

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        run_manager: CallbackManagerForLLMRun | None = kwargs.get("run_manager")
        for chunk in self._chunks():
            if run_manager is not None:
                run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        run_manager: AsyncCallbackManagerForLLMRun | None = kwargs.get("run_manager")
        for chunk in self._chunks():
            if run_manager is not None:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk


def _json(args: dict[str, Any]) -> str:
    import json

    return json.dumps(args, ensure_ascii=False)
