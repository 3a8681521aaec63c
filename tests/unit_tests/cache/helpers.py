"""Small real LangChain models and prompts for the cache tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from langchain_tokenopt.cache import LocalBackend, OnlineCalibration, SemanticCache


class ServingModel(FakeListChatModel):
    """A serializable fake chat model with a name, temperature and timeout (like real ones)."""

    model_name: str = "fake-1"
    temperature: float | None = None
    request_timeout: float | None = None

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True


def llm_string(model: Any = None, **kwargs: Any) -> str:
    model = model or ServingModel(responses=["x"])
    return str(model._get_llm_string(**kwargs))


def chat_prompt(
    question: str, *, system: str | None = None, history: list[BaseMessage] | None = None
) -> str:
    messages: list[BaseMessage] = []
    if system is not None:
        messages.append(SystemMessage(system))
    messages.extend(history or [])
    messages.append(HumanMessage(question))
    return dumps(messages)


def conversation(first: str, answer: str) -> list[BaseMessage]:
    return [HumanMessage(first), AIMessage(answer)]


def reopening(
    path: Path, embeddings: Embeddings, *, threshold: float, calibration: OnlineCalibration
) -> Callable[[], SemanticCache]:
    """A factory of calibrated caches over one local file (each call: the process restarts)."""

    def make() -> SemanticCache:
        return SemanticCache(
            backend=LocalBackend(path=path),
            embeddings=embeddings,
            similarity_threshold=threshold,
            calibration=calibration,
        )

    return make
