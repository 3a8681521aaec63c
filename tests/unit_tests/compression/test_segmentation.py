from __future__ import annotations

import json

from langchain_tokenopt.compression.protected import find_protected_spans, literals
from langchain_tokenopt.compression.segmentation import assemble, segment


def test_sentences_respect_abbreviations_and_initials() -> None:
    text = "Dr. Smith met J. K. Rowling in the U.S. yesterday. They talked for 2.5 hours. Done!"
    seg = segment([text])
    assert [i.text for i in seg.items] == [
        "Dr. Smith met J. K. Rowling in the U.S. yesterday.",
        "They talked for 2.5 hours.",
        "Done!",
    ]


def test_assemble_all_items_reproduces_normalized_text() -> None:
    text = "Para one. Second sentence.\n\nPara two here.\n- item a\n- item b"
    seg = segment([text])
    assert assemble(seg, range(len(seg.items))) == [text]


def test_json_split_by_entries_and_reassembled_parses(kv_json: tuple[str, str, str]) -> None:
    text, key, value = kv_json
    seg = segment([text])
    entries = [i for i in seg.items if i.kind == "json_entry"]
    assert len(entries) == 60
    keep = [e.index for e in entries if key in e.text] + [entries[0].index, entries[-1].index]
    out = assemble(seg, keep)[0]
    parsed = json.loads(out)
    assert parsed[key] == value and len(parsed) == 3
    for entry in entries:
        if entry.index in keep:
            assert entry.text in out


def test_json_inside_prose_and_code_fence_are_atomic() -> None:
    text = (
        "Intro sentence. Another one.\n\n"
        '{"config": {"a": 1, "b": [1, 2, 3]}, "name": "x. Y. z"}\n\n'
        "```python\nx = 1. \n\ny = 2\n```\n"
        "Outro."
    )
    seg = segment([text])
    kinds = [i.kind for i in seg.items]
    assert kinds == ["sentence", "sentence", "json_entry", "json_entry", "code", "sentence"]
    code = next(i for i in seg.items if i.kind == "code")
    assert code.text == "```python\nx = 1. \n\ny = 2\n```"
    out = assemble(seg, [2])[0]
    assert json.loads(out) == {"config": {"a": 1, "b": [1, 2, 3]}}


def test_few_shot_demonstrations_are_whole_blocks(few_shot: str) -> None:
    seg = segment([few_shot])
    assert len(seg.items) == 8
    assert all(i.kind == "block" and i.text.startswith("Question:") for i in seg.items)
    assert all(i.text.rstrip().split("\n")[-1].startswith("The answer is") for i in seg.items)


def test_protected_spans_and_literals() -> None:
    text = "See https://x.io/a?b=1 and id 9f4a92b9-5f69-4725-ba1e-403f08dea695, user_id 42."
    kinds = [s.kind for s in find_protected_spans(text)]
    assert kinds == ["url", "uuid", "identifier", "number"]
    assert literals('Key: "abc def" and 9f4a92b9-5f69-4725-ba1e-403f08dea695') == [
        "9f4a92b9-5f69-4725-ba1e-403f08dea695",
        "abc def",
    ]


def test_single_key_wrapper_is_split_inside() -> None:
    rows = [{"id": i, "name": f"item {i}", "tags": ["a", "b"]} for i in range(6)]
    text = json.dumps({"results": rows}, indent=2)
    seg = segment([text])
    assert [i.kind for i in seg.items] == ["json_entry"] * 6
    out = assemble(seg, [1, 4])[0]
    assert json.loads(out) == {"results": [rows[1], rows[4]]}
