"""Web dashboard for the monitoring store (extra ``dashboard``: FastAPI + uvicorn).

Example:
    .. code-block:: python

        from langchain_tokenopt.monitoring import SQLiteMetricsStore
        from langchain_tokenopt.monitoring.dashboard import create_app

        app = create_app(SQLiteMetricsStore(), token="s3cret")  # uvicorn.run(app)
"""

from __future__ import annotations

from langchain_tokenopt.monitoring.dashboard.app import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    create_app,
    serve,
)

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "create_app", "serve"]
