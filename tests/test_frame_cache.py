"""The decoded-frame cache: the same frames bit for bit as the sampler, decoded once."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from conftest import make_video

from videonet_datasets import frame_cache
from videonet_datasets.frame_cache import FrameCache
from videonet_datasets.video import Frames, sample_frames

SETTINGS = [
    {"fps": 4.0, "max_frames": 8},
    {"num_frames": 3, "size": 16},
    {"middle": True},
    {"fps": 2.0, "start": 0.5, "end": 1.5, "size": (8, 12)},
]


def _same(a: Frames, b: Frames) -> None:
    for f in fields(Frames):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), f.name
        else:
            assert x == y, f.name


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    return make_video(tmp_path / "clip.mp4", seconds=2.0, fps=10.0, size=(24, 32), seed=3)


@pytest.mark.parametrize("settings", SETTINGS)
def test_memory_and_disk_give_the_samplers_frames_bit_for_bit(clip: Path, tmp_path: Path, settings):
    want = sample_frames(clip, **settings)
    cache = FrameCache(disk_dir=tmp_path / "cache")
    _same(cache.sample_frames(clip, **settings), want)  # decoded
    _same(cache.sample_frames(clip, **settings), want)  # memory
    fresh = FrameCache(disk_dir=tmp_path / "cache")  # another process / a later run
    _same(fresh.sample_frames(clip, **settings), want)  # disk
    assert (cache.stats.misses, cache.stats.memory_hits) == (1, 1)
    assert (fresh.stats.misses, fresh.stats.disk_hits) == (0, 1)


def test_settings_and_file_identity_are_part_of_the_key(clip: Path, tmp_path: Path):
    cache = FrameCache(disk_dir=tmp_path / "cache")
    for settings in SETTINGS:
        cache.sample_frames(clip, **settings)
    assert cache.stats.misses == len(SETTINGS)  # no preset sees another preset's frames
    # threads only changes how fast, not what: the same entry
    cache.sample_frames(clip, **SETTINGS[0], threads=1)
    assert cache.stats.misses == len(SETTINGS)
    # the clip is replaced by another video: decoded again, the new frames come back
    before = cache.sample_frames(clip, **SETTINGS[0])
    make_video(clip, seconds=2.0, fps=10.0, size=(24, 32), seed=9)
    os.utime(clip, ns=(before.frames.size, os.stat(clip).st_mtime_ns + 10**9))
    after = cache.sample_frames(clip, **SETTINGS[0])
    _same(after, sample_frames(clip, **SETTINGS[0]))
    assert cache.stats.misses == len(SETTINGS) + 1


def test_a_remembered_key_still_follows_the_file(clip: Path, tmp_path: Path):
    """The cache remembers each (path, settings) key with the file's identity, so a hit does not
    re-resolve and re-hash: every change a fresh key would see must still give a new key."""
    cache = FrameCache()
    settings = {"fps": 4.0, "max_frames": 8, "size": (8, 12)}
    first = cache.key(clip, **settings)
    assert cache.key(clip, **settings) == first == FrameCache().key(clip, **settings)
    assert cache.key(clip, **{**settings, "size": [8, 12]}) == first  # a list is the same setting
    # equal values of other types are remembered apart: the key is the one a fresh cache computes
    for fps in (4, 4.0, True):
        assert cache.key(clip, fps=fps) == FrameCache().key(clip, fps=fps)
    # touched (same inode, same bytes, another mtime)
    st = os.stat(clip)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    touched = cache.key(clip, **settings)
    assert touched != first and touched == FrameCache().key(clip, **settings)
    # replaced by another file with the same size and mtime (a new inode)
    other = tmp_path / "other.mp4"
    other.write_bytes(clip.read_bytes())
    st = os.stat(clip)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, clip)
    assert cache.key(clip, **settings) == FrameCache().key(clip, **settings)
    # a symlink re-pointed at another clip
    second = make_video(tmp_path / "second.mp4", seconds=1.0, fps=10.0, size=(24, 32), seed=5)
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    via_clip = cache.key(link, **settings)
    link.unlink()
    link.symlink_to(second)
    assert cache.key(link, **settings) != via_clip
    assert cache.key(link, **settings) == FrameCache().key(second, **settings)
    _same(cache.sample_frames(link, **settings), sample_frames(link, **settings))


def test_entries_of_another_sampler_version_are_decoded_again(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A disk cache outlives the code: frames stored by a sampler that read files
    differently (before the player's timeline and upright frames) must not come back."""
    old = FrameCache(disk_dir=tmp_path / "cache")
    old.sample_frames(clip, **SETTINGS[0])
    old_key = old.key(clip, **SETTINGS[0])
    monkeypatch.setattr(frame_cache, "SAMPLER_VERSION", frame_cache.SAMPLER_VERSION + 1)
    new = FrameCache(disk_dir=tmp_path / "cache")
    new.sample_frames(clip, **SETTINGS[0])
    assert (new.stats.misses, new.stats.disk_hits) == (1, 0)
    assert new.key(clip, **SETTINGS[0]) != old_key


