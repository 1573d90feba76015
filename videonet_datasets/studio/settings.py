"""The studio's settings: one dataclass, its defaults the paper's, changed on the admin page.

Same shape as the fine-tuning recipe's config (``videonet_datasets.finetune.config``): every
field carries its help text, values are converted and checked here, and an unknown key or a
bad value fails with the setting's name.  The values live in the store (``meta`` table), so
a restarted studio keeps what the admin chose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SettingsError", "StudioSettings"]


class SettingsError(ValueError):
    """A setting is wrong; the message names it."""


def _f(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class StudioSettings:
    """How the human stages run (defaults: the paper's, §3.2 and App. B.6)."""

    raters_per_clip: int = _f(3, "Different raters who verify every candidate clip (paper: 3; at least 3).")
    max_votes: int = _f(
        5,
        "A clip without a majority after raters_per_clip votes (unsure votes, a tie) is shown to one "
        "more rater at a time, up to this many votes; still no majority -> rejected.",
    )
    candidates_per_action: int = _f(
        7, "Candidates a collector gathers per action, from distinct source videos (paper: 7)."
    )
    clips_per_action: int = _f(5, "Accepted clips an action needs (the benchmark uses 5).")
    reverify_retrims: bool = _f(
        False, "A re-trimmed clip goes back to verification (new raters) instead of being accepted."
    )
    cushion_seconds: float = _f(2.0, "Seconds of source shown before and after the window when re-trimming.")
    lease_minutes: float = _f(
        30.0, "How long a task handed to a person stays reserved for them before others may take it."
    )
    audit_sample_size: int = _f(50, "Accepted clips an expert labels in one audit sample.")
    seed: int = _f(0, "Seed of the audit and human-baseline samples.")

    def validate(self) -> StudioSettings:
        errors = []
        if self.raters_per_clip < 3:
            errors.append(
                f"raters_per_clip must be >= 3 (a majority of 3 raters), got {self.raters_per_clip}"
            )
        if self.max_votes < self.raters_per_clip:
            errors.append(f"max_votes ({self.max_votes}) must be >= raters_per_clip ({self.raters_per_clip})")
        if self.clips_per_action < 1:
            errors.append(f"clips_per_action must be >= 1, got {self.clips_per_action}")
        if self.candidates_per_action < self.clips_per_action:
            errors.append(
                f"candidates_per_action ({self.candidates_per_action}) must be >= clips_per_action "
                f"({self.clips_per_action})"
            )
        if not 0 <= self.cushion_seconds <= 60:
            errors.append(f"cushion_seconds must be in [0, 60], got {self.cushion_seconds}")
        if not self.lease_minutes > 0:
            errors.append(f"lease_minutes must be > 0, got {self.lease_minutes}")
        if self.audit_sample_size < 1:
            errors.append(f"audit_sample_size must be >= 1, got {self.audit_sample_size}")
        if errors:
            raise SettingsError("; ".join(errors))
        return self

    @property
    def majority(self) -> int:
        """Votes one side needs: a strict majority of ``raters_per_clip``."""
        return self.raters_per_clip // 2 + 1

    @classmethod
    def fields_help(cls) -> list[tuple[str, Any, str]]:
        """(name, default, help) of every setting, for the admin page."""
        return [(f.name, f.default, f.metadata["help"]) for f in dataclasses.fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def updated(self, values: Mapping[str, Any]) -> StudioSettings:
        """A checked copy with ``values`` (strings from a form, or typed values) applied."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, Any] = {}
        for key, raw in values.items():
            if key not in types:
                raise SettingsError(f"unknown setting {key!r}; known: {', '.join(types)}")
            changes[key] = _convert(key, types[key], raw)
        return dataclasses.replace(self, **changes).validate()


def _convert(key: str, kind: Any, raw: Any) -> Any:
    name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if name == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if name == "int":
            if isinstance(raw, float) and not raw.is_integer():
                raise ValueError(raw)
            return int(str(raw).strip())
        if name == "float":
            return float(str(raw).strip())
    except ValueError:
        raise SettingsError(f"{key}: {raw!r} is not a valid {name}") from None
    raise SettingsError(f"{key}: unsupported setting type {name}")
