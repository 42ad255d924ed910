"""The shipped relevance model: a standardised logistic regression stored as JSON.

JSON rather than a pickle: it loads with any scikit-learn (or none), cannot run code
when read, diffs readably, and weighs a few kilobytes. The leave-one-repository-out
scores of the same recipe showed a gradient-boosted model no better, so the linear one
ships (docs/context.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

MODEL_FILE = "relevance.json"
FORMAT = "caw-lab/linear-relevance/1"


@dataclass(frozen=True)
class LinearModel:
    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)

    def decision(self, features: np.ndarray) -> np.ndarray:
        """The log-odds that each row is relevant."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "features": list(self.names), "mean": self.mean.tolist(),
            "scale": self.scale.tolist(), "coef": self.coef.tolist(), "intercept": self.intercept, "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        if data.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} model: {data.get('format')!r}")
        arrays = (np.asarray(data[k], dtype=float) for k in ("mean", "scale", "coef"))
        return cls(tuple(data["features"]), *arrays, float(data["intercept"]), data.get("meta", {}))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")


def shipped_path() -> Path:
    return Path(str(resources.files("caw_lab") / "models" / MODEL_FILE))


@lru_cache(maxsize=4)
def load(path: str | None = None) -> LinearModel | None:
    """The model at ``path`` (default: the one in the package), or None when there is none."""
    file = Path(path) if path else shipped_path()
    if not file.exists():
        return None
    return LinearModel.from_dict(json.loads(file.read_text()))