def test_cached_frames_are_read_only_and_a_symlink_says_its_own_path(clip: Path, tmp_path: Path):
    cache = FrameCache()
    frames = cache.sample_frames(clip, num_frames=2)
    with pytest.raises(ValueError):
        frames.frames[0, 0, 0, 0] = 1
    link = tmp_path / "link.mp4"
    link.symlink_to(clip)
    via_link = cache.sample_frames(link, num_frames=2)
    assert cache.stats.misses == 1 and via_link.source == str(link) and frames.source == str(clip)


def test_memory_budget_is_bounded_in_bytes(clip: Path):
    one = sample_frames(clip, num_frames=4).frames.nbytes
    cache = FrameCache(memory_bytes=int(one * 1.5))  # room for one entry's frames
    cache.sample_frames(clip, num_frames=4)
    cache.sample_frames(clip, num_frames=4, size=20)
    cache.sample_frames(clip, num_frames=4)  # evicted by the second: decoded again
    assert cache.stats.misses == 3 and cache.stats.memory_hits == 0
    # the run's summary says so, and what to do about it
    assert cache.stats.decoded_again == 1
    assert "; 1 of the decodes were clips evicted from memory before their next use (--frame-cache DIR" in (
        cache.stats.summary()
    )
    none = FrameCache(memory_bytes=0)
    none.sample_frames(clip, num_frames=4)
    none.sample_frames(clip, num_frames=4)
    assert none.stats.misses == 2 and none.stats.decoded_again == 1
    roomy = FrameCache(memory_bytes=one * 4)
    roomy.sample_frames(clip, num_frames=4)
    roomy.sample_frames(clip, num_frames=4)
    assert roomy.stats.decoded_again == 0 and "evicted" not in roomy.stats.summary()


def test_disk_cap_evicts_least_recently_used(clip: Path, tmp_path: Path):
    windows = [{"num_frames": 5, "start": s, "end": 1.5} for s in (0.0, 0.1, 0.2)]  # same-size entries
    probe = FrameCache(memory_bytes=0, disk_dir=tmp_path / "probe")
    probe.sample_frames(clip, **windows[0])
    entry_size = next((tmp_path / "probe").glob("*/*.npz")).stat().st_size
    cache = FrameCache(memory_bytes=0, disk_dir=tmp_path / "cache", disk_bytes=int(entry_size * 2.5))
    a, b, c = (cache.key(clip, **w) for w in windows)
    cache.sample_frames(clip, **windows[0])
    cache.sample_frames(clip, **windows[1])
    os.utime(cache.entry_path(b), (1, 1))  # b last used long ago ...
    cache.sample_frames(clip, **windows[0])  # ... a just now (a disk hit refreshes it)
    cache.sample_frames(clip, **windows[2])  # over the cap: b goes
    left = {p.stem for p in (tmp_path / "cache").glob("*/*.npz")}
    assert left == {a, c} and cache.stats.disk_evictions == 1 and cache.stats.disk_hits == 1
    assert not list((tmp_path / "cache").glob("*/.*.tmp"))  # atomic writes leave nothing behind


def test_an_unreadable_entry_is_a_miss_that_is_rewritten(clip: Path, tmp_path: Path, caplog):
    FrameCache(disk_dir=tmp_path / "cache").sample_frames(clip, num_frames=3)
    (entry,) = (tmp_path / "cache").glob("*/*.npz")
    entry.write_bytes(entry.read_bytes()[:50])  # a torn file (e.g. a disk that filled up)
    cache = FrameCache(disk_dir=tmp_path / "cache")
    _same(cache.sample_frames(clip, num_frames=3), sample_frames(clip, num_frames=3))
    assert cache.stats.unreadable == 1 and cache.stats.misses == 1 and "unreadable" in caplog.text
    again = FrameCache(disk_dir=tmp_path / "cache")
    again.sample_frames(clip, num_frames=3)
    assert again.stats.disk_hits == 1


