"""Small real-text fixtures for the compression tests (no datasets are loaded)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from langchain_core.documents import Document

from langchain_tokenopt.embeddings import get_default_query_embeddings

TOPICS = [
    ("Amazon River", "The Amazon River flows through Brazil, Peru and Colombia."),
    ("Mount Everest", "Mount Everest is the highest mountain above sea level."),
    ("Photosynthesis", "Photosynthesis converts light energy into chemical energy in plants."),
    ("Roman Empire", "The Roman Empire was ruled by emperors after Augustus."),
    ("Jazz", "Jazz originated in New Orleans in the late 19th century."),
    ("Volcanoes", "Volcanoes form where magma reaches the surface of a planet."),
    ("Chess", "Chess is a board game played between two players on 64 squares."),
    ("Honey bees", "Honey bees live in colonies with a single queen."),
    ("Printing press", "The printing press spread books across Europe quickly."),
    ("Antarctica", "Antarctica is the coldest and windiest continent on Earth."),
]


def _doc_text(title: str, lead: str, k: int) -> str:
    return (
        f"{lead} Scholars have studied {title.lower()} for many decades. "
        f"A report from 19{k}5 lists {k + 3} key facts about it, see https://example.org/{k}/info. "
        f"The record id is {uuid.UUID(int=k * 7919 + 17)}. "
        f"Many visitors find {title.lower()} fascinating and write about it often."
    )


@pytest.fixture
def documents() -> list[Document]:
    docs = [
        Document(page_content=_doc_text(t, lead, k), metadata={"title": t, "rank": k})
        for k, (t, lead) in enumerate(TOPICS)
    ]
    docs.insert(
        6,
        Document(
            page_content=(
                "The Eiffel Tower was completed in 1889 for the World's Fair in Paris. "
                "It was designed by the engineering company of Gustave Eiffel. "
                "The tower is 330 metres tall and was the tallest structure until 1930."
            ),
            metadata={"title": "Eiffel Tower", "gold": True},
        ),
    )
    return docs


@pytest.fixture
def kv_json() -> tuple[str, str, str]:
    pairs = [
        (str(uuid.UUID(int=i * 104729 + 1)), str(uuid.UUID(int=i * 15485863 + 3)))
        for i in range(60)
    ]
    parts = []
    for index, (key, value) in enumerate(pairs):
        start = "{" if index == 0 else " "
        end = ",\n" if index != len(pairs) - 1 else "}"
        parts.append(f'{start}"{key}": "{value}"{end}')
    text = "".join(parts)
    json.loads(text)
    key, value = pairs[37]
    return text, key, value


@pytest.fixture
def few_shot() -> str:
    demos = []
    for i in range(8):
        demos.append(
            f"Question: Tom has {i + 2} apples and buys {i + 5} more. "
            "How many apples does he have?\n"
            "Let's think step by step\n"
            f"Tom starts with {i + 2} apples.\n"
            f"He buys {i + 5} more, so {i + 2} + {i + 5} = {2 * i + 7}.\n"
            f"The answer is {2 * i + 7}"
        )
    return "\n\n".join(demos) + "\n"


class RecordingEncoder:
    """The real default MiniLM embedder, recording every text it is asked to embed."""

    def __init__(self) -> None:
        self.inner = get_default_query_embeddings()
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> Any:
        self.seen.extend(texts)
        return self.inner.encode(texts)
