"""Dataset- and model-card templates for the Hub (``string.Template`` syntax: ``$name``).

Kept as a package so the templates ship inside the wheel: ``videonet publish`` and the
builders render them with real numbers wherever the toolkit is installed.
"""

from __future__ import annotations

from importlib import resources
from string import Template


def load_template(name: str) -> Template:
    """The template ``hub_cards/<name>.md``."""
    return Template(resources.files(__name__).joinpath(f"{name}.md").read_text(encoding="utf-8"))
