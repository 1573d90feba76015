"""A small numpy renderer for VideoNet-mini: backgrounds, one actor, hard cuts.

A video is a list of *shots* (a hard cut = a new background).  Each shot holds *events*
(one action each: a motion program played over ``[t0, t1]``); between and around events
the actor stands still at the pose where the neighbouring event leaves it.  Everything a
shot looks like comes from its JSON spec, decided by the planner with a per-item seed, so
rendering is a pure function of the spec: the same spec gives the same frames on every
run and in every worker process.

Shapes are drawn as anti-aliased signed-distance fields inside their bounding boxes,
which keeps a 128x128 frame well under a millisecond.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from videonet_datasets.synth.motion import evaluate

__all__ = [
    "ACTOR_STYLES",
    "BACKGROUND_KINDS",
    "num_frames",
    "random_appearance",
    "random_background",
    "render_at",
    "render_frames",
    "shot_poses",
]

Spec = dict[str, Any]
BACKGROUND_KINDS = ("solid", "linear", "radial", "stripes", "checker", "noise")
# body: shape of the actor's body; arm: pointer length in body radii (a long arm sticks
# out of the body, so a spin turns the whole silhouette; a short one is a spoke).
ACTOR_STYLES: dict[str, dict[str, Any]] = {
    "skater": {"body": "circle", "arm": 1.75},
    "dancer": {"body": "ellipse", "arm": 1.75},
    "yoyo": {"body": "circle", "arm": 0.8, "string": True},
    "ball": {"body": "circle", "arm": 0.8, "hands": True},
    "rope": {"body": "square", "arm": 1.7},
}


# ------------------------------------------------------------------ random looks


def _hsv(h: float, s: float, v: float) -> list[float]:
    return [round(c, 4) for c in colorsys.hsv_to_rgb(h % 1.0, s, v)]


def random_background(rng: np.random.Generator, dark: bool) -> Spec:
    """A background in one luminance band (dark or light) so the actor, drawn from the
    other band, always stands out - the demo's tiny model must see it at 56 px."""
    band = (0.12, 0.36) if dark else (0.66, 0.92)
    h = float(rng.random())
    s = float(rng.uniform(0.1, 0.6))
    v0 = float(rng.uniform(*band))
    v1 = float(np.clip(v0 + rng.uniform(-0.12, 0.12), *band))
    bg: Spec = {
        "kind": BACKGROUND_KINDS[int(rng.integers(len(BACKGROUND_KINDS)))],
        "c0": _hsv(h, s, v0),
        "c1": _hsv(h + rng.uniform(-0.15, 0.15), s, v1),
        "angle": round(float(rng.uniform(0, 360)), 2),
        "period": round(float(rng.uniform(0.15, 0.5)), 3),
        "centre": [round(float(rng.uniform(-0.6, 0.6)), 3), round(float(rng.uniform(-0.6, 0.6)), 3)],
        "seed": int(rng.integers(2**31)),
        "decor": [],
    }
    for _ in range(int(rng.integers(0, 4))):
        bg["decor"].append(
            {
                "shape": "circle" if rng.random() < 0.5 else "rect",
                "x": round(float(rng.uniform(-0.9, 0.9)), 3),
                "y": round(float(rng.uniform(-0.9, 0.9)), 3),
                "s": round(float(rng.uniform(0.08, 0.3)), 3),
                "color": _hsv(rng.random(), s, float(np.clip(v0 + rng.uniform(-0.1, 0.1), *band))),
            }
        )
    return bg


