"""Dataset- and model-card templates for the Hub (``string.Template`` syntax: ``$name``).

Every card the toolkit writes - the benchmark's (``benchmark.md``), the training data's
(``train.md``) and a fine-tuned model's (``model.md``) - is rendered here the same way:
YAML metadata between ``---`` lines, then the template with the real numbers substituted.
Kept as a package so the templates ship inside the wheel: ``videonet publish`` and the
builders render them wherever the toolkit is installed.
"""

from __future__ import annotations

from importlib import resources
from string import Template

__all__ = ["load_template", "render_card"]


def load_template(name: str) -> Template:
    """The template ``hub_cards/<name>.md``."""
    return Template(resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8"))


def render_card(name: str, metadata_yaml: str, **values: object) -> str:
    """A complete ``README.md``: the YAML metadata block, then ``hub_cards/<name>.md`` filled in
    (every ``$placeholder`` must be given: a missing one raises ``KeyError``)."""
    return "---\n" + metadata_yaml + "\n---\n\n" + load_template(name).substitute(**values)
