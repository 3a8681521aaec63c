"""Each provider's prompt-caching rules as documented constants, and the rules for a model.

The constants name their source in a comment; :func:`caching_rules` assembles them into a
:class:`CachingRules` for one provider and model, which
:func:`~langchain_tokenopt.monitoring.price_thread` applies.

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import caching_rules

        caching_rules("openai", "gpt-4o").increment_tokens  # 128
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from langchain_tokenopt.errors import TokenOptConfigError

__all__ = [
    "ANTHROPIC_CACHE_READ_MULTIPLIER",
    "ANTHROPIC_CACHE_WRITE_1H_MULTIPLIER",
    "ANTHROPIC_CACHE_WRITE_MULTIPLIER",
    "ANTHROPIC_LOOKBACK_PARTS",
    "ANTHROPIC_MAX_BREAKPOINTS",
    "ANTHROPIC_MIN_PREFIX_TOKENS",
    "ANTHROPIC_TTL_SECONDS",
    "GEMINI_CACHE_READ_MULTIPLIER",
    "GEMINI_LIFETIME_SECONDS",
    "GEMINI_MIN_PREFIX_TOKENS",
    "OPENAI_CACHE_INCREMENT_TOKENS",
    "OPENAI_CACHE_READ_MULTIPLIER",
    "OPENAI_LIFETIME_SECONDS",
    "OPENAI_MIN_PREFIX_TOKENS",
    "AnthropicTTL",
    "CachingProvider",
    "CachingRules",
    "caching_provider",
    "caching_rules",
]

CachingProvider = Literal["anthropic", "openai", "google"]
AnthropicTTL = Literal["5m", "1h"]

# Anthropic, https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching (pricing and
# "cache limitations" sections): writes 1.25x base input (5-minute TTL) or 2x (1-hour TTL),
# reads 0.1x; at most 4 breakpoints; the lifetime is refreshed on every hit; the system checks
# for hits at earlier block boundaries, up to about 20 blocks before each breakpoint.
ANTHROPIC_CACHE_WRITE_MULTIPLIER = 1.25
ANTHROPIC_CACHE_WRITE_1H_MULTIPLIER = 2.0
ANTHROPIC_CACHE_READ_MULTIPLIER = 0.1
ANTHROPIC_MAX_BREAKPOINTS = 4
ANTHROPIC_LOOKBACK_PARTS = 20
ANTHROPIC_TTL_SECONDS: dict[AnthropicTTL, float] = {"5m": 300.0, "1h": 3600.0}
# Same page, "minimum cacheable prompt length": 1,024 for Sonnet and Opus up to 4.1, 2,048
# for Haiku 3 / 3.5, 4,096 for Haiku 4.5 and Opus 4.5. First matching pattern wins.
ANTHROPIC_MIN_PREFIX_TOKENS: tuple[tuple[str, int], ...] = (
    (r"haiku-4|4-5-haiku|opus-4-5|opus-4\.5", 4096),
    (r"haiku", 2048),
    (r"", 1024),
)
# OpenAI, https://platform.openai.com/docs/guides/prompt-caching: automatic for prompts of
# 1,024 tokens or more, hits in 128-token increments, entries live 5-10 minutes of inactivity
# (we take 5). Cached input is priced per model (genai-prices: gpt-4o 0.5x, gpt-4.1 0.25x);
# the multiplier is only the fallback for a model genai-prices has no cached price for.
OPENAI_MIN_PREFIX_TOKENS = 1024
OPENAI_CACHE_INCREMENT_TOKENS = 128
OPENAI_CACHE_READ_MULTIPLIER = 0.5
OPENAI_LIFETIME_SECONDS = 300.0
# Gemini implicit caching, https://ai.google.dev/gemini-api/docs/caching: on by default for
# Gemini 2.5+, cached tokens billed at 0.25x when it launched (genai-prices has the current
# per-model rate, e.g. 0.1x for 2.5 Flash), no write cost; minimum 1,024 tokens for Flash and
# 2,048 for Pro (the table has changed over time; pass ``rules=`` to use another). Google
# publishes no lifetime; we assume Anthropic's and OpenAI's 5 minutes.
GEMINI_CACHE_READ_MULTIPLIER = 0.25
GEMINI_MIN_PREFIX_TOKENS: tuple[tuple[str, int], ...] = ((r"pro", 2048), (r"", 1024))
GEMINI_LIFETIME_SECONDS = 300.0

# LangChain ``ls_provider`` names and genai-prices ids -> caching provider.
_PROVIDERS: dict[str, CachingProvider] = {
    "anthropic": "anthropic",
    "openai": "openai",
    "azure": "openai",
    "azure_openai": "openai",
    "google": "google",
    "google_genai": "google",
    "google_vertexai": "google",
    "vertexai": "google",
    "gemini": "google",
}
_MODEL_PROVIDERS: tuple[tuple[str, CachingProvider], ...] = (
    (r"claude", "anthropic"),
    (r"gemini", "google"),
    (r"^(gpt-|o\d|chatgpt-)", "openai"),
)


@dataclass(frozen=True, slots=True)
class CachingRules:
    """One provider's prompt-caching rules for one model (see :func:`caching_rules`).

    Example:
        .. code-block:: python

            rules = caching_rules("openai", "gpt-4o")
            longer = dataclasses.replace(rules, lifetime_s=600.0)
    """

    provider: CachingProvider
    """Which provider's rules these are."""
    min_prefix_tokens: int
    """Shortest prefix the provider caches, in tokens."""
    lifetime_s: float
    """Seconds an entry lives after it was last written or read."""
    read_multiplier: float
    """Cache-read price as a fraction of input, used when the price table has none."""
    write_multiplier: float = 1.0
    """Cache-write price as a fraction of input (explicit providers only)."""
    table_write_price: bool = True
    """Use the price table's cache-write rate when it has one (it is the 5-minute rate)."""
    increment_tokens: int = 1
    """Reads are rounded down to ``min_prefix_tokens`` plus a multiple of this."""
    explicit_breakpoints: bool = False
    """Only prefixes ending at a request's breakpoints are cached (Anthropic)."""
    max_breakpoints: int | None = None
    """Most breakpoints one request may carry (``None``: no limit)."""
    lookback_parts: int = 0
    """Parts before each breakpoint also checked for an earlier entry (explicit only)."""

    def __post_init__(self) -> None:
        if self.provider not in ("anthropic", "openai", "google"):
            msg = (
                f"CachingRules.provider must be anthropic, openai or google, got {self.provider!r}"
            )
            raise TokenOptConfigError(msg)
        if self.min_prefix_tokens < 1 or self.increment_tokens < 1 or self.lookback_parts < 0:
            msg = "CachingRules: min_prefix_tokens and increment_tokens must be >= 1, lookback >= 0"
            raise TokenOptConfigError(msg)
        if self.lifetime_s <= 0 or self.read_multiplier < 0 or self.write_multiplier < 0:
            msg = "CachingRules: lifetime_s must be > 0 and the multipliers >= 0"
            raise TokenOptConfigError(msg)


