"""The paper's hard-negative conversation (App. B.4, Figures 10-14), word for word.

The texts are copied from the paper's text (``tests/data/paper_prompts.txt`` holds those pages
and the tests compare word for word).  Two repairs of the PDF extraction,
nothing else: a bullet point that the PDF wrapped onto a new line after an inserted blank
line is re-joined to its line (e.g. "...that would / be difficult to distinguish in brief
clips"), and the figure labels ("System Prompt", "User Prompt", "API Details") are not
part of the texts.  The figures' own line breaks and typographic apostrophes are kept.

Placeholders of Figure 11, filled by :func:`first_prompt`:
``<ACTION>`` is the *domain* name (the list is "my list of "Figure Skating" actions"),
``<ACTION DEFINITION>`` one ``name: definition`` line per action (the format the paper's
definition prompt, Figure 9, produces) and ``<ACTION LIST>`` one action name per line,
in actions.csv order.

Ours, not the paper's: :func:`exclusion_note` (appended to the first prompt only when
the user listed co-occurring pairs for the domain) and :func:`correction_prompt` (sent
when a reply's CSV breaks a rule; the paper fixed such replies by hand).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from videonet_datasets.annotations import Action

__all__ = [
    "ANALYSIS_PROMPT",
    "FINAL_PROMPT",
    "FIRST_PROMPT",
    "REVISION_PROMPT",
    "SYSTEM_PROMPT",
    "correction_prompt",
    "exclusion_note",
    "first_prompt",
]

# Figure 10.
SYSTEM_PROMPT = """You are creating challenging "hard negative" options for multimodal
action classification datasets across various domains
(sports, arts, crafts, cooking, etc.).

Each action requires 3 hard negative options that are genuinely difficult
for a machine learning model to distinguish from the positive action.

A truly "hard" negative:
- Shares visual/motion similarities with the positive action that would
be difficult to distinguish in brief clips
- Is fundamentally different in purpose or technique despite visual
similarities
- Cannot reasonably co-occur with the positive action in the same short
video
- Avoids obvious selection patterns that would make classification too
easy

Note:
Negatives should only come from the action list provided (not
definitions or other sources)

- Check that EXACT positive and negative action names are used
in the actions list when generating csv."""

# Figure 11 (round 1).
FIRST_PROMPT = """Below is my list of "<ACTION>" actions, along with their definitions:
<ACTION DEFINITION>
===
Your task is to create genuinely challenging "hard negative" options for each action
that would confuse a computer vision model. Format your output as a clean CSV:

action,negative_1,negative_2,negative_3
(action_1),(hard negative_1),(hard negative_2),(hard negative_3)
...
CRITICAL REQUIREMENTS FOR TRULY HARD NEGATIVES:

1. MAXIMIZE VISUAL CONFUSION WITHOUT OBVIOUS PATTERNS:
- Select actions that share visual features, body positions, or motion qualities with the
positive action
- Avoid predictable selection patterns (e.g., don\u2019t always choose the
"next level up/down" or "same family" actions)
- Mix selection criteria unpredictably to prevent the model from learning simple heuristics

2. STRATEGIC AMBIGUITY:
- Include some negatives that differ in subtle ways (small variations in technique/position)
- Include some negatives that differ in more significant ways but still maintain visual
similarity
- Vary the type of similarity (sometimes motion-based, sometimes position-based, sometimes
tool/environment-based)

3. AVOID FUNCTIONALLY RELATED ACTIONS FOR NEGATIVES:
- Never select actions that typically occur together with the positive action
- Avoid actions that are commonly performed in sequence or as part of the same technique
- Don\u2019t pair actions that would naturally appear in the same short video clip
- Don\u2019t pair action categories that are too similar or the same as the positive action

4. REASONABLE DISTRIBUTION:
- Each action should appear as a negative approximately 2-5 times across the dataset
- Avoid extreme over-representation or under-representation
- The overall pattern of selections should appear random and unpredictable

