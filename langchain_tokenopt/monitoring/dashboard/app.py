"""FastAPI dashboard over a metrics store: JSON endpoints, one HTML page, ``/metrics``.

Routes:

* ``GET /`` — the page (charts drawn by the bundled ``static/charts.js``; no CDN);
* ``GET /api/summary?window=24h&group_by=model,tenant`` — :class:`Summary` as JSON;
* ``GET /api/timeseries?window=24h&buckets=24`` — list of time buckets;
* ``GET /api/top?by=tenant&window=24h&limit=10`` — biggest groups;
* ``GET /metrics`` — Prometheus text exposition;
* ``GET /healthz``.

With ``token`` set, ``/api/*`` and ``/metrics`` need ``Authorization: Bearer <token>``; the
page and its scripts hold no data and stay public (the page reads the token from its URL
fragment ``#token=...`` and sends it with each request).

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import SQLiteMetricsStore
        from langchain_tokenopt.monitoring.dashboard import serve

        serve(SQLiteMetricsStore(), host="127.0.0.1", port=8765)
"""

from __future__ import annotations

import hmac
import time
from dataclasses import asdict
from importlib import resources
from typing import Any, Literal

from langchain_tokenopt.errors import MissingDependencyError, TokenOptConfigError

try:
    from fastapi import Depends, FastAPI, HTTPException, Query, Request
    from fastapi.responses import HTMLResponse, JSONResponse, Response
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise MissingDependencyError("fastapi", extra="dashboard") from exc
from langchain_tokenopt.monitoring.prometheus import CONTENT_TYPE, render_metrics
from langchain_tokenopt.monitoring.store import MetricsStore
from langchain_tokenopt.monitoring.summary import GROUP_KEYS, GroupKey, parse_window, summarize
from langchain_tokenopt.monitoring.timeseries import timeseries

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
_STATIC = ("index.html", "charts.js", "dashboard.js", "style.css")
_MEDIA = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css"}


def _static_text(name: str) -> str:
    return (resources.files("langchain_tokenopt.monitoring.dashboard") / "static" / name).read_text(
        encoding="utf-8"
    )


def _group_keys(raw: str | None) -> tuple[GroupKey, ...]:
    if not raw:
        return ()
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    bad = [k for k in keys if k not in GROUP_KEYS]
    if bad:
        msg = f"group_by must be among {GROUP_KEYS}, got {bad}"
        raise TokenOptConfigError(msg)
    return keys  # type: ignore[return-value]


#: The shortest span the time series is drawn over (a burst of requests in one second).
_MIN_SPAN_S = 60.0


def _fit_span(records: list[Any], seconds: float | None, *, now: float) -> tuple[float, float]:
    """The ``[start, end)`` the time series covers: the records' own span within the window.

    A run of a few minutes inside a 24 h window would otherwise fill one or two of the
    buckets and draw as single dots. With no records the whole window (or the last hour) is
    drawn. The span is at least :data:`_MIN_SPAN_S` and never reaches before the window.
    """
    floor = None if seconds is None else now - seconds
    if not records:
        return (floor if floor is not None else now - 3600.0), now
    first = min(r.timestamp for r in records)
    last = max(r.timestamp for r in records)
    start = first if floor is None else max(first, floor)
    end = max(last, start + _MIN_SPAN_S)
    if end > now:  # a short span close to now: reach back instead of into the future
        start = max(floor if floor is not None else -float("inf"), now - _MIN_SPAN_S)
        end = max(now, last)
    # the last record falls inside the final bucket, not on its open end
    return start, end + 1e-6


def create_app(
    store: MetricsStore,
    *,
    token: str | None = None,
    title: str = "tokenopt",
    price_as: str | None = None,
) -> FastAPI:
    """Build the dashboard app (extra ``dashboard``).

    Args:
        store: The metrics store to read.
        token: If set, ``/api/*`` and ``/metrics`` require this bearer token.
        title: Page title.
        price_as: Re-price every record as this hosted model (as ``tokenopt stats
            --price-as``); ``None`` shows the costs recorded with each request (those of
            ``TokenOptCallbackHandler(price_as=...)``, if it was set).

    Returns:
        A ``fastapi.FastAPI`` app; run it with uvicorn or :func:`serve`.
    """
    if token is not None and not token:
        msg = "token must be a non-empty string or None"
        raise TokenOptConfigError(msg)
    if price_as is not None:
        store.pricer.require(price_as)

    def records_of(window: str) -> list[Any]:
        records = store.records(window)
        return records if price_as is None else store.pricer.price_as(records, price_as)

    def check_token(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise HTTPException(
                status_code=401,
                detail="bearer token required",
                headers={"WWW-Authenticate": "Bearer"},
            )

    app = FastAPI(title=f"{title} dashboard", docs_url=None, redoc_url=None, openapi_url=None)
    guarded = [Depends(check_token)]

    def bad_request(exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(_static_text("index.html").replace("{{title}}", title))

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(status_code=404)
        suffix = name[name.rfind(".") :]
        return Response(_static_text(name), media_type=_MEDIA[suffix])

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/summary", dependencies=guarded)
    def api_summary(window: str = "24h", group_by: str | None = None) -> Any:
        try:
            keys = _group_keys(group_by)
            result = store.summary(window=window, group_by=keys, price_as=price_as)
        except TokenOptConfigError as exc:
            return bad_request(exc)
        return asdict(result)

    @app.get("/api/timeseries", dependencies=guarded)
    def api_timeseries(window: str = "24h", buckets: int = Query(24, ge=1, le=1000)) -> Any:
        try:
            seconds = parse_window(window)
        except TokenOptConfigError as exc:
            return bad_request(exc)
        records = records_of(window)
        start, end = _fit_span(records, seconds, now=time.time())
        points = timeseries(records, start=start, end=end, buckets=buckets)
        return {"window": window, "points": [asdict(p) for p in points]}

    @app.get("/api/top", dependencies=guarded)
    def api_top(
        by: Literal["tenant", "model", "provider", "user"] = "tenant",
        window: str = "24h",
        limit: int = Query(10, ge=1, le=100),
    ) -> Any:
        try:
            records = records_of(window)
        except TokenOptConfigError as exc:
            return bad_request(exc)
        groups = summarize(records, group_by=(by,), window=window).groups[:limit]
        return {
            "by": by,
            "groups": [
                {
                    "key": g.key[by],
                    "requests": g.summary.requests,
                    "cache_hits": g.summary.cache_hits,
                    "tokens_actual": g.summary.tokens.actual,
                    "tokens_counterfactual": g.summary.tokens.counterfactual,
                    "cost_actual_usd": g.summary.cost.actual_usd,
                    "savings_usd": g.summary.cost.savings_usd,
                }
                for g in groups
            ],
        }

    @app.get("/metrics", dependencies=guarded)
    def metrics() -> Response:
        return Response(render_metrics(store), media_type=CONTENT_TYPE)

    return app


def serve(
    store: MetricsStore,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    log_level: str = "warning",
    price_as: str | None = None,
) -> None:
    """Run the dashboard with uvicorn until interrupted (binds 127.0.0.1 by default).

    Args:
        store: The metrics store to read.
        host: Interface to bind; use ``0.0.0.0`` only together with ``token``.
        port: TCP port.
        token: Optional bearer token for the data routes.
        log_level: uvicorn log level.
        price_as: Price every record as this hosted model (see :func:`create_app`).
    """
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", extra="dashboard") from exc
    if not 0 < port < 65536:
        msg = f"port must be within 1..65535, got {port}"
        raise TokenOptConfigError(msg)
    app = create_app(store, token=token, price_as=price_as)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
