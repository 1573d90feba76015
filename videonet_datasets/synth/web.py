"""Planning the narrated "web videos": the raw material of the training-data pipeline.

The paper's training data comes from crawled videos whose titles and speech name
actions: a localizer proposes clips, Whisper word times place spoken names, and one of
three filters turns that into labels (transcript near a clip / and title match /
single-action video).  These plans imitate that material with known truth:

``single``       title names an action; one shot, one performance of it (idle around);
``multi``        a practice session: 2-5 performances, mostly one per shot (hard cuts),
                 sometimes two in one shot separated by idle time; generic or one-action title;
``howto``        "How to do a X": a talking intro that names X while nothing happens, slow
                 demonstrations, sometimes a "common mistake" (a hard negative) shown;
``compilation``  many short cuts, sparse exclamations, few names.

Noise is injected with known tags, all recorded in ``ground_truth.jsonl``:
``wrong_title`` (the title names a hard negative of what is shown), ``misnamed_segment``
(the narrator names the wrong action during a performance), ``unshown_mention`` (an
action named that never appears), ``timing_offset`` (a name said 1.5-3.5 s off),
``unnarrated_segment`` (a performance nobody names), ``filler`` (small talk),
``mistake_demo`` (a hard negative performed in a how-to).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videonet_datasets.fsutil import stable_rng
from videonet_datasets.synth.config import WEB_KINDS, SynthConfig
from videonet_datasets.synth.motion import evaluate
from videonet_datasets.synth.plan import make_event, new_shot
from videonet_datasets.synth.render import num_frames, random_appearance
from videonet_datasets.synth.taxonomy import ActionDef, DomainDef, a_or_an

__all__ = ["NEAR", "VOICES", "WebPlan", "allocate_kinds", "plan_web_videos", "shown_near"]

Spec = dict[str, Any]
NEAR = 1.0  # a named action counts as "shown" when performed within 1 s of the words
VOICES = ("en-us", "en-gb", "en-us+m3", "en-us+f2", "en-gb+f3", "en-us+m7")
GENERIC_FILLER = (
    "Welcome back to the channel.",
    "Don't forget to like and subscribe.",
    "Okay, let's get started.",
    "It took me a long time to learn this.",
    "Let me catch my breath for a second.",
    "Thanks for watching, see you next time.",
)
EXCLAMATIONS = ("Wow!", "Look at that!", "So clean.", "Amazing.", "Oh, nice one.")
NAME_BEFORE = (
    "Here comes {an} {a}.",
    "Watch this {a}.",
    "Now, {an} {a}.",
    "Next up, the {a}.",
    "Let's try {an} {a}.",
)
NAME_AFTER = ("That was {an} {a}.", "Nice {a}!", "There's the {a}.")


@dataclass
class WebPlan:
    video_id: str
    domain: str
    kind: str
    title: str
    title_action: str | None
    title_correct: bool
    channel: str
    upload_date: str
    voice: str
    speed: int
    spec: Spec = field(repr=False)
    segments: list[dict[str, Any]]
    script: list[dict[str, Any]]  # desired lines: {"t", "text", "action"}
    noise: list[str]

    @property
    def path(self) -> str:
        return f"videos/{self.video_id}.mp4"


def _r(x: float, nd: int = 3) -> float:
    return round(float(x), nd)


def allocate_kinds(n: int, mix: dict[str, float], seed: int) -> list[str]:
    """Exactly ``round``-ed shares of each kind (largest remainder), in seeded order."""
    total = sum(mix.values())
    raw = {k: n * mix.get(k, 0.0) / total for k in WEB_KINDS}
    counts = {k: int(math.floor(v)) for k, v in raw.items()}
    for k in sorted(WEB_KINDS, key=lambda k: (-(raw[k] - counts[k]), WEB_KINDS.index(k)))[
        : n - sum(counts.values())
    ]:
        counts[k] += 1
    kinds = [k for k in WEB_KINDS for _ in range(counts[k])]
    order = stable_rng(seed, "web-kinds", n).permutation(n)
    return [kinds[i] for i in order]


def shown_near(action: str | None, start: float, end: float, segments: list[dict[str, Any]]) -> bool:
    """Whether ``action`` is performed within ``NEAR`` seconds of ``[start, end]``."""
    if action is None:
        return False
    return any(
        s["action"] == action and s["start"] <= end + NEAR and s["end"] >= start - NEAR for s in segments
    )


class _Builder:
    """Accumulates shots, segments and script lines of one web video."""

    def __init__(self, rng: np.random.Generator, config: SynthConfig, domain: DomainDef):
        self.rng, self.config, self.domain = rng, config, domain
        self.dark = bool(rng.random() < 0.5)
        self.actor = random_appearance(rng, domain.actor, self.dark)
        self.t = 0.0
        self.shots: list[Spec] = []
        self.segments: list[dict[str, Any]] = []
        self.script: list[dict[str, Any]] = []
        self.noise: set[str] = set()

    # -- timing
    def seg_length(self, slow: float = 1.0) -> float:
        median = min(5.0, max(2.0, self.domain.clip_median))
        d = median * math.exp(0.4 * self.rng.normal()) * slow
        return max(0.8, min(9.0, d)) * self.config.duration_scale

    def idle_shot(self, length: float) -> tuple[float, float]:
        t0 = self.t
        self.shots.append(new_shot(self.rng, t0, t0 + length, self._actor(), self.dark, []))
        self.t += length
        return t0, self.t

    def _actor(self) -> Spec:
        # Same performer through the video; the camera distance changes a little per shot.
        a = dict(self.actor)
        a["r"] = round(self.actor["r"] * float(self.rng.uniform(0.9, 1.1)), 4)
        return a

    def shot(
        self, actions: list[ActionDef], lead: float, tail: float, gap: float = 1.5, slow: float = 1.0
    ) -> list[dict]:
        """A shot performing ``actions`` one after the other (idle ``gap`` between,
        the next performance starting where the previous one ended)."""
        t0 = self.t
        t = t0 + lead
        events: list[Spec] = []
        segs = []
        for k, action in enumerate(actions):
            length = self.seg_length(slow)
            if events:
                t += gap
            ev = make_event(self.rng, action, t, t + length)
            if events:
                _chain(events[-1], ev)
            events.append(ev)
            segs.append({"start": _r(ev["t0"]), "end": _r(ev["t1"]), "action": action.name})
            t += length
            if k == len(actions) - 1:
                t += tail
        self.shots.append(new_shot(self.rng, t0, t, self._actor(), self.dark, events))
        self.t = t
        self.segments.extend(segs)
        return segs

    # -- speech
    def say(self, t: float, text: str, action: str | None = None) -> None:
        self.script.append({"t": _r(max(0.0, t)), "text": text, "action": action})

    def filler(self, t: float) -> None:
        pool = GENERIC_FILLER[:-1] + tuple(self.domain.filler)
        self.say(t, pool[int(self.rng.integers(len(pool)))])
        self.noise.add("filler")

    def name(
        self, seg: dict[str, Any], negatives: dict[str, tuple[str, str, str]], p_misname: float = 0.08
    ) -> None:
        """Name a performance near it (before, during or just after), with noise."""
        action = seg["action"]
        if self.rng.random() < p_misname:
            negs = negatives[action]
            action = negs[int(self.rng.integers(3))]
            self.noise.add("misnamed_segment")
        if self.rng.random() < 0.65:
            template = NAME_BEFORE[int(self.rng.integers(len(NAME_BEFORE)))]
            t = seg["start"] + self.rng.uniform(-0.8, 0.4)
        else:
            template = NAME_AFTER[int(self.rng.integers(len(NAME_AFTER)))]
            t = seg["end"] + self.rng.uniform(0.0, 0.5)
        if self.rng.random() < 0.15:
            t += float(self.rng.choice([-1.0, 1.0])) * self.rng.uniform(1.5, 3.5)
            self.noise.add("timing_offset")
        self.say(t, _fill(template, action), action)

    def spec(self) -> tuple[Spec, float]:
        total = num_frames(self.t, self.config.fps) / self.config.fps
        self.shots[-1]["t1"] = _r(total, 4)
        spec = {
            "size": list(self.config.size),
            "fps": self.config.fps,
            "duration": total,
            "crf": self.config.crf,
            "shots": self.shots,
        }
        return spec, total


def _fill(template: str, action: str) -> str:
    text = template.format(a=action, an=a_or_an(action))
    return text[0].upper() + text[1:]


def _chain(prev: Spec, event: Spec) -> None:
    """Move ``event`` so it starts where ``prev`` ended (two performances in one shot, no
    teleport), unless that would push it out of the frame (then it keeps its origin)."""
    pe, pm = evaluate(prev["segments"], [1.0]), evaluate(prev["segments"], [0.5])
    end_x = prev["origin"][0] + prev["amp"] * (pe.x[0] - pm.x[0])
    end_y = prev["origin"][1] + prev["amp"] * (pe.y[0] - pm.y[0])
    s0, m0 = evaluate(event["segments"], [0.0]), evaluate(event["segments"], [0.5])
    ox = end_x - event["amp"] * (s0.x[0] - m0.x[0])
    oy = end_y - event["amp"] * (s0.y[0] - m0.y[0])
    if abs(ox) <= 0.3 and abs(oy) <= 0.3:
        event["origin"] = [round(float(ox), 4), round(float(oy), 4)]


def _title(
    rng: np.random.Generator, templates: tuple[str, ...], domain: DomainDef, action: str | None
) -> str:
    template = templates[int(rng.integers(len(templates)))]
    text = template.format(a=action or "", an=a_or_an(action or "x"), d=domain.name, dl=domain.name.lower())
    return text[0].upper() + text[1:]


SINGLE_TITLES = (
    "{a}",
    "My first clean {a}",
    "{a} in slow motion",
    "Finally landed the {a}!",
    "{d}: {a}",
    "{a} - practice clip",
)
HOWTO_TITLES = ("How to do {an} {a}", "{a} tutorial for beginners", "Learn the {a} step by step")
MULTI_TITLES = ("{d} practice session", "Morning {dl} training", "{d} class highlights", "A day of {dl}")
MULTI_NAMED_TITLES = ("Working on my {a} and more", "{d} session: {a} and friends")
COMPILATION_TITLES = ("Best {dl} moments of the year", "{d} compilation", "Top {dl} clips this month")


def _wrong(rng: np.random.Generator, action: str, negatives: dict[str, tuple[str, str, str]]) -> str:
    return negatives[action][int(rng.integers(3))]


def _plan_single(b: _Builder, negatives: dict[str, tuple[str, str, str]]) -> tuple[str | None, str]:
    rng, domain = b.rng, b.domain
    action = domain.actions[int(rng.integers(len(domain.actions)))]
    lead, tail = rng.uniform(2.0, 5.0), rng.uniform(1.5, 4.0)
    (seg,) = b.shot([action], lead, tail)
    if rng.random() < 0.6:
        b.filler(rng.uniform(0.1, 0.6))
    if rng.random() < 0.9:
        b.name(seg, negatives, p_misname=0.05)
    else:
        b.noise.add("unnarrated_segment")
    if rng.random() < 0.1:
        neg = _wrong(rng, action.name, negatives)
        b.say(b.t - 1.2, _fill("Next time I'll show you the {a}.", neg), neg)
        b.noise.add("unshown_mention")
    titled = action.name
    if rng.random() < 0.12:
        titled = _wrong(rng, action.name, negatives)
        b.noise.add("wrong_title")
    return titled, _title(rng, SINGLE_TITLES, domain, titled)


def _plan_multi(b: _Builder, negatives: dict[str, tuple[str, str, str]]) -> tuple[str | None, str]:
    rng, domain = b.rng, b.domain
    n = int(rng.integers(2, 6))
    chosen: list[ActionDef] = []
    while len(chosen) < n:
        a = domain.actions[int(rng.integers(len(domain.actions)))]
        if not chosen or a.name != chosen[-1].name:
            chosen.append(a)
    k = 0
    while k < len(chosen):
        pair = k + 1 < len(chosen) and rng.random() < 0.3
        group = chosen[k : k + 2] if pair else chosen[k : k + 1]
        segs = b.shot(group, rng.uniform(0.6, 1.8), rng.uniform(0.6, 1.8), gap=rng.uniform(1.2, 2.5))
        for seg in segs:
            if rng.random() < 0.8:
                b.name(seg, negatives)
            else:
                b.noise.add("unnarrated_segment")
        k += len(group)
    if rng.random() < 0.5:
        b.filler(rng.uniform(0.0, 0.4))
    if rng.random() < 0.15:
        absent = [a.name for a in domain.actions if a.name not in {c.name for c in chosen}]
        if absent:
            named = absent[int(rng.integers(len(absent)))]
            b.say(b.t - 1.5, _fill("Tomorrow I'll work on the {a}.", named), named)
            b.noise.add("unshown_mention")
    u = rng.random()
    if u < 0.5:
        return None, _title(rng, MULTI_TITLES, domain, None)
    if u < 0.9:
        named = chosen[int(rng.integers(len(chosen)))].name
        return named, _title(rng, MULTI_NAMED_TITLES, domain, named)
    absent = [a.name for a in domain.actions if a.name not in {c.name for c in chosen}] or [chosen[0].name]
    named = absent[int(rng.integers(len(absent)))]
    if named not in {c.name for c in chosen}:
        b.noise.add("wrong_title")
    return named, _title(rng, MULTI_NAMED_TITLES, domain, named)


def _plan_howto(b: _Builder, negatives: dict[str, tuple[str, str, str]]) -> tuple[str | None, str]:
    rng, domain = b.rng, b.domain
    action = domain.actions[int(rng.integers(len(domain.actions)))]
    a = action.name
    t0, t1 = b.idle_shot(rng.uniform(4.5, 7.0))
    b.say(t0 + rng.uniform(0.1, 0.5), _fill("Today I will show you how to do {an} {a}.", a), a)
    b.say(t0 + 2.6, _fill("The {a} is easier than it looks.", a), a)
    if rng.random() < 0.5:
        b.filler(t1 - 1.2)
    for k in range(int(rng.integers(1, 3))):
        (seg,) = b.shot(
            [action], rng.uniform(0.8, 1.5), rng.uniform(0.8, 1.5), slow=float(rng.uniform(1.2, 1.6))
        )
        line = "Watch closely, here is the {a}." if k == 0 else "One more time, the {a}."
        b.say(seg["start"] - rng.uniform(0.3, 0.8), _fill(line, a), a)
    if rng.random() < 0.4:
        wrong = domain.action(_wrong(rng, a, negatives))
        (seg,) = b.shot([wrong], rng.uniform(0.8, 1.5), rng.uniform(1.2, 2.0))
        b.say(seg["start"] - 0.6, "A common mistake looks like this.")
        b.say(seg["end"] + 0.2, _fill("That is not {an} {a}.", a), a)
        b.noise.add("mistake_demo")
    t0, _ = b.idle_shot(rng.uniform(2.0, 3.0))
    b.say(t0 + 0.2, GENERIC_FILLER[-1])
    b.noise.add("filler")
    titled = a
    if rng.random() < 0.1:
        titled = _wrong(rng, a, negatives)
        b.noise.add("wrong_title")
    return titled, _title(rng, HOWTO_TITLES, domain, titled)


def _plan_compilation(b: _Builder, negatives: dict[str, tuple[str, str, str]]) -> tuple[str | None, str]:
    rng, domain = b.rng, b.domain
    for _ in range(int(rng.integers(5, 10))):
        action = domain.actions[int(rng.integers(len(domain.actions)))]
        (seg,) = b.shot([action], rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6), slow=0.7)
        u = rng.random()
        if u < 0.35:
            b.name(seg, negatives, p_misname=0.1)
        else:
            b.noise.add("unnarrated_segment")
            if u < 0.75:
                b.say(seg["end"] - 0.3, EXCLAMATIONS[int(rng.integers(len(EXCLAMATIONS)))])
                b.noise.add("filler")
    return None, _title(rng, COMPILATION_TITLES, domain, None)


_PLANNERS = {
    "single": _plan_single,
    "multi": _plan_multi,
    "howto": _plan_howto,
    "compilation": _plan_compilation,
}


def plan_web_videos(
    config: SynthConfig, domains: list[DomainDef], negatives: dict[str, dict[str, tuple[str, str, str]]]
) -> list[WebPlan]:
    """``config.web_videos`` plans, domains in turn, kinds in the configured mix."""
    kinds = allocate_kinds(config.web_videos, config.web_mix, config.seed)
    plans = []
    for i, kind in enumerate(kinds):
        domain = domains[i % len(domains)]
        rng = stable_rng(config.seed, "web", i)
        b = _Builder(rng, config, domain)
        title_action, title = _PLANNERS[kind](b, negatives[domain.name])
        spec, total = b.spec()
        for line in b.script:  # lines past the end are pulled back by the placer
            line["t"] = _r(min(line["t"], total))
        shown_actions = {s["action"] for s in b.segments}
        ch = int(rng.integers(len(domain.channels)))
        date = dt.date(2012, 1, 1) + dt.timedelta(days=int(rng.integers(0, 5000)))
        plans.append(
            WebPlan(
                video_id=f"web_{i + 1:04d}",
                domain=domain.name,
                kind=kind,
                title=title,
                title_action=title_action,
                title_correct=title_action is None or title_action in shown_actions,
                channel=domain.channels[ch],
                upload_date=date.isoformat(),
                voice=VOICES[(ch + 2 * domains.index(domain)) % len(VOICES)],
                speed=int(145 + 10 * ((ch + i) % 4)),
                spec=spec,
                segments=b.segments,
                script=b.script,
                noise=sorted(b.noise),
            )
        )
    return plans