Please provide your hard negative choices for these actions in the
same order as provided:
<ACTION LIST>
Negatives should only EXACTLY come from the action list provided
(not definitions or made-up sources)
- Check that EXACT positive and negative action names are used in
the actions list when generating csv."""

# Figure 12 (round 2).
ANALYSIS_PROMPT = """Please provide your analysis of negative selections for
their effectiveness as genuinely "hard" negatives:

First, check for selection patterns that could make classification too
easy:
- Are there predictable patterns in how negatives were selected?
- Is there too much consistency in how negatives relate to positives?
- Would these patterns potentially provide shortcuts for a
classification model?

Second, examine the visual confusion potential:
- How visually similar are the negatives to their positive actions?
- Is there sufficient variety in the types of visual similarity?
- Are the differences appropriately subtle to create genuine challenges?

Third, check for functional relationships:
- Are there any positive-negative pairs that typically occur together?
- Are there pairs that represent sequential or component actions?
- Would any pairs likely appear together in a short video clip?

Finally, review the overall distribution:
- Is any action severely over-represented or under-represented as a
negative?
- Does the selection appear sufficiently unpredictable and varied?
- Are there imbalances that should be addressed?

For any issues identified, suggest specific improvements to create more
genuinely challenging hard negatives.
Provide a summary of the analysis and suggestions for improvement."""

# Figure 13 (round 3).
REVISION_PROMPT = """Based on the analysis, provide a revised CSV with improved hard negatives.

Focus on fixing:
1. The most problematic selection patterns identified
2. Any actions with co-occurring negatives
3. Distribution imbalances

Briefly explain the changes made to each action\u2019s negatives,
ensuring that the new selections are genuinely challenging
and visually confusing.
Then, provide the revised CSV with fixed negative selections,
without detailed explanations for each change."""

# Figure 14 (round 4).
FINAL_PROMPT = """Based on the comprehensive analysis and specific suggestions,
synthesize a final CSV with truly challenging hard negatives
for each action.

Incorporate all the suggested improvements while ensuring:
1. The final list follows the exact same order as the original
action list
2. Each action has 3 negatives that create genuine visual confusion
3. The selection patterns remain unpredictable and varied
4. No functionally related actions are paired
5. The distribution is reasonably balanced
(each action appears 2-5 times as a negative)

Provide the final clean CSV with optimized hard negatives:"""

_PLACEHOLDER = re.compile(r"<ACTION DEFINITION>|<ACTION LIST>|<ACTION>")


def exclusion_note(pairs: Iterable[frozenset[str]]) -> str:
    lines = [" / ".join(sorted(p)) for p in pairs]
    if not lines:
        return ""
    return (
        "\n\nThese pairs of actions can occur together in the same short clip, so never use one as a "
        "hard negative of the other:\n" + "\n".join(f"- {line}" for line in sorted(lines))
    )


def first_prompt(domain: str, actions: Sequence[Action], excluded: Iterable[frozenset[str]] = ()) -> str:
    """Figure 11 filled in for one domain (in a single pass, so a definition that
    happens to contain a placeholder is not substituted again)."""
    values = {
        "<ACTION>": domain,
        "<ACTION DEFINITION>": "\n".join(f"{a.name}: {a.definition}" for a in actions),
        "<ACTION LIST>": "\n".join(a.name for a in actions),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(0)], FIRST_PROMPT) + exclusion_note(excluded)


def correction_prompt(problems: Sequence[str], names: Sequence[str], found_csv: bool) -> str:
    """The message that sends a rule-breaking reply back, listing every problem (each
    naming the row, the value and the likely intended name) and the exact names."""
    if found_csv:
        head = f"Your CSV breaks {len(problems)} rule(s):\n" + "\n".join(f"- {p}" for p in problems)
    else:
        head = "I could not find a CSV in your reply."
    return (
        f"{head}\n\nPlease reply with the complete corrected CSV: the header "
        "action,negative_1,negative_2,negative_3, then exactly one row for each of the "
        f"{len(names)} actions in the original order, each with 3 different negatives, using only "
        "these EXACT action names (never the action itself):\n" + "\n".join(names)
    )
