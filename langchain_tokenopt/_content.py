"""The text blocks of a LangChain message's content, shared by every component.

Example:
    .. code-block:: python

        text_blocks([{"type": "text", "text": "hi"}, {"type": "image_url"}])
        # (['hi'], False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["text_blocks"]


def text_blocks(content: str | Sequence[Any]) -> tuple[list[str], bool]:
    """Return the text of each text block of ``content`` and whether it holds only text.

    A plain string is one block; in a content list, strings and ``{"type": "text"}`` blocks
    are text, anything else (images, tool-use blocks) makes it not text-only.
    """
    if isinstance(content, str):
        return [content], True
    texts: list[str] = []
    text_only = True
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif isinstance(block, Mapping) and block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        else:
            text_only = False
    return texts, text_only
