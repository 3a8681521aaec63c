"""The hand-written calibration stream (``bench/data/calibration_stream.jsonl``) stays usable.

The bench replays it through ``SemanticCache(calibration="online")``; its figures are only
meaningful if paraphrases share an answer, every near miss has an answer of its own, no
question appears twice and dev and test never share an intent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

STREAM = Path(__file__).resolve().parents[3] / "bench" / "data" / "calibration_stream.jsonl"


def test_the_stream_is_large_split_by_intent_and_unambiguous() -> None:
    intents = [json.loads(line) for line in STREAM.read_text(encoding="utf-8").splitlines()]
    questions: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for d in intents:
        assert d["split"] in ("dev", "test")
        assert len(d["paraphrases"]) >= 3 and len(d["near_misses"]) >= 2
        questions.update([d["question"], *d["paraphrases"]])
        questions.update(n["question"] for n in d["near_misses"])
        answers.update([d["answer"], *(n["answer"] for n in d["near_misses"])])
    assert len(intents) >= 60 and sum(questions.values()) >= 600
    assert max(questions.values()) == 1  # no question twice, in or across intents
    assert max(answers.values()) == 1  # a near miss never shares its intent's answer
    names = Counter(d["intent"] for d in intents)
    assert max(names.values()) == 1
    splits = Counter(d["split"] for d in intents)
    assert min(splits.values()) >= 30
    domains = {d["domain"] for d in intents}
    assert len(domains) >= 6
