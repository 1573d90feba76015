"""Molmo2's three components and per-component optimizer groups.

The paper trains the ViT, the connector and the LLM with different learning rates (5e-6 /
5e-6 / 1e-5).  A parameter that matched no group would silently not train (or train at a
default rate), one that matched two would be stepped twice: :func:`param_groups` checks
that every trainable parameter lands in exactly one group.

Names are matched anywhere in the dotted path, so the same rules work on the bare model
(``model.vision_tower.layers.0...``), under PEFT (``base_model.model.model.vision_tower...``,
``...modules_to_save.default...``) and under DDP (``module.model...``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn

__all__ = ["COMPONENTS", "component_of", "param_groups", "parameters_by_component"]

#: Component name -> the prefix its parameters carry inside Molmo2ForConditionalGeneration.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "vit": ("model.vision_tower.",),
    "connector": ("model.multi_modal_projector.",),
    "llm": ("model.language_model.", "lm_head."),
}
_PATTERNS = {
    name: [re.compile(r"(?:^|\.)" + re.escape(prefix)) for prefix in prefixes]
    for name, prefixes in COMPONENTS.items()
}


def component_of(name: str) -> str:
    """``"vit"``, ``"connector"`` or ``"llm"`` for a parameter name; ValueError if none or several."""
    hits = [comp for comp, patterns in _PATTERNS.items() if any(p.search(name) for p in patterns)]
    if len(hits) != 1:
        what = "no component" if not hits else f"several components {hits}"
        raise ValueError(f"parameter {name!r} matches {what} (expected one of {sorted(COMPONENTS)})")
    return hits[0]


def parameters_by_component(
    model: nn.Module, *, trainable_only: bool = True
) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """``{component: [(name, parameter), ...]}``; every (trainable) parameter appears exactly once.

    Raises ValueError naming every parameter that fits no component or several.
    """
    groups: dict[str, list[tuple[str, nn.Parameter]]] = {name: [] for name in COMPONENTS}
    errors: list[str] = []
    for name, param in model.named_parameters():  # shared (tied) parameters are yielded once
        if trainable_only and not param.requires_grad:
            continue
        try:
            groups[component_of(name)].append((name, param))
        except ValueError as e:
            errors.append(str(e))
    if errors:
        raise ValueError(
            f"{len(errors)} parameter(s) fit no single component:\n  " + "\n  ".join(errors[:20])
        )
    return groups


def param_groups(
    model: nn.Module,
    lr: Mapping[str, float],
    *,
    weight_decay: float = 0.0,
    no_decay: Iterable[str] = ("bias", "norm", "embed", "positional_embedding"),
) -> list[dict[str, Any]]:
    """torch.optim parameter groups per component (and decay / no-decay), each with a ``name``.

    ``lr`` maps ``vit``/``connector``/``llm`` to learning rates (all three required, so a
    typo cannot leave a component at the optimizer's default).  Components with no
    trainable parameter (frozen) get no group.  With ``weight_decay`` > 0 each component is
    split in two groups (``vit`` / ``vit_no_decay``): biases, norms and embeddings are not decayed.
    """
    missing = set(COMPONENTS) - set(lr)
    extra = set(lr) - set(COMPONENTS)
    if missing or extra:
        raise ValueError(
            f"lr must give exactly {sorted(COMPONENTS)}; missing {sorted(missing)}, unknown {sorted(extra)}"
        )
    markers = tuple(no_decay)
    groups: list[dict[str, Any]] = []
    for component, named in parameters_by_component(model).items():
        if not named:
            continue
        if not weight_decay:
            groups.append({"name": component, "params": [p for _, p in named], "lr": float(lr[component]),
                           "weight_decay": 0.0})  # fmt: skip
            continue
        decay = [p for n, p in named if not any(m in n.lower() for m in markers)]
        plain = [p for n, p in named if any(m in n.lower() for m in markers)]
        for suffix, params, wd in (("", decay, weight_decay), ("_no_decay", plain, 0.0)):
            if params:
                groups.append({"name": component + suffix, "params": params, "lr": float(lr[component]),
                               "weight_decay": wd})  # fmt: skip
    return groups