def random_appearance(rng: np.random.Generator, style: str, dark_background: bool) -> Spec:
    """The actor's look for one clip or web video: colours from the band opposite the
    background, a random size, and (per style) a hand or two.  Drawn per clip from the
    domain's style only - never from the action - so looks carry no label."""
    if style not in ACTOR_STYLES:
        raise ValueError(f"unknown actor style {style!r}; known: {sorted(ACTOR_STYLES)}")
    band = (0.72, 0.98) if dark_background else (0.05, 0.3)
    other = (0.05, 0.3) if dark_background else (0.72, 0.98)
    h = float(rng.random())
    actor: Spec = {
        "style": style,
        "r": round(float(rng.uniform(0.16, 0.24)), 4),
        "body": _hsv(h, rng.uniform(0.3, 0.9), rng.uniform(*band)),
        "arm": _hsv(h + rng.uniform(0.3, 0.7), rng.uniform(0.5, 1.0), rng.uniform(*band)),
        "tip": _hsv(h + rng.uniform(0.3, 0.7), rng.uniform(0.5, 1.0), rng.uniform(*other)),
    }
    if ACTOR_STYLES[style].get("arm", 1.0) < 1.0:  # a spoke inside the body must contrast with it
        actor["arm"] = _hsv(h + 0.5, rng.uniform(0.5, 1.0), rng.uniform(*other))
    if ACTOR_STYLES[style].get("string"):
        actor["hand"] = [round(float(rng.uniform(-0.5, 0.5)), 3), round(float(rng.uniform(-0.95, -0.8)), 3)]
    if ACTOR_STYLES[style].get("hands"):
        actor["hands"] = [round(float(rng.uniform(0.35, 0.6)), 3), round(float(rng.uniform(0.78, 0.92)), 3)]
    return actor


# ------------------------------------------------------------------- drawing


