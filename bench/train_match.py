"""Training-data labeling speed: action-name matching on a synthetic 1M-clip crawl, and ASR.

``python -m bench train_match [--clips N] [--baseline-clips N] [--no-asr]``

1. **Labeling** - a synthetic crawl of ``--clips`` localized windows (4 per video, 5 domains
   of 50 action names each, ASR-like transcripts of ~2.5 words/s with names in varied
   spellings: case, punctuation, hyphens, plurals, split compounds) is labeled with the
   pipeline's own code path: the title and the transcript are matched once per video with
   :class:`~videonet_datasets.train_data.match.ActionMatcher`, and the three filters are
   applied to every window.  Target: >= 1M clips per minute on one core.
2. **Baseline** - the obvious alternative in the same run: for every clip, one compiled
   case-insensitive regex per action of its domain over the words near the window (and the
   title).  It runs on a subsample (``--baseline-clips``) and the ratio is of clip rates.
   Its recall against our matcher on that subsample is printed too (it misses spelling
   variants).
3. **ASR real-time factor** - faster-whisper with the offline Whisper tiny.en (int8) on a
   ~30 s espeak-ng narration, 1 and 2 CPU threads: compute seconds per audio second.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
import time
import wave
from collections import Counter
from pathlib import Path

import numpy as np

from videonet_datasets.train_data.filters import Mention, apply_filters
from videonet_datasets.train_data.match import ActionMatcher

HEADS = "back front side switch nose tail heel toe double triple reverse inward outward half full".split()
MOVES = "flip spin kick grind slide turn jump lift roll twist press hold stall wrap catch throw".split()
TAILS = "180 360 plant drop out in over under up down combo loop".split()
FILLER = (
    "the a and now so then look at this one here we go watch it again okay right nice clean try "
    "really good you can see how that is my next trick for today let me show slowly first time "
    "landed almost did not quite but after some practice like subscribe thanks guys"
).split()


def make_taxonomy(rng: np.random.Generator, domains: int = 5, per_domain: int = 50) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for d in range(domains):
        names: set[str] = set()
        while len(names) < per_domain:
            parts = [str(rng.choice(MOVES))]
            if rng.random() < 0.7:
                parts.insert(0, str(rng.choice(HEADS)))
            if rng.random() < 0.3:
                parts.append(str(rng.choice(TAILS)))
            sep = "-" if rng.random() < 0.2 else " "
            names.add(sep.join(parts) if len(parts) > 1 else parts[0] + str(rng.choice(MOVES)))
        # drop names the matcher cannot tell apart (plural twins), as a real taxonomy would
        keep, seen = [], set()
        for n in sorted(names):
            k = " ".join(re.findall(r"\w+", n.lower())).rstrip("s")
            if k not in seen:
                seen.add(k)
                keep.append(n)
        out[f"Domain {d}"] = keep
    return out


def surface(name: str, rng: np.random.Generator) -> list[str]:
    """An ASR-like spelling of a name, as words."""
    words = re.split(r"[ -]", name)
    r = rng.random()
    if r < 0.15:
        words = [w.capitalize() for w in words]
    elif r < 0.25 and len(words) > 1:
        words = ["".join(words)]  # "heelflip"
    elif r < 0.35:
        words[-1] += "s"  # plural
    if rng.random() < 0.3:
        words[-1] += rng.choice([",", ".", "!", "?"])
    return [" " + w for w in words]


class Crawl:
    """Videos as flat word arrays: per video a title, word texts and start times, windows."""

    def __init__(self, n_clips: int, seed: int = 0, clips_per_video: int = 4, words_per_clip: int = 15):
        rng = np.random.default_rng(seed)
        self.taxonomy = make_taxonomy(rng)
        self.domains = list(self.taxonomy)
        n_videos = n_clips // clips_per_video
        self.n_clips = n_videos * clips_per_video
        filler = np.array([" " + w for w in FILLER], dtype=object)
        # a pool of transcripts, reused across videos (real crawls repeat phrasing too)
        pool = min(n_videos, 20000)
        self.transcripts: list[tuple[list[str], np.ndarray]] = []
        n_words = clips_per_video * words_per_clip
        for _ in range(pool):
            d = self.domains[int(rng.integers(len(self.domains)))]
            words = list(filler[rng.integers(len(filler), size=n_words)])
            for _ in range(int(rng.integers(1, clips_per_video + 2))):
                name = self.taxonomy[d][int(rng.integers(len(self.taxonomy[d])))]
                at = int(rng.integers(n_words))
                words[at:at] = surface(name, rng)
            starts = np.cumsum(rng.uniform(0.2, 0.6, size=len(words)))
            self.transcripts.append((words, starts))
        self.pool_domain = [None] * pool
        self.video_transcript = rng.integers(pool, size=n_videos)
        self.video_domain = rng.integers(len(self.domains), size=n_videos)
        self.titles = []
        for v in range(n_videos):
            d = self.domains[int(self.video_domain[v])]
            t = " ".join(str(w) for w in filler[rng.integers(len(filler), size=6)])
            if rng.random() < 0.5:
                t += " " + "".join(surface(self.taxonomy[d][int(rng.integers(len(self.taxonomy[d])))], rng))
            self.titles.append(t.strip())
        self.clips_per_video = clips_per_video

    def windows(self, v: int) -> list[tuple[float, float]]:
        _, starts = self.transcripts[int(self.video_transcript[v])]
        end = float(starts[-1])
        step = end / self.clips_per_video
        return [(i * step + 0.5, (i + 1) * step - 0.5) for i in range(self.clips_per_video)]


def label_ours(crawl: Crawl, videos: range, T: float = 1.0) -> Counter:
    matchers = {d: ActionMatcher(names) for d, names in crawl.taxonomy.items()}
    counts: Counter = Counter()
    for v in videos:
        d = crawl.domains[int(crawl.video_domain[v])]
        m = matchers[d]
        words, starts = crawl.transcripts[int(crawl.video_transcript[v])]
        spoken = [Mention(m.names[x.action], float(starts[x.first])) for x in m.find_in_words(words)]
        res = apply_filters(crawl.windows(v), spoken, m.actions_in(crawl.titles[v]), T=T)
        for w in res.windows:
            for f in w.labels:
                counts[f] += 1
        counts["mentions"] += len(spoken)
    return counts


def label_regex(crawl: Crawl, videos: range, T: float = 1.0) -> Counter:
    """Per clip, one regex per action over the words near the window."""
    patterns = {
        d: [(n, re.compile(r"(?<!\w)" + re.escape(n) + r"(?!\w)", re.I)) for n in names]
        for d, names in crawl.taxonomy.items()
    }
    counts: Counter = Counter()
    for v in videos:
        d = crawl.domains[int(crawl.video_domain[v])]
        pats = patterns[d]
        words, starts = crawl.transcripts[int(crawl.video_transcript[v])]
        title = crawl.titles[v]
        in_title = [n for n, p in pats if p.search(title)]
        wins = crawl.windows(v)
        for s, e in wins:
            lo, hi = np.searchsorted(starts, s - T), np.searchsorted(starts, e + T, side="right")
            text = "".join(words[lo:hi])
            near = [n for n, p in pats if p.search(text)]
            counts["mentions"] += len(near)
            if len(near) == 1:
                counts["transcript_localized"] += 1
                if near[0] in in_title:
                    counts["transcript_localized_title_match"] += 1
        if len(in_title) == 1 and len(wins) == 1:
            counts["single_action"] += 1
    return counts


def asr_rtf(seconds_target: float = 30.0) -> list[tuple[int, float, float, int]]:
    """(threads, audio seconds, compute seconds, words) for Whisper tiny.en int8."""
    from videonet_datasets.train_data.transcribe import FasterWhisperTranscriber

    text = (
        "Welcome back to the channel. Today we practice the heel flip. Watch this kickflip. "
        "Now a varial kickflip, and here comes a pop shove-it. That was a frontside one eighty. "
        "Let me catch my breath. Next up, the nollie and the manual. Thanks for watching. "
    )
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        reps = 1
        while True:
            subprocess.run(
                ["espeak-ng", "-s", "160", "-w", str(wav), text * reps], check=True, capture_output=True
            )
            with wave.open(str(wav)) as w:
                dur = w.getnframes() / w.getframerate()
            if dur >= seconds_target or reps > 8:
                break
            reps += 1
        for threads in (1, 2):
            tr = FasterWhisperTranscriber("tiny.en", cpu_threads=threads)
            tr.transcribe(
                wav, "Skateboarding: kickflip, heel flip, varial kickflip, pop shove-it, nollie, manual."
            )
            t0 = time.perf_counter()
            res = tr.transcribe(
                wav, "Skateboarding: kickflip, heel flip, varial kickflip, pop shove-it, nollie, manual."
            )
            out.append((threads, dur, time.perf_counter() - t0, len(res.words)))
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench train_match", description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=int, default=1_000_000)
    ap.add_argument("--baseline-clips", type=int, default=20_000)
    ap.add_argument("--no-asr", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    crawl = Crawl(args.clips, seed=args.seed)
    n_videos = crawl.n_clips // crawl.clips_per_video
    print(
        f"synthetic crawl: {crawl.n_clips:,} clips in {n_videos:,} videos, {len(crawl.domains)} domains x "
        f"~{np.mean([len(v) for v in crawl.taxonomy.values()]):.0f} actions (built in {time.perf_counter() - t0:.1f}s)"
    )
    t0 = time.perf_counter()
    ours = label_ours(crawl, range(n_videos))
    t_ours = time.perf_counter() - t0
    rate_ours = crawl.n_clips / t_ours * 60
    sub_videos = max(1, args.baseline_clips // crawl.clips_per_video)
    sub = range(sub_videos)
    t0 = time.perf_counter()
    base = label_regex(crawl, sub)
    t_base = time.perf_counter() - t0
    rate_base = sub_videos * crawl.clips_per_video / t_base * 60
    ours_sub = label_ours(crawl, sub)
    print(
        f"  ours (one trie pass per transcript): {t_ours:.1f}s -> {rate_ours / 1e6:.2f}M clips/min on one core"
        f"  [target >= 1M: {'met' if rate_ours >= 1e6 else 'NOT met'}]"
    )
    print(
        f"  per-action regex baseline ({sub_videos * crawl.clips_per_video:,} clips): "
        f"{rate_base / 1e6:.3f}M clips/min"
    )
    print(f"  ratio ours / regex: {rate_ours / rate_base:.1f}x")
    labeled = ", ".join(f"{k} {v:,}" for k, v in sorted(ours.items()) if k != "mentions")
    print(f"  labeled (ours, all clips): {labeled}")
    print(
        f"  on the baseline's subsample: mentions found ours {ours_sub['mentions']:,} / regex {base['mentions']:,}; "
        f"transcript_localized ours {ours_sub['transcript_localized']:,} / regex {base['transcript_localized']:,}"
    )
    if not args.no_asr:
        for threads, dur, secs, words in asr_rtf():
            print(
                f"  ASR faster-whisper tiny.en int8, {threads} thread(s): {dur:.1f}s of speech in {secs:.2f}s "
                f"-> real-time factor {secs / dur:.3f} ({words} words)"
            )
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
