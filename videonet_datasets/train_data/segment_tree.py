"""Hierarchical temporal segmentation: Action100M's stage 1 (paper §3, "Temporal Segmentation").

Every frame is embedded, then agglomerative clustering with Ward linkage merges frames
bottom-up under a *temporal-adjacency* constraint - each frame is connected to its two
neighbours only, so every merge joins two contiguous spans.  The full merge tree is a
binary tree of contiguous segments: the root is the whole video, lower levels are ever
shorter, more homogeneous spans.  As in the paper, nodes shorter than 0.5 s are dropped
(with everything below them), so a kept node has one or two children.

Frame embeddings come from any image encoder behind :class:`ImageEncoder` (one method:
frames in, one vector per frame out):

* :class:`ThumbnailEncoder` - the offline default, no weights: a 4x4 colour thumbnail of
  every frame plus its (smoothed) frame-difference energy, the features of the offline
  proposal localizer.  **Its limits**: it sees colour layout and the amount of movement,
  not what moves.  Its tree splits at shot cuts, scene and camera changes and at changes
  of pace (a pause between two moves), but not between two different actions performed
  in one continuous take at the same pace, and a moving camera looks like action.  The
  paper uses V-JEPA 2 video features, which separate actions by what happens.
* :class:`TransformersImageEncoder` - any 🤗 transformers image model (DINOv2, SigLIP,
  CLIP, ViT...: ``AutoImageProcessor`` + ``AutoModel``, the image features or the pooled
  output), one L2-normalised vector per frame.  V-JEPA 2 itself is a *video* encoder (it
  embeds 64-frame windows) and would need a windowed interface; it is not wired here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from videonet_datasets.train_data.action100m import Node
from videonet_datasets.train_data.localize import smooth3, thumbnails

__all__ = [
    "ImageEncoder",
    "ThumbnailEncoder",
    "TransformersImageEncoder",
    "load_encoder",
    "segment_tree",
]

MIN_NODE_SECONDS = 0.5


class ImageEncoder(Protocol):
    """Frames ``(N, H, W, 3)`` uint8 RGB, in time order -> ``(N, D)`` float features."""

    name: str

    def embed(self, frames: np.ndarray) -> np.ndarray: ...


class ThumbnailEncoder:
    """Offline default: colour thumbnails + motion energy (no weights; see the module docstring)."""

    name = "thumbnails"

    def embed(self, frames: np.ndarray) -> np.ndarray:
        n = len(frames)
        thumbs = thumbnails(frames)
        motion = np.zeros(n, dtype=np.float32)
        if n > 1:
            f = frames.astype(np.float32) / 255.0
            d = np.abs(np.diff(f, axis=0)).mean(axis=(1, 2, 3))  # d[i]: frame i -> i + 1
            before, after = np.append(d[:1], d), np.append(d, d[-1:])
            # Movement is change on *both* sides of a frame: a shot cut is a change on one side
            # only, and must not look like a burst of motion straddling the cut.
            motion = np.minimum(before, after).astype(np.float32)
        # Scaled up so a change of pace separates segments about as much as a change of scene.
        pace = np.repeat(smooth3(motion)[:, None] * 10.0, 8, axis=1)
        return np.concatenate([thumbs, pace], axis=1).astype(np.float32)


class TransformersImageEncoder:
    """Any transformers image model: its image features (``get_image_features``) when it has
    them, else the pooled output, else the mean of the last hidden state; L2-normalised."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 32):
        import torch
        from transformers import AutoImageProcessor, AutoModel

        self.name = str(model)
        self.device = device
        self.batch_size = batch_size
        self.processor = AutoImageProcessor.from_pretrained(model)
        self.model = AutoModel.from_pretrained(model).to(device).eval()
        self._torch = torch

    def _features(self, pixel_values):
        m = self.model
        if hasattr(m, "get_image_features"):
            out = m.get_image_features(pixel_values=pixel_values)
            return out if isinstance(out, self._torch.Tensor) else out.pooler_output
        out = m(pixel_values=pixel_values)
        pooled = getattr(out, "pooler_output", None)
        return pooled if pooled is not None else out.last_hidden_state.mean(dim=1)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        torch = self._torch
        chunks = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                inputs = self.processor(images=list(frames[i : i + self.batch_size]), return_tensors="pt")
                feats = self._features(inputs["pixel_values"].to(self.device)).float()
                feats = feats.reshape(feats.shape[0], -1)
                chunks.append(torch.nn.functional.normalize(feats, dim=-1).cpu().numpy())
        return np.concatenate(chunks, axis=0) if chunks else np.zeros((0, 1), dtype=np.float32)


def load_encoder(name: str, device: str = "cpu") -> ImageEncoder:
    """``"thumbnails"`` (offline default) or a transformers model id / folder."""
    if name == "thumbnails":
        return ThumbnailEncoder()
    return TransformersImageEncoder(name, device=device)


def _node_id(video_id: str, first: int, last: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"videonet-segment-tree:{video_id}:{first}:{last}"))


def segment_tree(
    features: np.ndarray,
    times: Sequence[float],
    *,
    video_id: str,
    min_seconds: float = MIN_NODE_SECONDS,
    max_depth: int | None = None,
) -> list[Node]:
    """The hierarchy of contiguous segments of one video.

    ``features`` has one row per frame; ``times`` has one more entry than frames: frame ``i``
    spans ``[times[i], times[i + 1])`` (so the last entry is the video's end).  Returns the
    kept nodes, parents before children, each with its ``level`` (depth; the root is 0).
    Node ids are stable (a function of the video id and the frame span)."""
    n = len(features)
    t = np.asarray(times, dtype=np.float64)
    if len(t) != n + 1:
        raise ValueError(f"need {n + 1} frame boundaries for {n} frames, got {len(t)}")
    if n == 0:
        return []
    if n == 1:
        children = np.zeros((0, 2), dtype=np.int64)
    else:
        from scipy.sparse import diags
        from sklearn.cluster import AgglomerativeClustering

        chain = diags([np.ones(n - 1), np.ones(n - 1)], [-1, 1], shape=(n, n))
        model = AgglomerativeClustering(
            n_clusters=1, linkage="ward", connectivity=chain, compute_full_tree=True
        ).fit(np.asarray(features, dtype=np.float64))
        children = model.children_
    # Frame span of every cluster id (ids < n are frames; id n + k is the k-th merge).
    first = np.concatenate([np.arange(n), np.zeros(len(children), dtype=np.int64)])
    last = np.concatenate([np.arange(n), np.zeros(len(children), dtype=np.int64)])
    for k, (a, b) in enumerate(children):
        first[n + k] = min(first[a], first[b])
        last[n + k] = max(last[a], last[b])
    root = n + len(children) - 1
    out: list[Node] = []
    stack: list[tuple[int, str | None, int]] = [(root, None, 0)]
    while stack:
        cid, parent, level = stack.pop()
        start, end = float(t[first[cid]]), float(t[last[cid] + 1])
        if end - start < min_seconds and parent is not None:
            continue
        nid = _node_id(video_id, int(first[cid]), int(last[cid]))
        out.append(Node(nid, parent, level, round(start, 3), round(end, 3)))
        if cid >= n and (max_depth is None or level < max_depth):
            a, b = children[cid - n]
            kids = sorted((a, b), key=lambda c: first[c])
            stack.extend((c, nid, level + 1) for c in reversed(kids))
    return out