class _Canvas:
    """Maps normalised coordinates (short side spans [-1, 1], y down) to pixels and
    paints anti-aliased SDF shapes into a float image."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.scale = min(width, height) / 2.0
        self.ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
        self.xs = np.arange(width, dtype=np.float32)[None, :] + 0.5

    def px(self, x: float, y: float) -> tuple[float, float]:
        return self.w / 2.0 + x * self.scale, self.h / 2.0 + y * self.scale

    def paint(
        self,
        img: np.ndarray,
        box: tuple[float, float, float, float],
        sdf: Callable[[np.ndarray, np.ndarray], np.ndarray],
        color: Sequence[float],
    ) -> None:
        x0, y0, x1, y1 = box
        i0, i1 = max(0, int(math.floor(y0)) - 1), min(self.h, int(math.ceil(y1)) + 1)
        j0, j1 = max(0, int(math.floor(x0)) - 1), min(self.w, int(math.ceil(x1)) + 1)
        if i0 >= i1 or j0 >= j1:
            return
        d = sdf(self.xs[:, j0:j1], self.ys[i0:i1, :])
        alpha = np.clip(0.5 - d, 0.0, 1.0)[..., None]
        region = img[i0:i1, j0:j1]
        region += (np.asarray(color, dtype=np.float32) - region) * alpha


def _circle(cx: float, cy: float, r: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda x, y: np.sqrt((x - cx) ** 2 + (y - cy) ** 2) - r


def _ellipse(cx: float, cy: float, rx: float, ry: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    return lambda x, y: (np.sqrt(((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2) - 1.0) * min(rx, ry)


def _rounded_square(
    cx: float, cy: float, half: float, radius: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    def sdf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        qx = np.abs(x - cx) - (half - radius)
        qy = np.abs(y - cy) - (half - radius)
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0) - radius

    return sdf


def _capsule(
    ax: float, ay: float, bx: float, by: float, r: float
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    dx, dy = bx - ax, by - ay
    ll = dx * dx + dy * dy or 1e-9

    def sdf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        t = np.clip(((x - ax) * dx + (y - ay) * dy) / ll, 0.0, 1.0)
        return np.sqrt((x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2) - r

    return sdf


def _background(canvas: _Canvas, bg: Spec) -> np.ndarray:
    """The static image of one shot (computed once per shot)."""
    h, w = canvas.h, canvas.w
    x = (canvas.xs - w / 2.0) / canvas.scale
    y = (canvas.ys - h / 2.0) / canvas.scale
    x, y = np.broadcast_arrays(x, y)
    kind = bg["kind"]
    a = math.radians(bg.get("angle", 0.0))
    proj = x * math.cos(a) + y * math.sin(a)
    if kind == "solid":
        t = np.zeros_like(x)
    elif kind == "linear":
        t = np.clip((proj + 1.4) / 2.8, 0, 1)
    elif kind == "radial":
        cx, cy = bg.get("centre", [0.0, 0.0])
        t = np.clip(np.sqrt((x - cx) ** 2 + (y - cy) ** 2) / 1.6, 0, 1)
    elif kind == "stripes":
        t = 0.5 + 0.5 * np.sin(2 * math.pi * proj / bg.get("period", 0.3))
    elif kind == "checker":
        p = bg.get("period", 0.3)
        t = ((np.floor(x / p) + np.floor(y / p)) % 2).astype(np.float32)
    elif kind == "noise":
        rng = np.random.default_rng(int(bg.get("seed", 0)))
        grid = rng.random((6, 6)).astype(np.float32)
        gy = np.clip((y + 1.0) / 2.0 * 5.0, 0, 5)
        gx = np.clip((x + 1.0) / 2.0 * 5.0, 0, 5)
        i0, j0 = np.floor(gy).astype(int).clip(0, 4), np.floor(gx).astype(int).clip(0, 4)
        fy, fx = gy - i0, gx - j0
        t = (
            grid[i0, j0] * (1 - fx) * (1 - fy)
            + grid[i0, j0 + 1] * fx * (1 - fy)
            + grid[i0 + 1, j0] * (1 - fx) * fy
            + grid[i0 + 1, j0 + 1] * fx * fy
        )
    else:
        raise ValueError(f"unknown background kind {kind!r}; known: {BACKGROUND_KINDS}")
    c0 = np.asarray(bg["c0"], dtype=np.float32)
    c1 = np.asarray(bg["c1"], dtype=np.float32)
    img = (c0 + (c1 - c0) * t[..., None].astype(np.float32)).astype(np.float32)
    for d in bg.get("decor", []):
        cx, cy = canvas.px(d["x"], d["y"])
        s = d["s"] * canvas.scale
        box = (cx - s, cy - s, cx + s, cy + s)
        sdf = _circle(cx, cy, s) if d["shape"] == "circle" else _rounded_square(cx, cy, s, 0.2 * s)
        canvas.paint(img, box, sdf, d["color"])
    return np.ascontiguousarray(img)


def _static_props(canvas: _Canvas, img: np.ndarray, actor: Spec) -> None:
    """Props that never move during a shot (the juggler's hands) go into the background."""
    if "hands" in actor:
        hx, hy = actor["hands"]
        r = actor["r"] * canvas.scale
        for sx in (-1.0, 1.0):
            cx, cy = canvas.px(sx * hx, hy)
            canvas.paint(
                img,
                (cx - 1.3 * r, cy - 0.8 * r, cx + 1.3 * r, cy + 0.8 * r),
                _ellipse(cx, cy, 1.2 * r, 0.7 * r),
                actor["body"],
            )


def _draw_actor(canvas: _Canvas, img: np.ndarray, actor: Spec, x: float, y: float, theta: float) -> None:
    style = ACTOR_STYLES[actor["style"]]
    r = actor["r"] * canvas.scale
    cx, cy = canvas.px(x, y)
    if style.get("string") and "hand" in actor:
        hx, hy = canvas.px(*actor["hand"])
        canvas.paint(
            img,
            (min(hx, cx), min(hy, cy), max(hx, cx), max(hy, cy)),
            _capsule(hx, hy, cx, cy, 0.6),
            actor["arm"] if style["arm"] >= 1 else actor["tip"],
        )
        canvas.paint(
            img,
            (hx - 0.5 * r, hy - 0.5 * r, hx + 0.5 * r, hy + 0.5 * r),
            _circle(hx, hy, 0.4 * r),
            actor["body"],
        )
    arm_len = style["arm"] * r
    ex, ey = cx + arm_len * math.cos(theta), cy + arm_len * math.sin(theta)
    arm_w = max(1.0, 0.3 * r)
    arm = (
        (min(cx, ex) - arm_w, min(cy, ey) - arm_w, max(cx, ex) + arm_w, max(cy, ey) + arm_w),
        _capsule(cx, cy, ex, ey, arm_w),
        actor["arm"],
    )
    if style["arm"] >= 1.0:
        canvas.paint(img, *arm)
    body = style["body"]
    if body == "ellipse":
        canvas.paint(
            img,
            (cx - 0.8 * r, cy - 1.3 * r, cx + 0.8 * r, cy + 1.3 * r),
            _ellipse(cx, cy, 0.75 * r, 1.25 * r),
            actor["body"],
        )
    elif body == "square":
        canvas.paint(
            img, (cx - r, cy - r, cx + r, cy + r), _rounded_square(cx, cy, 0.9 * r, 0.3 * r), actor["body"]
        )
    else:
        canvas.paint(img, (cx - r, cy - r, cx + r, cy + r), _circle(cx, cy, r), actor["body"])
    if style["arm"] < 1.0:
        canvas.paint(img, *arm)
    tr = max(1.0, 0.25 * r)
    canvas.paint(img, (ex - tr, ey - tr, ex + tr, ey + tr), _circle(ex, ey, tr), actor["tip"])


# -------------------------------------------------------------------- motion


def _event_poses(event: Spec, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poses of one event at absolute times (clamped to the event: before it the actor
    waits at its start pose, after it at its end pose)."""
    t0, t1 = float(event["t0"]), float(event["t1"])
    u = np.clip((times - t0) / max(t1 - t0, 1e-6), 0.0, 1.0)
    segs = event["segments"]
    pose = evaluate(segs, u)
    mid = evaluate(segs, [0.5])
    amp = float(event.get("amp", 1.0))
    ox, oy = event.get("origin", [0.0, 0.0])
    x = ox + amp * (pose.x - mid.x[0])
    y = oy + amp * (pose.y - mid.y[0])
    theta = float(event.get("theta0", 0.0)) + pose.theta
    return x, y, theta


def shot_poses(shot: Spec, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actor poses at absolute ``times`` inside a shot: each time takes the event that is
    running, else the one that ended last, else the first one to come (or the shot's
    ``rest`` pose when it has no events)."""
    times = np.asarray(times, dtype=np.float64)
    events = sorted(shot.get("events", []), key=lambda e: e["t0"])
    if not events:
        rx, ry, rt = shot.get("rest", [0.0, 0.0, 0.0])
        return np.full(times.shape, rx), np.full(times.shape, ry), np.full(times.shape, rt)
    owner = np.zeros(times.shape, dtype=int)
    for k, e in enumerate(events):
        owner[times >= e["t0"]] = k
    x = np.empty(times.shape)
    y = np.empty(times.shape)
    th = np.empty(times.shape)
    for k, e in enumerate(events):
        m = owner == k
        if m.any():
            x[m], y[m], th[m] = _event_poses(e, times[m])
    return x, y, th


def num_frames(duration: float, fps: float) -> int:
    """Frames of a video of ``duration`` seconds (frame i shows time i / fps)."""
    return max(1, int(round(duration * fps)))


def render_at(spec: Spec, times: np.ndarray | Sequence[float], *, actor: bool = True) -> Iterator[np.ndarray]:
    """Yield the RGB uint8 frames of a video spec at the given times (seconds, ascending
    or not).  ``actor=False`` gives the clean plate (background and static props only),
    which analysis code uses for exact foreground masks."""
    width, height = (int(v) for v in spec["size"])
    if width % 2 or height % 2:
        raise ValueError(f"frame size must be even for H.264, got {width}x{height}")
    times = np.asarray(times, dtype=np.float64)
    shots = sorted(spec["shots"], key=lambda s: s["t0"])
    if not shots:
        raise ValueError("a video spec needs at least one shot")
    canvas = _Canvas(width, height)
    shot_of = np.zeros(len(times), dtype=int)
    for k, s in enumerate(shots):
        shot_of[times >= s["t0"] - 1e-9] = k
    plates: dict[int, np.ndarray] = {}
    poses = {}
    for k in np.unique(shot_of):
        idx = np.nonzero(shot_of == k)[0]
        poses[int(k)] = dict(zip(idx.tolist(), zip(*shot_poses(shots[k], times[idx]))))
    for i in range(len(times)):
        k = int(shot_of[i])
        if k not in plates:
            if len(plates) > 2:
                plates.clear()  # frames come shot by shot: keep memory flat on long videos
            plates[k] = _background(canvas, shots[k]["background"])
            _static_props(canvas, plates[k], shots[k]["actor"])
        img = plates[k].copy()
        if actor:
            x, y, th = poses[k][i]
            _draw_actor(canvas, img, shots[k]["actor"], float(x), float(y), float(th))
        yield (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def render_frames(spec: Spec) -> Iterator[np.ndarray]:
    """Yield the RGB uint8 frames of a video spec: ``size`` [W, H], ``fps``,
    ``duration`` and ``shots`` (each with ``t0``, ``t1``, ``background``, ``actor`` and
    ``events``); frame i shows time i / fps."""
    fps = float(spec["fps"])
    n = num_frames(float(spec["duration"]), fps)
    yield from render_at(spec, np.arange(n) / fps)
