"""Logistic regression and its score, shared by the query classifier and the reranker.

Example:
    .. code-block:: python

        from langchain_tokenopt.tools.logistic import balanced_accuracy, fit_logistic

        coef, intercept = fit_logistic(x_standardized, labels)
        balanced_accuracy(x_standardized @ coef + intercept > 0, labels == 1)
"""

from __future__ import annotations

import numpy as np

__all__ = ["balanced_accuracy", "fit_logistic"]


def fit_logistic(
    x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 50
) -> tuple[np.ndarray, float]:
    """Fit an L2-regularized logistic regression by Newton's method.

    Hand-written on purpose: a dozen features and a few thousand rows, fitted in
    milliseconds with numpy alone, where scikit-learn would be a large extra dependency.

    Args:
        x: Standardized features, shape ``(n, d)``.
        y: Labels in {0, 1}, shape ``(n,)``.
        l2: Penalty on the coefficients (the intercept is not penalized).
        steps: Most Newton steps.

    Returns:
        ``(coefficients, intercept)``.

    Example:
        .. code-block:: python

            coef, intercept = fit_logistic(np.array([[-1.0], [1.0]]), np.array([0.0, 1.0]))
    """
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    reg = np.eye(d + 1) * l2
    reg[-1, -1] = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) / n + reg @ w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb / n + reg
        step = np.linalg.solve(hess + 1e-9 * np.eye(d + 1), grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def balanced_accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    """Mean of the recall on positives and the recall on negatives."""
    pos = y == 1
    neg = ~pos
    if not pos.any() or not neg.any():
        return float((pred == y).mean())
    return float(0.5 * (pred[pos].mean() + (~pred[neg]).mean()))
