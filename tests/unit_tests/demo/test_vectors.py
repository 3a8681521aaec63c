"""The demo's sentence vectors kept between runs equal fresh ones, and are keyed by model."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from examples.tokenopt_demo.vectors import PersistentVectors
from langchain_tokenopt.embeddings import OnnxEmbeddings, onnx_int8_model_dir
from langchain_tokenopt.errors import TokenOptConfigError

TEXTS = [
    "Refunds go to the original payment method.",
    "Never promise a delivery date.",
    "Refunds go to the original payment method.",
]


def test_a_second_run_reads_the_same_vectors_without_embedding(tmp_path: Path) -> None:
    embeddings = OnnxEmbeddings()
    first = PersistentVectors(embeddings, name="t", folder=tmp_path)
    vectors = first.encode(TEXTS)
    assert first.embedded == 2
    assert np.array_equal(vectors, np.asarray(embeddings.encode(TEXTS)))
    second = PersistentVectors(embeddings, name="t", folder=tmp_path)
    again = second.encode(list(reversed(TEXTS)))
    assert second.embedded == 0
    assert second.stored == 2
    assert np.array_equal(again, vectors[::-1])


def test_texts_left_out_by_keep_are_embedded_every_run(tmp_path: Path) -> None:
    embeddings = OnnxEmbeddings()
    question = "Do you price match other stores?"
    first = PersistentVectors(
        embeddings, name="t", folder=tmp_path, keep=lambda text: text != question
    )
    first.encode([question, TEXTS[0]])
    second = PersistentVectors(embeddings, name="t", folder=tmp_path)
    second.encode([question, TEXTS[0]])
    assert second.embedded == 1


def test_another_model_file_starts_another_file(tmp_path: Path) -> None:
    source = Path(onnx_int8_model_dir())
    copy = tmp_path / "model"
    shutil.copytree(source, copy)
    embeddings = OnnxEmbeddings(model_dir=copy)
    shipped = PersistentVectors(embeddings, name="t", folder=tmp_path / "v")
    copied = PersistentVectors(
        embeddings, name="t", folder=tmp_path / "v", model_file=copy / "model.int8.onnx"
    )
    assert shipped.path != copied.path
    copied.encode(TEXTS[:1])
    assert copied.path.is_file() and not shipped.path.is_file()


def test_a_damaged_file_is_ignored(tmp_path: Path) -> None:
    vectors = PersistentVectors(OnnxEmbeddings(), name="t", folder=tmp_path)
    vectors.path.parent.mkdir(parents=True, exist_ok=True)
    vectors.path.write_bytes(b"not an npz file")
    assert vectors.encode(TEXTS[:1]).shape == (1, 384)
    assert vectors.embedded == 1


@pytest.mark.parametrize("name", ["", "a/b", ".hidden"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(TokenOptConfigError):
        PersistentVectors(OnnxEmbeddings(), name=name)
