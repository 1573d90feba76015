"""The order in which a model should answer its questions so that each clip is decoded once.

lmms-eval hands a model every request of a run at once, task after task.  A clip of VideoNet
is an input of ~17 requests spread over the 9 test tasks (its MC question, the binary
questions it is the test clip of, the k-shot questions it is an example in), so in that
order a clip's uses lie thousands of requests apart.  The decoded-frame cache
(:mod:`videonet_datasets.frame_cache`) keeps them only if it holds the whole suite's frames:
~10 GB at 320x240 and 1 fps for VideoNet's 5,000 clips, 29 GB at 640x360, against a 1 GB
memory default.  On the full-size world (``python -m research.feed_order``, which replays the
suite through an LRU of that size; ``python -m bench eval`` measures it) lmms-eval's order
decodes each clip 6.4 times at 320x240, 6.5 at 640x360 and 7.0 at 1280x720; in
:func:`locality_order` 1.01, 1.06 and 1.35 times.

:func:`locality_order` walks the graph that links each request to its clips, depth first,
always from the most recently used clip: it places the next request that uses that clip, and
a clip leaves the walk once all its requests are placed.  So a clip's requests come together,
and a k-shot question's examples (the first on top) pull in the other questions that show
them while they are still in the cache.  It uses nothing but the clip lists, so it works for
any task whose documents name their clips; requests without clips keep their order relative
to each other.  It is linear in the number of clip inputs (84,000 for VideoNet).

The models answer in this order and return the replies in lmms-eval's order
(:func:`restore_order`), so scores, logs and sample files are unchanged.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

__all__ = ["ORDERS", "answer_order", "locality_order", "restore_order"]

#: How a model walks its requests: ``locality`` (each clip's uses together) or lmms-eval's ``given`` order.
ORDERS = ("locality", "given")

T = TypeVar("T")


def locality_order(clip_lists: Sequence[Sequence[Hashable]]) -> list[int]:
    """A permutation of ``range(len(clip_lists))`` that puts requests sharing clips together.

    ``clip_lists[i]`` holds the clips request ``i`` decodes, in prompt order (any hashable:
    paths, or (path, settings) pairs when requests sample one clip differently).
    Deterministic: the same lists give the same order.
    """
    users: dict[Hashable, list[int]] = {}
    for i, clips in enumerate(clip_lists):
        for clip in dict.fromkeys(clips):  # a clip twice in one request is one use
            users.setdefault(clip, []).append(i)
    next_user = dict.fromkeys(users, 0)  # users[clip][:next_user[clip]] are all placed
    placed = [False] * len(clip_lists)
    order: list[int] = []
    recent: list[Hashable] = []  # a stack: the most recently used clip on top

    def place(i: int) -> None:
        placed[i] = True
        order.append(i)
        recent.extend(reversed(clip_lists[i]))  # the first clip (a k-shot question's first example) on top

    for start in range(len(clip_lists)):
        if placed[start]:
            continue
        place(start)
        while recent:
            clip = recent[-1]
            owners, j = users[clip], next_user[clip]
            while j < len(owners) and placed[owners[j]]:
                j += 1
            next_user[clip] = j
            if j == len(owners):
                recent.pop()  # every use of this clip is placed
            else:
                place(owners[j])
    return order


def answer_order(clip_lists: Sequence[Sequence[Hashable]], how: str = "locality") -> list[int]:
    """The order to answer requests in: ``how`` is one of :data:`ORDERS` (a model argument)."""
    if how == "locality":
        return locality_order(clip_lists)
    if how == "given":
        return list(range(len(clip_lists)))
    raise ValueError(f"order={how!r}: choose from {', '.join(ORDERS)}")


def restore_order(order: Sequence[int], results: Sequence[T]) -> list[T]:
    """``results[j]`` answers request ``order[j]``: the results in the requests' own order."""
    if len(order) != len(results):
        raise ValueError(f"{len(results)} results for {len(order)} requests")
    out: list[T | None] = [None] * len(order)
    for j, i in enumerate(order):
        out[i] = results[j]
    return out  # type: ignore[return-value]
