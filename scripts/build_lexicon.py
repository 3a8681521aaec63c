"""Build the WordNet 3.0 extract the cache verifier ships with (no torch needed).

Reads Princeton WordNet 3.0 as Debian's ``wordnet-base`` installs it (``make install-lexicon``)
and writes ``langchain_tokenopt/_data/wordnet-3.0/lexicon.json.gz`` (gzip with a zero time
stamp, so the same WordNet gives the same bytes) and WordNet's licence beside it.

    .venv/bin/python scripts/build_lexicon.py
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from langchain_tokenopt.cache.lexicon import SHIPPED_LEXICON, build_shipped_lexicon, wordnet_dir

COPYRIGHT = Path("/usr/share/doc/wordnet-base/copyright")


def _licence_text() -> str:
    """WordNet 3.0's licence, as Debian's copyright file quotes it."""
    text = COPYRIGHT.read_text(encoding="utf-8")
    block = text.split("License: WordNet3.0", 1)[1].split("\n\nFiles:", 1)[0]
    lines = [re.sub(r"^ ", "", line) for line in block.strip("\n").splitlines()]
    body = "\n".join("" if line == "." else line for line in lines)
    return (
        "The file lexicon.json.gz in this folder is an extract (lemmas, synsets, antonym,\n"
        "derivation and hypernym pointers, morphology exceptions) of Princeton WordNet 3.0,\n"
        f"read from Debian's wordnet-base package ({wordnet_dir()}).\n\n"
        "WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.\n\n"
        f"{body}\n"
    )


def main() -> int:
    path = build_shipped_lexicon()
    (path.parent / "LICENSE-WordNet-3.0.txt").write_text(_licence_text(), encoding="utf-8")
    digest = hashlib.sha256(SHIPPED_LEXICON.read_bytes()).hexdigest()
    print(f"{path.stat().st_size:>12,}  {digest[:16]}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