def _by_model(table: tuple[tuple[str, int], ...], model: str) -> int:
    name = model.lower()
    return next(value for pattern, value in table if re.search(pattern, name))


def caching_rules(
    provider: CachingProvider, model: str, *, ttl: AnthropicTTL = "5m"
) -> CachingRules:
    """Return the documented caching rules of ``provider`` for ``model``.

    Args:
        provider: ``anthropic``, ``openai`` or ``google``.
        model: Model name (picks the minimum prefix where it differs by model).
        ttl: Anthropic cache lifetime, ``"5m"`` or ``"1h"`` (ignored for the others).

    Returns:
        The rules, to pass to :func:`price_thread` as they are or changed with
        :func:`dataclasses.replace`.

    Example:
        .. code-block:: python

            caching_rules("anthropic", "claude-3-5-haiku-latest").min_prefix_tokens  # 2048
    """
    if provider == "anthropic":
        if ttl not in ANTHROPIC_TTL_SECONDS:
            msg = f"ttl must be '5m' or '1h', got {ttl!r}"
            raise TokenOptConfigError(msg)
        one_hour = ttl == "1h"
        return CachingRules(
            provider="anthropic",
            min_prefix_tokens=_by_model(ANTHROPIC_MIN_PREFIX_TOKENS, model),
            lifetime_s=ANTHROPIC_TTL_SECONDS[ttl],
            read_multiplier=ANTHROPIC_CACHE_READ_MULTIPLIER,
            write_multiplier=(
                ANTHROPIC_CACHE_WRITE_1H_MULTIPLIER
                if one_hour
                else ANTHROPIC_CACHE_WRITE_MULTIPLIER
            ),
            table_write_price=not one_hour,
            explicit_breakpoints=True,
            max_breakpoints=ANTHROPIC_MAX_BREAKPOINTS,
            lookback_parts=ANTHROPIC_LOOKBACK_PARTS,
        )
    if provider == "openai":
        return CachingRules(
            provider="openai",
            min_prefix_tokens=OPENAI_MIN_PREFIX_TOKENS,
            lifetime_s=OPENAI_LIFETIME_SECONDS,
            read_multiplier=OPENAI_CACHE_READ_MULTIPLIER,
            increment_tokens=OPENAI_CACHE_INCREMENT_TOKENS,
        )
    if provider == "google":
        return CachingRules(
            provider="google",
            min_prefix_tokens=_by_model(GEMINI_MIN_PREFIX_TOKENS, model),
            lifetime_s=GEMINI_LIFETIME_SECONDS,
            read_multiplier=GEMINI_CACHE_READ_MULTIPLIER,
        )
    msg = f"provider must be 'anthropic', 'openai' or 'google', got {provider!r}"
    raise TokenOptConfigError(msg)


def caching_provider(provider: str | None, model: str) -> CachingProvider:
    """Map a provider name (or, without one, the model name) to its caching rules' provider.

    Args:
        provider: ``anthropic``, ``openai``, ``google`` or a LangChain ``ls_provider`` name
            such as ``google_genai`` or ``azure_openai``; ``None`` guesses from ``model``.
        model: Model name (``claude-*``, ``gemini-*``, ``gpt-*`` / ``o1``...).

    Returns:
        ``anthropic``, ``openai`` or ``google``.

    Raises:
        TokenOptConfigError: the provider has no caching rules here, or cannot be guessed.

    Example:
        .. code-block:: python

            caching_provider("google_genai", "gemini-2.5-flash")  # "google"
    """
    if provider is not None:
        found = _PROVIDERS.get(provider.lower())
        if found is None:
            allowed = sorted(_PROVIDERS)
            msg = f"provider {provider!r} has no prompt-caching rules; use one of {allowed}"
            raise TokenOptConfigError(msg)
        return found
    name = model.lower().rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    for pattern, found in _MODEL_PROVIDERS:
        if re.search(pattern, name):
            return found
    msg = (
        f"cannot tell the provider of model {model!r}; pass provider='anthropic'|'openai'|'google'"
    )
    raise TokenOptConfigError(msg)
