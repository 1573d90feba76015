"""Every Hub card comes from a ``hub_cards/`` template, rendered one way, with a Limitations section."""

from __future__ import annotations

from importlib import resources

import pytest

from hub_cards import load_template, render_card

TEMPLATES = sorted(
    p.name.removesuffix(".md") for p in resources.files("hub_cards").iterdir() if p.name.endswith(".md")
)


def test_the_cards_are_the_templates() -> None:
    assert TEMPLATES == ["benchmark", "model", "train"]


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_card_says_its_limitations(name: str) -> None:
    text = load_template(name).template
    assert "\n## Limitations\n" in text and text.index("## Limitations") < len(text) - 200


def test_render_card_puts_metadata_first_and_refuses_a_missing_value() -> None:
    keys = ("T", "balanced", "yield_table", "results_sections", "summary")
    keys += ("segment_filter", "source_section", "license_section")
    values = {k: "x" for k in keys}
    card = render_card("train", "license: other", **values)
    assert card.startswith("---\nlicense: other\n---\n\n# VideoNet weakly-labeled training clips")
    with pytest.raises(KeyError):
        render_card("train", "license: other", T="1")
