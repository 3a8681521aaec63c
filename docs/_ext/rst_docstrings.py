"""Griffe extension: render the package's reStructuredText-isms as Markdown.

The docstrings follow LangChain's Google style, which keeps two Sphinx habits: examples in
``.. code-block:: python`` directives (and ``::`` literal blocks), and cross-reference roles such
as ``:class:`TokenOptError```. mkdocstrings renders docstrings as Markdown, where both would show
as literal text. This extension rewrites them when griffe loads each object, for the docs site
only; the source stays as it is.

* ``.. code-block:: LANG`` and ``.. code:: LANG`` followed by an indented block become a fenced
  block in LANG;
* a paragraph ending in ``::`` followed by an indented block becomes the paragraph (ending in
  ``:``) and a fenced ``text`` block;
* ```text <url>`_`` links become Markdown links;
* ``:role:`target``` and ``:role:`~pkg.mod.Name``` become inline code (the ``~`` form keeps the
  last component, as Sphinx shows it).
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension, Object

_ROLES = "class|func|meth|attr|mod|data|exc|obj|const|ref|doc"
_ROLE = re.compile(rf":(?:py:)?(?:{_ROLES}):`(~?)([^`]+)`")
_DIRECTIVE = re.compile(
    r"^(?P<indent>[ \t]*)\.\. (?:code-block|code|sourcecode)::[ \t]*(?P<lang>\S*)[ \t]*$"
)
_LINK = re.compile(r"`([^`<]+?)\s*<(https?://[^>\s]+)>`__?", re.S)
_LITERAL = re.compile(r"^(?P<indent>[ \t]*)(?P<text>.*?)::[ \t]*$")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    if match.group(1) == "~":
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _take_block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """Collect the indented block after line ``start - 1``; return it (dedented) and the end."""
    i = start
    while i < len(lines) and not lines[i].strip():
        i += 1
    block: list[str] = []
    while i < len(lines) and (not lines[i].strip() or _indent_of(lines[i]) > indent):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
        i -= 1
    body = [line for line in block if line.strip()]
    cut = min((_indent_of(line) for line in body), default=0)
    return [line[cut:] if line.strip() else "" for line in block], i


def rst_to_markdown(text: str) -> str:
    """Return ``text`` with code-block directives, literal blocks and roles in Markdown."""
    text = _LINK.sub(lambda m: f"[{' '.join(m.group(1).split())}]({m.group(2)})", text)
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
        if not in_fence:
            directive = _DIRECTIVE.match(line)
            literal = None if directive else _LITERAL.match(line)
            if directive or (literal and literal.group("text").strip() not in {"", ".."}):
                match = directive or literal
                assert match is not None
                indent = match.group("indent")
                block, end = _take_block(lines, i + 1, len(indent))
                if block:
                    if directive:
                        lang = directive.group("lang") or "text"
                    else:
                        assert literal is not None
                        out.append(f"{indent}{literal.group('text').rstrip()}:")
                        out.append("")
                        lang = "text"
                    out.append(f"{indent}```{lang}")
                    out.extend(f"{indent}{b}" if b else "" for b in block)
                    out.append(f"{indent}```")
                    i = end
                    continue
            line = _ROLE.sub(_role, line)
        out.append(line)
        i += 1
    return "\n".join(out)


class RstDocstrings(Extension):
    """Rewrite every loaded docstring with :func:`rst_to_markdown`."""

    def on_instance(self, *, obj: Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring in place (called once per object griffe loads)."""
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
