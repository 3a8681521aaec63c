"""The system-prompt step of one request: the prompt fitted to the question.

The fitted prompt is memoized per question (:class:`FittedPrompts`): the calls of one tool
loop (same question) send the same system prompt without compressing it again. (In the
prefix-stable mode :class:`~langchain_tokenopt.graph.pipeline.OptimizerPipeline` sends the
thread's prompt, fitted on its first question, again as it is.)

Example:
    .. code-block:: python

        fitted, whole = FittedPrompts(), system_text_of(prompt)
        step = system_step(
            whole, lambda: fitted.fit(fitter, prompt, question),
            before=counter.count(whole), count=counter.count,
        )
        text = run_step(recorder, step)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from langchain_tokenopt.compression.modular_prompt import ModularPrompt
from langchain_tokenopt.graph.step import Step
from langchain_tokenopt.protocols import PromptFitter
from langchain_tokenopt.tools.working_set import is_reply

__all__ = ["FittedPrompts", "prompt_question", "system_step", "system_text_of"]

#: Fitted system prompts kept per pipeline (one per recent question).
_FITTED_PROMPTS = 64


def system_text_of(system_prompt: Any) -> str:
    """The whole text of a system prompt: a string, a ``ModularPrompt`` (every module) or None.

    Example:
        .. code-block:: python

            system_text_of(None)  # ""
    """
    if system_prompt is None:
        return ""
    if isinstance(system_prompt, str):
        return system_prompt
    if isinstance(system_prompt, ModularPrompt):  # every module, in order
        return system_prompt.separator.join(m.text for m in system_prompt.modules)
    text = getattr(system_prompt, "text", None)
    if callable(text):
        return str(text())
    if isinstance(text, str):
        return text
    render = getattr(system_prompt, "render", None)
    if callable(render):
        return str(render())
    return str(system_prompt)


def prompt_question(messages: Sequence[BaseMessage]) -> str:
    """The question the system prompt is fitted to: the user's newest request.

    That is the newest human message, unless it only replies to the agent ("Yes, please go
    ahead", "Sure, my user id is ..."; see :func:`~langchain_tokenopt.tools.working_set.is_reply`):
    a reply brings no new subject, so the prompt stays fitted to the request it answers (the
    newest human message before it that is not a reply) and is not compressed again.

    Example:
        .. code-block:: python

            prompt_question([HumanMessage("Cancel my flight."), AIMessage("Sure?"),
                             HumanMessage("Yes, please.")])  # "Cancel my flight."
    """
    newest: str | None = None
    for message in reversed(messages):  # newest first: a long thread is read only to its request
        if isinstance(message, HumanMessage):
            text = message.text
            if not is_reply(text):
                return text
            if newest is None:
                newest = text
    return newest or ""


class FittedPrompts:
    """The system prompt fitted to each recent question (a bounded LRU, thread-safe).

    Example:
        .. code-block:: python

            fitted = FittedPrompts()
            fitted.fit(fitter, prompt, "Where is my parcel?")  # fitted once, then reused
    """

    def __init__(self, size: int = _FITTED_PROMPTS) -> None:
        self._size = size
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def fit(self, compressor: PromptFitter, system_prompt: Any, question: str) -> str:
        """The prompt fitted to ``question``: memoized, else ``compressor``'s."""
        with self._lock:
            found = self._texts.get(question)
            if found is not None:
                self._texts.move_to_end(question)
                return found
        text = compressor(system_prompt, question)
        with self._lock:
            self._texts[question] = text
            while len(self._texts) > self._size:
                self._texts.popitem(last=False)
        return text


def system_step(
    full_text: str, fit: Callable[[], str], *, before: int, count: Callable[[str], int]
) -> Step[str]:
    """The measured fitting of the system prompt ``full_text`` (nothing to fit when empty).

    ``before`` is ``full_text``'s tokens; ``count`` counts the fitted prompt's; the whole
    prompt is sent when ``fit`` fails.
    """
    if not full_text:
        return Step.skipped("compression", full_text)
    return Step("compression", full_text, before=before, measure=count, work=fit)
