"""A LangChain chat model over the local SmolLM2 (offline, CPU).

:class:`LocalChatModel` wraps :func:`langchain_tokenopt._assets.load_smollm2` (SmolLM2-135M
Instruct, installed by ``make install-lm``) as a ``BaseChatModel`` with real streaming and
``usage_metadata``. It is the default writer of history summaries and a stand-in model for
offline graphs and tests. SmolLM2 cannot call tools: :meth:`LocalChatModel.bind_tools`
accepts tools (so agent factories work) and the model answers in text.

torch and transformers are imported on first generation, never at import.

Example:
    .. code-block:: python

        from langchain_tokenopt.llms import LocalChatModel

        llm = LocalChatModel(max_new_tokens=32)
        llm.invoke("What is the capital of France?").content  # "The capital of France is Paris."
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field

__all__ = ["LocalChatModel"]

_generate_lock = threading.Lock()


class LocalChatModel(BaseChatModel):
    """SmolLM2-135M-Instruct on CPU as a LangChain chat model.

    Greedy decoding by default, so answers are reproducible. ``max_tokens`` passed at call
    time (``llm.invoke(x, max_tokens=50)``) overrides ``max_new_tokens``.

    Example:
        .. code-block:: python

            llm = LocalChatModel(dtype="bfloat16")
            for chunk in llm.stream("Say hello"):
                print(chunk.content, end="")
    """

    model_name: str = "smollm2-135m-instruct"
    """Name reported in responses (the weights are the packaged SmolLM2)."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Weights precision; bfloat16 is about twice as fast on CPU."""
    max_new_tokens: int = Field(default=128, ge=1, le=4096)
    """Tokens generated at most per call."""
    max_input_tokens: int = Field(default=2048, ge=16, le=8192)
    """Longer prompts keep their last tokens (the usage still counts the whole request)."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    """0 decodes greedily; above 0 samples."""
    num_threads: int | None = Field(default=None, ge=1)
    """torch intra-op threads to set before generating (process-wide); None leaves it."""
    reuse_prefix: bool = False
    """Keep the key/value cache of the last prompt and reuse it for the tokens the next prompt
    shares with it (a stable system prompt is read once, like a provider's prompt cache)."""
    max_sentences: int | None = Field(default=None, ge=1)
    """End the answer after this many complete sentences (a ``.``, ``!`` or ``?`` followed by
    whitespace; the mark is kept), so a short ``max_new_tokens`` budget ends on a full
    sentence instead of mid-word; None runs to ``max_new_tokens`` or the end of the answer."""

    @property
    def _llm_type(self) -> str:
        return "tokenopt-local-smollm2"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            **({"max_sentences": self.max_sentences} if self.max_sentences else {}),
        }

    # ------------------------------------------------------------------ tools
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Accept tools (validated and converted); the model still answers in text.

        SmolLM2-135M cannot produce reliable tool calls, so no ``tool_calls`` are emitted.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, **kwargs)

    # ------------------------------------------------------------------ generation
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        chunks = list(self._stream(messages, stop=stop, run_manager=run_manager, **kwargs))
        text = "".join(c.text for c in chunks)
        usage = next(
            (
                c.message.usage_metadata
                for c in chunks
                if isinstance(c.message, AIMessageChunk) and c.message.usage_metadata
            ),
            None,
        )
        message = AIMessage(
            content=text,
            usage_metadata=usage,
            response_metadata={"model_name": self.model_name, "finish_reason": "stop"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        from transformers import TextIteratorStreamer

        from langchain_tokenopt._assets import load_smollm2

        tokenizer, model = load_smollm2(dtype=self.dtype)
        if self.num_threads is not None:
            import torch

            torch.set_num_threads(self.num_threads)
        prompt = tokenizer.apply_chat_template(
            _to_chat(messages), add_generation_prompt=True, tokenize=False
        )
        encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        # Usage counts the whole request, as a provider would bill it: every message and the
        # bound tools' schemas (SmolLM2 reads neither the schemas nor more than the last
        # ``max_input_tokens``), so monitoring compares it with what the optimizer sent.
        sent = int(encoded["input_ids"].shape[-1]) + _tool_tokens(tokenizer, kwargs.get("tools"))
        input_ids = encoded["input_ids"][:, -self.max_input_tokens :]
        attention = encoded["attention_mask"][:, -self.max_input_tokens :]
        max_new = int(kwargs.get("max_tokens") or self.max_new_tokens)
        streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
        gen_kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": attention,
            "max_new_tokens": max_new,
            "do_sample": self.temperature > 0,
            "pad_token_id": tokenizer.pad_token_id or tokenizer.eos_token_id,
            "streamer": streamer,
        }
        if self.temperature > 0:
            gen_kwargs["temperature"] = self.temperature
        if stop or self.max_sentences:
            # Halt generation itself (not only the text) once a stop string or the last
            # allowed sentence end has been generated.
            gen_kwargs["stopping_criteria"] = _text_stopping_criteria(
                tokenizer, int(input_ids.shape[-1]), stop, self.max_sentences
            )
        output: dict[str, Any] = {}
        errors: list[BaseException] = []

        def work() -> None:
            try:
                import torch

                with _generate_lock, torch.inference_mode():
                    if self.reuse_prefix:
                        output["ids"] = _generate_reusing_prefix(model, gen_kwargs)
                    else:
                        output["ids"] = model.generate(**gen_kwargs)
            except BaseException as exc:  # re-raised in the caller's thread
                errors.append(exc)
                streamer.on_finalized_text("", stream_end=True)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        text = ""
        stopped = False
        for piece in streamer:
            if stopped or not piece:
                continue
            text += piece
            cut = _stop_at(text, stop)
            end = _sentences_end(text, self.max_sentences)
            if end is not None and (cut is None or end < cut):
                cut = end
            if cut is not None:
                piece = piece[: max(0, len(piece) - (len(text) - cut))]
                stopped = True
            if piece:
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                if run_manager is not None:
                    run_manager.on_llm_new_token(piece, chunk=chunk)
                yield chunk
        thread.join()
        if errors:
            raise errors[0]
        generated = int(output["ids"].shape[-1] - input_ids.shape[-1]) if "ids" in output else 0
        usage = UsageMetadata(
            input_tokens=sent,
            output_tokens=generated,
            total_tokens=sent + generated,
        )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage,
                response_metadata={"model_name": self.model_name, "finish_reason": "stop"},
                chunk_position="last",
            )
        )


