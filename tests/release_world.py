"""A small release in the official VideoNet format, written here from its documented layout.

The authors' question files (``RAIVNLab/VideoNet`` ``benchmarks/*.jsonl``) state no license,
so nothing is copied from them: this fixture writes its own questions in their format and
with the features the real files have and the importer must tolerate -

* a domain named by its actions ("Which of the following Knots is shown", "which is a
  Knot." - no "in <domain>");
* Title Case names with hand-written grammar in binary prompts ("Recall that Crossovers are
  an action ...", "Recall that Stroking is an action ...") and lower case in MC options;
* subdomain words ("is a Penalty in American Football", "a Shot in Ice Hockey");
* wrong options from another domain (an American Football penalty offered three Ice Hockey
  actions, like the release's ``42-mcq-val-1``);
* the release's structure: per action 5 clips = the MC validation clip, then MC test clips
  1-4; k-shot examples = validation clip, test-1, test-2; positives = test-3, test-4;
  negatives = test-3 clips of two of the action's three MC wrong options; one wrong-option
  set per action, shuffled per question; keys ``<id>-mcq-val-1`` ... ``<id>-neg-2``.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from conftest import make_video

INSTRUCTION = "Please reason through your answer. It is critical that you output 'yes' or 'no' on the final line of your answer."
MC_TAIL = "Please respond with only the letter of the correct answer."


@dataclass(frozen=True)
class FixtureAction:
    domain: str
    name: str  # as binary prompts write it
    phrase: str  # with its article, as the prompts write it ("a Biellmann Spin", "Crossovers")
    be: str  # "is" | "are"
    sub_phrase: str  # "an action", "a Penalty"
    wrong: tuple[str, str, str]  # names (binary form) of the three wrong options

    @property
    def mc_name(self) -> str:
        return self.name.lower()

    @property
    def subdomain(self) -> str:
        return self.sub_phrase.split(" ", 1)[1]


FS, AF, IH, KN = "Figure Skating", "American Football", "Ice Hockey", "Knots"
ACTIONS: list[FixtureAction] = [
    FixtureAction(FS, "Biellmann Spin", "a Biellmann Spin", "is", "an action", ("Camel Spin", "Split Jump", "Sit Spin")),
    FixtureAction(FS, "Camel Spin", "a Camel Spin", "is", "an action", ("Biellmann Spin", "Sit Spin", "Crossovers")),
    FixtureAction(FS, "Crossovers", "Crossovers", "are", "an action", ("Stroking", "Split Jump", "Camel Spin")),
    FixtureAction(FS, "Split Jump", "a Split Jump", "is", "an action", ("Biellmann Spin", "Crossovers", "Stroking")),
    FixtureAction(FS, "Sit Spin", "a Sit Spin", "is", "an action", ("Camel Spin", "Biellmann Spin", "Stroking")),
    FixtureAction(FS, "Stroking", "Stroking", "is", "an action", ("Crossovers", "Sit Spin", "Split Jump")),
    FixtureAction(AF, "Pass Interference", "a Pass Interference", "is", "a Penalty", ("Holding", "Chop Block", "Clipping")),
    # Cross-domain wrong options, as in the release.
    FixtureAction(AF, "Holding", "a Holding", "is", "a Penalty", ("Between-the-Legs Shot", "Boarding", "Interference")),
    FixtureAction(AF, "Chop Block", "a Chop Block", "is", "a Penalty", ("Clipping", "Holding", "Pass Interference")),
    FixtureAction(AF, "Clipping", "a Clipping", "is", "a Penalty", ("Chop Block", "Pass Interference", "Holding")),
    FixtureAction(IH, "Boarding", "a Boarding", "is", "a Penalty", ("Interference", "Slap Shot", "Between-the-Legs Shot")),
    FixtureAction(IH, "Interference", "an Interference", "is", "a Penalty", ("Boarding", "Slap Shot", "Between-the-Legs Shot")),
    FixtureAction(IH, "Slap Shot", "a Slap Shot", "is", "a Shot", ("Between-the-Legs Shot", "Boarding", "Interference")),
    FixtureAction(IH, "Between-the-Legs Shot", "a Between-the-Legs Shot", "is", "a Shot", ("Slap Shot", "Boarding", "Interference")),
    # A domain named by its actions: "Which of the following Knots is shown", "which is a Knot."
    FixtureAction(KN, "Bowline", "a Bowline", "is", "a Knot", ("Clove Hitch", "Sheet Bend", "Reef Knot")),
    FixtureAction(KN, "Clove Hitch", "a Clove Hitch", "is", "a Knot", ("Bowline", "Reef Knot", "Sheet Bend")),
    FixtureAction(KN, "Sheet Bend", "a Sheet Bend", "is", "a Knot", ("Reef Knot", "Bowline", "Clove Hitch")),
    FixtureAction(KN, "Reef Knot", "a Reef Knot", "is", "a Knot", ("Sheet Bend", "Clove Hitch", "Bowline")),
]  # fmt: skip
#: Domains the release names by their actions (no "actions" in MC, no "in <domain>" in binary).
NAMED_BY_ACTIONS = {KN}
COUNT = {1: "video shows", 2: "two videos show", 3: "three videos show"}


@dataclass
class FixtureRelease:
    root: Path
    clips: dict[int, list[str]]  # action id -> 5 file names
    lines: dict[str, list[dict]]  # file name -> the JSON objects written

    def by_key(self, fname: str) -> dict[str, dict]:
        return {d["key"]: d for d in self.lines[fname]}


def mc_text(domain: str, options: list[str]) -> str:
    body = "\n".join(f"{letter}. {o}" for letter, o in zip("ABCD", options))
    noun = domain if domain in NAMED_BY_ACTIONS else f"{domain} actions"
    return f"Which of the following {noun} is shown in the video?\n{body}\n{MC_TAIL}"


def _where(a: FixtureAction) -> str:
    return "" if a.domain in NAMED_BY_ACTIONS else f" in {a.domain}"


def zero_shot_text(a: FixtureAction) -> str:
    return (
        f"Recall that {a.phrase} {a.be} {a.sub_phrase}{_where(a)}. Does the following video show {a.phrase}? "
        + INSTRUCTION
    )


def kshot_texts(a: FixtureAction, k: int) -> tuple[str, str]:
    which = "are" if a.be == "are" else "is"
    intro = (
        f"The following {COUNT[k]} {a.phrase}, which {which} {a.sub_phrase}{_where(a)}. "
        f"Examine the video{'s' if k > 1 else ''} closely."
    )
    return intro, f"Now consider the following video. Does it also show {a.phrase}? {INSTRUCTION}"


def write_release(root: Path, seed: int = 0, with_videos: bool = True) -> FixtureRelease:
    """Write ``root/benchmarks/*.jsonl`` and (optionally) ``root/videos/<uuid>.mp4``."""
    rng = random.Random(seed)
    ids = {a.name: i for i, a in enumerate(ACTIONS, start=1)}
    clips = {i: [str(uuid.UUID(int=rng.getrandbits(128))) + ".mp4" for _ in range(5)] for i in ids.values()}
    lines: dict[str, list[dict]] = {f: [] for f in ("mcq_val.jsonl", "mcq_test.jsonl")}
    lines.update({f"binary_{k}shot.jsonl": [] for k in range(4)})
    for a in ACTIONS:
        i = ids[a.name]
        choices = [a.name, *a.wrong]
        for n, clip in enumerate(clips[i]):
            order = choices[:]
            rng.shuffle(order)
            key = f"{i}-mcq-val-1" if n == 0 else f"{i}-mcq-test-{n}"
            doc = {
                "key": key,
                "question": [
                    {"type": "text", "text": mc_text(a.domain, [o.lower() for o in order])},
                    {"type": "video", "video": clip},
                ],
                "answer": "ABCD"[order.index(a.name)],
            }
            lines["mcq_val.jsonl" if n == 0 else "mcq_test.jsonl"].append(doc)
        negatives = rng.sample(list(a.wrong), 2)
        tests = [
            (f"{i}-pos-1", clips[i][3], "yes"),
            (f"{i}-pos-2", clips[i][4], "yes"),
            *[(f"{i}-neg-{m}", clips[ids[neg]][3], "no") for m, neg in enumerate(negatives, start=1)],
        ]
        for k in range(4):
            for key, clip, answer in tests:
                if k == 0:
                    question = [{"type": "text", "text": zero_shot_text(a)}, {"type": "video", "video": clip}]
                else:
                    intro, ask = kshot_texts(a, k)
                    question = [
                        {"type": "text", "text": intro},
                        *[{"type": "video", "video": c} for c in clips[i][:k]],
                        {"type": "text", "text": ask},
                        {"type": "video", "video": clip},
                    ]
                lines[f"binary_{k}shot.jsonl"].append({"key": key, "question": question, "answer": answer})
    bench = root / "benchmarks"
    bench.mkdir(parents=True, exist_ok=True)
    for fname, docs in lines.items():
        (bench / fname).write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    if with_videos:
        for i, names in clips.items():
            for n, name in enumerate(names):
                make_video(root / "videos" / name, seconds=1.0, seed=i * 10 + n)
    return FixtureRelease(root, clips, lines)