def test_missing_clip_raises_as_the_sampler_does(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        FrameCache().sample_frames(tmp_path / "nope.mp4", num_frames=2)


def test_environment_configures_the_process_wide_cache(clip: Path, tmp_path: Path, monkeypatch):
    monkeypatch.setenv(frame_cache.ENV_DIR, "off")
    frame_cache.reset_default_cache()
    assert frame_cache.default_cache() is None
    _same(frame_cache.cached_sample_frames(clip, num_frames=2), sample_frames(clip, num_frames=2))
    monkeypatch.setenv(frame_cache.ENV_DIR, str(tmp_path / "shared"))
    monkeypatch.setenv(frame_cache.ENV_MEMORY_MB, "8")
    frame_cache.reset_default_cache()
    cache = frame_cache.default_cache()
    assert cache is not None and cache.disk_dir == tmp_path / "shared" and cache.memory_bytes == 8 * 2**20
    frame_cache.cached_sample_frames(clip, num_frames=2)
    # another process of the same run finds the entry on disk
    code = (
        "from videonet_datasets import frame_cache as fc\n"
        f"fc.cached_sample_frames({str(clip)!r}, num_frames=2)\n"
        "print(fc.default_cache().stats.summary())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert "0 decoded" in out.stdout and "1 from disk" in out.stdout
    monkeypatch.setenv(frame_cache.ENV_MEMORY_MB, "lots")
    frame_cache.reset_default_cache()
    with pytest.raises(ValueError, match="VIDEONET_FRAME_CACHE_MEMORY_MB"):
        frame_cache.default_cache()
    frame_cache.reset_default_cache()


# ----------------------------------------------------------------------------- prefetch


def test_prefetch_gives_the_same_frames_decoded_ahead_once(tmp_path: Path):
    import multiprocessing

    from videonet_datasets.prefetch import Prefetcher

    clips = [make_video(tmp_path / f"c{i}.mp4", seconds=1.0, size=(16, 16), seed=i) for i in range(4)]
    order = [clips[i] for i in (0, 1, 0, 2, 3, 1, 3)]  # repeats, as k-shot examples do
    cache = FrameCache()
    with Prefetcher(cache, [(p, {"num_frames": 3}) for p in order], workers=2, lookahead=2) as pf:
        got = [pf.frames(p, num_frames=3) for p in order]
    for p, frames in zip(order, got):
        _same(frames, sample_frames(p, num_frames=3))
    assert pf.prefetched == 4 and cache.stats.misses == 4 and cache.stats.memory_hits == 3
    assert multiprocessing.active_children() == []  # the workers have exited


def test_prefetch_errors_are_the_samplers_and_only_for_their_input(tmp_path: Path):
    from videonet_datasets.prefetch import Prefetcher
    from videonet_datasets.video import VideoDecodeError

    good = make_video(tmp_path / "good.mp4", seconds=1.0, size=(16, 16))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    missing = tmp_path / "missing.mp4"
    inputs = [(broken, {"num_frames": 2}), (missing, {"num_frames": 2}), (good, {"num_frames": 2})]
    with Prefetcher(FrameCache(), inputs, workers=1, lookahead=3) as pf:
        with pytest.raises(VideoDecodeError, match="broken.mp4"):
            pf.frames(broken, num_frames=2)
        with pytest.raises(FileNotFoundError):
            pf.frames(missing, num_frames=2)
        _same(pf.frames(good, num_frames=2), sample_frames(good, num_frames=2))
    assert pf.retried == 1 and pf.prefetched == 1


def test_prefetch_survives_a_dead_worker_and_leaves_no_process(tmp_path: Path, monkeypatch):
    import multiprocessing

    from videonet_datasets import prefetch

    clips = [make_video(tmp_path / f"c{i}.mp4", seconds=1.0, size=(16, 16), seed=i) for i in range(3)]
    pf = prefetch.Prefetcher(FrameCache(), [(p, {"num_frames": 2}) for p in clips], workers=1, lookahead=3)
    with pf:
        for proc in list(pf._pool._processes.values()):  # kill a worker: recovery
            proc.kill()
        for p in clips:
            _same(pf.frames(p, num_frames=2), sample_frames(p, num_frames=2))
    assert multiprocessing.active_children() == []
    with pytest.raises(ValueError):
        prefetch.Prefetcher(FrameCache(), [], workers=-1)


# ----------------------------------------------------------------------------- background warming


def test_warmer_decodes_a_set_of_clips_once_whatever_order_they_are_asked_in(tmp_path: Path):
    import multiprocessing

    from videonet_datasets.prefetch import CacheWarmer

    clips = [make_video(tmp_path / f"c{i}.mp4", seconds=1.0, size=(16, 16), seed=i) for i in range(5)]
    cache = FrameCache()
    warmer = CacheWarmer(cache, workers=2, lookahead=2)
    try:
        assert warmer.add([(p, {"num_frames": 3}) for p in clips + clips[:2]]) == 5  # repeats once
        order = [clips[i] for i in (4, 0, 3, 0, 1, 2, 4)]  # another order than the warmer's
        got = [warmer.frames(p, num_frames=3) for p in order]
        assert warmer.join(timeout=60)
    finally:
        warmer.close()
    for p, frames in zip(order, got):
        _same(frames, sample_frames(p, num_frames=3))
    assert cache.stats.misses == 5  # each clip decoded once: by a worker, or here when not yet queued
    assert warmer.warmed + warmer.failed <= 5 and warmer.failed == 0
    assert multiprocessing.active_children() == []
    warmer.close()  # idempotent


def test_warmer_failures_are_the_consumers_errors_and_the_pool_shuts_down(tmp_path: Path):
    import multiprocessing

    from videonet_datasets.prefetch import CacheWarmer
    from videonet_datasets.video import VideoDecodeError

    good = make_video(tmp_path / "good.mp4", seconds=1.0, size=(16, 16))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    missing = tmp_path / "missing.mp4"
    with pytest.raises(ValueError):
        CacheWarmer(FrameCache(), workers=0)
    warmer = CacheWarmer(FrameCache(), workers=1)
    try:
        warmer.add([(broken, {"num_frames": 2}), (missing, {"num_frames": 2}), (good, {"num_frames": 2})])
        assert warmer.join(timeout=60)
        assert (warmer.warmed, warmer.failed) == (1, 1)  # the missing clip is never queued
        with pytest.raises(VideoDecodeError, match="broken.mp4"):
            warmer.frames(broken, num_frames=2)
        with pytest.raises(FileNotFoundError):
            warmer.frames(missing, num_frames=2)
        _same(warmer.frames(good, num_frames=2), sample_frames(good, num_frames=2))
        for proc in list(warmer._pool._processes.values()):  # a dead worker stops warming, not the run
            proc.kill()
        other = make_video(tmp_path / "other.mp4", seconds=1.0, size=(16, 16), seed=5)
        warmer.add([(other, {"num_frames": 2})])
        warmer.join(timeout=60)
        _same(warmer.frames(other, num_frames=2), sample_frames(other, num_frames=2))
    finally:
        warmer.close()
    assert multiprocessing.active_children() == []


def test_warmer_without_a_disk_cache_stops_when_memory_is_half_full(tmp_path: Path):
    from videonet_datasets.prefetch import CacheWarmer

    clips = [make_video(tmp_path / f"c{i}.mp4", seconds=1.0, size=(16, 16), seed=i) for i in range(6)]
    one = sample_frames(clips[0], num_frames=3).frames.nbytes
    cache = FrameCache(memory_bytes=int(2.5 * one))  # half full after 2 clips (timestamps add a little)
    warmer = CacheWarmer(cache, workers=1, lookahead=1)
    try:
        warmer.add([(p, {"num_frames": 3}) for p in clips])
        assert warmer.join(timeout=60)
    finally:
        warmer.close()
    assert warmer.warmed >= 1 and warmer.left >= 3 and warmer.warmed + warmer.left == 6
    assert "left (memory cache full" in warmer.summary()


def test_process_wide_warmer_is_opt_in_and_follows_the_cache(tmp_path: Path, monkeypatch):
    import multiprocessing

    from videonet_datasets import prefetch

    clip = make_video(tmp_path / "c.mp4", seconds=1.0, size=(16, 16))
    monkeypatch.delenv(prefetch.ENV_WARM_WORKERS, raising=False)
    monkeypatch.delenv(frame_cache.ENV_DIR, raising=False)
    frame_cache.reset_default_cache()
    assert prefetch.warm([(clip, {"num_frames": 2})]) is None  # off by default
    monkeypatch.setenv(prefetch.ENV_WARM_WORKERS, "x")
    with pytest.raises(ValueError, match="VIDEONET_WARM_WORKERS"):
        prefetch.warm([])
    monkeypatch.setenv(prefetch.ENV_WARM_WORKERS, "1")
    try:
        w = prefetch.warm([(clip, {"num_frames": 2})])
        assert w is not None and prefetch.warmer() is w and w.join(timeout=60)
        _same(prefetch.warm_frames(clip, num_frames=2), sample_frames(clip, num_frames=2))
        assert frame_cache.default_cache().stats.misses == 1  # decoded by the worker only
        frame_cache.reset_default_cache()  # a new run in this process: a new warmer for its cache
        w2 = prefetch.warm([(clip, {"num_frames": 2})])
        assert w2 is not w and w._pool is None
    finally:
        assert prefetch.stop_warming() is not None
        frame_cache.reset_default_cache()
    assert prefetch.warmer() is None and multiprocessing.active_children() == []