def _tool_tokens(tokenizer: Any, tools: Any) -> int:
    """SmolLM2 tokens of the bound tools' schemas (as JSON), 0 when none are bound."""
    if not tools:
        return 0
    text = json.dumps(list(tools), separators=(",", ":"), default=str)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _transformers_major() -> int:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return int(version("transformers").split(".")[0])
    except (PackageNotFoundError, ValueError):
        return 5


_TRANSFORMERS_MAJOR = _transformers_major()
#: Per loaded model: (token ids the cache holds, the cache). Guarded by ``_generate_lock``.
_PREFIX_CACHES: dict[int, tuple[Any, Any]] = {}
_MIN_REUSED_TOKENS = 32
#: transformers 5 names the generation cache ``cache`` (``past_key_values`` before).
_CACHE_KWARG = "cache" if _TRANSFORMERS_MAJOR >= 5 else "past_key_values"


def _generate_reusing_prefix(model: Any, gen_kwargs: dict[str, Any]) -> Any:
    """``model.generate`` that starts from the cached keys/values of the shared prefix.

    The cache of the previous call is cut back to the longest common prefix of its tokens
    and this prompt's (at least one prompt token is always computed), then generation runs
    with it and its cache is kept for the next call. Called under ``_generate_lock``.
    """
    input_ids = gen_kwargs["input_ids"]
    held = _PREFIX_CACHES.pop(id(model), None)
    kwargs = dict(gen_kwargs)
    if held is not None:
        old_ids, cache = held
        limit = min(int(old_ids.shape[-1]), int(input_ids.shape[-1]) - 1)
        same = (old_ids[0, :limit] == input_ids[0, :limit]).int()
        shared = int(same.cumprod(0).sum()) if limit > 0 else 0
        if shared >= _MIN_REUSED_TOKENS and cache.get_seq_length() >= shared:
            extra = cache.get_seq_length() - shared
            if extra:
                cache.crop(-extra)
            kwargs[_CACHE_KWARG] = cache
    result = model.generate(**kwargs, return_dict_in_generate=True)
    cache = getattr(result, _CACHE_KWARG, None)
    if cache is not None and hasattr(cache, "crop"):
        # The cache holds the prompt and all generated tokens but the last one.
        _PREFIX_CACHES[id(model)] = (result.sequences[:, : cache.get_seq_length()], cache)
    return result.sequences


_SENTENCE_END = re.compile(r"[.!?](?=\s)")


def _sentences_end(text: str, max_sentences: int | None) -> int | None:
    """Index just after the ``max_sentences``-th sentence end of ``text`` (None: not yet)."""
    if not max_sentences:
        return None
    for n, match in enumerate(_SENTENCE_END.finditer(text), start=1):
        if n == max_sentences:
            return match.end()
    return None


def _text_stopping_criteria(
    tokenizer: Any, prompt_len: int, stop: list[str] | None, max_sentences: int | None
) -> Any:
    """A ``StoppingCriteriaList`` that ends generation on a stop string or the last sentence."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _TextStop(StoppingCriteria):  # type: ignore[misc,unused-ignore]  # an untyped base
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            text = tokenizer.decode(input_ids[0, prompt_len:], skip_special_tokens=True)
            done = _stop_at(text, stop) is not None or (
                _sentences_end(text, max_sentences) is not None
            )
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool)

    return StoppingCriteriaList([_TextStop()])


def _stop_at(text: str, stop: list[str] | None) -> int | None:
    if not stop:
        return None
    hits = [text.find(s) for s in stop if s and s in text]
    return min(hits) if hits else None


def _to_chat(messages: list[BaseMessage]) -> list[dict[str, str]]:
    """Map LangChain messages to the chat template's roles (tool traffic as text)."""
    out: list[dict[str, str]] = []
    for msg in messages:
        text = msg.text
        if isinstance(msg, SystemMessage):
            out.append({"role": "system", "content": text})
        elif isinstance(msg, HumanMessage):
            out.append({"role": "user", "content": text})
        elif isinstance(msg, AIMessage):
            calls = [
                f"[called {c['name']}({json.dumps(c.get('args', {}), ensure_ascii=False)})]"
                for c in msg.tool_calls
            ]
            out.append({"role": "assistant", "content": "\n".join([text, *calls]).strip()})
        elif isinstance(msg, ToolMessage):
            out.append({"role": "user", "content": f"[tool {msg.name or 'result'}]: {text}"})
        else:
            out.append({"role": "user", "content": text})
    return out
