"""Normalize what a compressor accepts into text pieces, and map results back.

Accepted inputs (the public contract of every compressor in this package):

* ``{"context": str | list[str | Document], "question": str}`` with optional
  ``"instruction"`` (never altered, not counted) and ``"target_tokens"`` (per-call budget);
* a plain ``str`` (no question: items are ranked by centrality);
* a ``Document`` or a list of ``str`` / ``Document``;
* a list of messages: system messages (the instruction) and the last human message (the
  question) are never altered; the text of the other messages is the context.

``bytes`` are decoded as UTF-8 (invalid bytes replaced); ``dict``/``list`` entries inside a
context list are serialized as JSON (and so kept or dropped by whole entries); ``None`` and
other objects raise :class:`~langchain_tokenopt.errors.CompressionError`.

Example:
    .. code-block:: python

        from langchain_tokenopt.compression.inputs import normalize_input

        job = normalize_input({"context": ["a.", "b."], "question": "b?"})
        job.pieces, job.question  # (['a.', 'b.'], 'b?')
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_core.prompt_values import PromptValue

from langchain_tokenopt._content import text_blocks
from langchain_tokenopt.errors import CompressionError

__all__ = ["CompressionJob", "normalize_input", "rebuild_documents", "rebuild_messages"]


@dataclass
class CompressionJob:
    """A compression request reduced to plain text pieces."""

    pieces: list[str]
    """Compressible texts, one per input piece."""
    question: str = ""
    """The query used for ranking."""
    instruction: str = ""
    """Instruction text (never altered, not part of the context)."""
    documents: list[Document | None] = field(default_factory=list)
    """The input ``Document`` per piece (``None`` for plain strings)."""
    messages: list[BaseMessage] | None = None
    """The original messages when messages went in."""
    message_slots: list[int] = field(default_factory=list)
    """For messages: the message index of each piece."""
    target_tokens: int | None = None
    """Per-call budget override."""


def _to_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, dict | list | tuple | int | float | bool):
        return json.dumps(value, ensure_ascii=False, indent=1)
    msg = f"{where} must be text, got {type(value).__name__}"
    raise CompressionError(msg)


def _message_text(message: BaseMessage) -> str | None:
    texts, text_only = text_blocks(message.content)
    # Only plain-text content lists are rewritten; images and other blocks stay untouched.
    return "\n".join(texts) if text_only else None


def _from_messages(messages: Sequence[BaseMessage], question: str | None) -> CompressionJob:
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    job = CompressionJob(pieces=[], messages=list(messages))
    instruction: list[str] = []
    for i, message in enumerate(messages):
        text = _message_text(message)
        if isinstance(message, SystemMessage):
            instruction.append(text or "")
            continue
        if i == last_human or text is None or not text:
            continue
        job.pieces.append(text)
        job.documents.append(None)
        job.message_slots.append(i)
    job.instruction = "\n\n".join(instruction)
    if question is not None:
        job.question = question
    elif last_human >= 0:
        job.question = _message_text(messages[last_human]) or ""
    return job


def _from_context(context: Any) -> CompressionJob:
    if isinstance(context, str | bytes):
        return CompressionJob(pieces=[_to_text(context, "context")], documents=[None])
    if isinstance(context, Document):
        return CompressionJob(pieces=[context.page_content], documents=[context])
    if isinstance(context, PromptValue):
        return _from_messages(context.to_messages(), None)
    if isinstance(context, Sequence) and not isinstance(context, str):
        if context and all(isinstance(m, BaseMessage) for m in context):
            return _from_messages(list(context), None)
        job = CompressionJob(pieces=[])
        for position, entry in enumerate(context):
            if isinstance(entry, Document):
                job.pieces.append(entry.page_content)
                job.documents.append(entry)
            else:
                job.pieces.append(_to_text(entry, f"context[{position}]"))
                job.documents.append(None)
        return job
    kind = type(context).__name__
    msg = f"context must be a str, a Document, or a list of str/Document, got {kind}"
    raise CompressionError(msg)


def normalize_input(value: Any) -> CompressionJob:
    """Turn any accepted input into a :class:`CompressionJob`.

    Raises:
        CompressionError: the input is of a type no compressor accepts.
    """
    if isinstance(value, dict):
        if "context" not in value:
            msg = "input dict needs a 'context' key (and usually 'question')"
            raise CompressionError(msg)
        question = value.get("question")
        if question is not None and not isinstance(question, str):
            msg = f"'question' must be a str, got {type(question).__name__}"
            raise CompressionError(msg)
        context = value["context"]
        if (
            isinstance(context, Sequence)
            and context
            and all(isinstance(m, BaseMessage) for m in context)
        ):
            job = _from_messages(list(context), question)
        else:
            job = _from_context(context)
            job.question = question or ""
        instruction = value.get("instruction")
        if instruction is not None:
            job.instruction = _to_text(instruction, "instruction")
        budget = value.get("target_tokens")
        if budget is not None:
            if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
                msg = f"'target_tokens' must be a non-negative int, got {budget!r}"
                raise CompressionError(msg)
            job.target_tokens = budget
        return job
    if value is None:
        msg = "cannot compress None; pass a str, Documents, messages or a dict with 'context'"
        raise CompressionError(msg)
    return _from_context(value)


def rebuild_documents(job: CompressionJob, texts: Sequence[str]) -> list[Document]:
    """Kept text per piece as ``Document`` objects (input metadata reused by identity)."""
    out: list[Document] = []
    for piece, original, text in zip(job.pieces, job.documents, texts, strict=True):
        if not text:
            continue
        if original is None:
            out.append(Document(page_content=text))
        elif text == piece:
            out.append(original)
        else:
            out.append(original.model_copy(update={"page_content": text}))
    return out


def rebuild_messages(job: CompressionJob, texts: Sequence[str]) -> list[BaseMessage] | None:
    """The input messages with compressed contents (ids, roles and tool calls unchanged)."""
    if job.messages is None:
        return None
    messages = list(job.messages)
    for slot, piece, text in zip(job.message_slots, job.pieces, texts, strict=True):
        if text != piece:
            messages[slot] = messages[slot].model_copy(update={"content": text})
    return messages
