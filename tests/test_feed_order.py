"""The order models answer in: each clip's uses together, replies back in lmms-eval's order."""

from __future__ import annotations

import pytest

from research.feed_order import decodes as lru_decodes
from videonet_datasets.feed_order import ORDERS, answer_order, locality_order, restore_order


def videonet_shaped(actions: int = 24, domains: int = 3) -> list[list[str]]:
    """The 9 test tasks' clip lists, task after task as lmms-eval hands them over: per action 5
    clips (val, t1..t4); MC on t1..t4; binary on t3, t4 and the t3 clip of two hard negatives
    (neighbours in the domain) or two random ones, with the first k of (val, t1, t2) shown."""
    per = actions // domains

    def clip(a: int, c: str) -> str:
        return f"d{a // per}/a{a}-{c}.mp4"

    def hard(a: int) -> list[int]:
        base = (a // per) * per
        return [base + (a % per + 1) % per, base + (a % per + 2) % per]

    def rand(a: int) -> list[int]:
        base = (a // per) * per
        return [base + (a % per + 3) % per, base + (a % per + 5) % per]

    tasks = [[[clip(a, t)] for a in range(actions) for t in ("t1", "t2", "t3", "t4")]]
    for negatives in (hard, rand):
        for k in range(4):
            examples = ["val", "t1", "t2"][:k]
            task = []
            for a in range(actions):
                mains = [clip(a, "t3"), clip(a, "t4"), *(clip(b, "t3") for b in negatives(a))]
                task += [[*(clip(a, e) for e in examples), m] for m in mains]
            tasks.append(task)
    return [r for task in tasks for r in task]


def decodes(requests: list[list[str]], order: list[int], capacity: int) -> int:
    """Clips decoded by an LRU cache holding ``capacity`` clips, fed in ``order``."""
    return lru_decodes(requests, order, capacity, dict.fromkeys((c for r in requests for c in r), 1))


def test_a_small_cache_decodes_each_clip_once_in_locality_order_not_in_lmms_evals():
    requests = videonet_shaped()
    distinct = len({c for r in requests for c in r})
    given = list(range(len(requests)))
    order = locality_order(requests)
    assert sorted(order) == given  # a permutation
    # a cache of 10 clips out of 120: lmms-eval's order decodes each clip ~6 times, as at full size;
    # the test clips shown as negatives of other actions are shared by ~5 groups, so some repeat
    assert decodes(requests, given, 10) > 5 * distinct
    assert decodes(requests, order, 10) < 2 * distinct
    assert decodes(requests, given, 20) > 5 * distinct
    assert decodes(requests, order, 20) <= 1.3 * distinct
    assert decodes(requests, given, distinct) == distinct  # with room for everything, no order matters


def test_order_is_deterministic_and_keeps_clipless_requests_in_their_order():
    requests = [["a"], [], ["b"], ["a", "c"], [], ["c"], ["b"]]
    order = locality_order(requests)
    assert order == locality_order([list(r) for r in requests])
    assert order == [0, 3, 5, 1, 2, 6, 4]  # a's uses, then c's (reached through a), then b's
    clipless = [i for i in order if not requests[i]]
    assert clipless == [1, 4]


def test_a_clip_twice_in_one_request_is_one_use():
    assert locality_order([["a", "a"], ["b"], ["a"]]) == [0, 2, 1]


def test_restore_order_puts_each_reply_back_and_refuses_a_short_list():
    requests = videonet_shaped(actions=8, domains=1)
    order = locality_order(requests)
    replies = [f"reply to {i}" for i in order]  # what a model answering in that order returns
    assert restore_order(order, replies) == [f"reply to {i}" for i in range(len(requests))]
    with pytest.raises(ValueError, match="3 results for 4 requests"):
        restore_order([0, 1, 2, 3], ["a", "b", "c"])


def test_answer_order_names_its_choices():
    requests = [["b"], ["a"], ["b"]]
    assert answer_order(requests, "given") == [0, 1, 2]
    assert answer_order(requests, "locality") == [0, 2, 1]
    with pytest.raises(ValueError, match="order='random': choose from locality, given"):
        answer_order(requests, "random")
    assert ORDERS == ("locality", "given")
