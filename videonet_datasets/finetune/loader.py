"""A resumable, distributed data order: which clip each process trains on at each step.

In-memory data: the order is a pure function of ``(seed, global position)``.  Position ``p``
is clip ``perm_e[p mod N]`` with ``e = p // N`` and ``perm_e`` a seeded permutation per
epoch; optimizer step ``s`` covers positions ``[s*B, (s+1)*B)`` (``B`` = global batch), and
micro-batch ``g`` of process ``r`` takes ``b`` of them (``b`` = per-device batch).  So

* resuming at step ``s`` is exact and free (no sample is decoded to skip it), also with
  another number of processes or loader workers;
* one process with ``G`` accumulation steps sees the same clips per step as ``G`` processes.

A clip whose video cannot be decoded is replaced by the next clip in record order (a
deterministic substitute, so a resumed run still matches) and reported with the batch.

Streamed data: each process reads its own shards (``split_dataset_by_node``), each loader
worker its own part of those, shuffled with a buffer per epoch.  Every sample carries its
worker's stream position; the training loop keeps the positions of what it consumed, so a
resumed run skips exactly the rows already used (same number of processes and workers
required).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, Sampler, get_worker_info

from videonet_datasets.video import VideoDecodeError

from .batches import ClipEncoder, Collator, EncodedClip
from .data import ClipRecord, DataError, DataSource
from .options import redraw_record, with_mc_subdomains

log = logging.getLogger(__name__)

__all__ = [
    "DECODE_ERRORS",
    "MAX_SUBSTITUTES",
    "ClipDataset",
    "EpochStepSampler",
    "StepSampler",
    "StreamingClipDataset",
    "make_train_loader",
    "positions_for",
]

#: Consecutive undecodable clips tolerated before giving up (a broken dataset, not a bad clip).
MAX_SUBSTITUTES = 16
#: What a clip that cannot be decoded raises (it is skipped and reported, never fatal alone).
DECODE_ERRORS = (VideoDecodeError, FileNotFoundError, OSError)


def _init_worker(_: int) -> None:
    # Each loader worker decodes one clip at a time: more torch threads only contend for cores.
    torch.set_num_threads(1)


class ClipDataset(Dataset):
    """Records in memory; item ``i`` (or ``(i, epoch)``) is clip ``i`` decoded and encoded (or its
    substitute), with its MC options in ``epoch``'s order when ``shuffle_options`` is set."""

    def __init__(
        self, records: list[ClipRecord], encoder: ClipEncoder, *, shuffle_options: bool = False, seed: int = 0
    ) -> None:
        if not records:
            raise DataError("no clips to train on")
        # Every MC question is checked to be rebuildable before the first step, not at its first draw.
        self.records = [with_mc_subdomains(r) for r in records] if shuffle_options else records
        self.encoder = encoder
        self.shuffle_options = shuffle_options
        self.seed = seed

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, item: int | tuple[int, int]) -> EncodedClip:
        index, epoch = item if isinstance(item, tuple) else (item, 0)
        skipped: list[str] = []
        for attempt in range(MAX_SUBSTITUTES):
            record = self.records[(index + attempt) % len(self.records)]
            if self.shuffle_options:
                record = redraw_record(record, self.seed, epoch)
            try:
                return EncodedClip(record.uid, self.encoder.encode(record), skipped)
            except DECODE_ERRORS as e:
                skipped.append(f"{record.uid}: {e}")
        raise RuntimeError(
            f"{MAX_SUBSTITUTES} consecutive clips failed to decode from clip {index}:\n  "
            + "\n  ".join(skipped)
        )


def positions_for(
    step: int, micro: int, rank: int, *, global_batch: int, per_device: int, world: int
) -> range:
    """Global positions of micro-batch ``micro`` of process ``rank`` in optimizer step ``step``."""
    start = step * global_batch + (micro * world + rank) * per_device
    return range(start, start + per_device)


class StepSampler(Sampler[int]):
    """Indices for one process, micro-batch after micro-batch, from ``start_step`` on (endless)."""

    def __init__(
        self,
        num_records: int,
        *,
        seed: int,
        global_batch: int,
        per_device: int,
        rank: int = 0,
        world: int = 1,
        start_step: int = 0,
    ) -> None:
        if global_batch % (per_device * world):
            raise ValueError(f"global batch {global_batch} is not a multiple of {per_device} x {world}")
        self.n = num_records
        self.seed = seed
        self.global_batch = global_batch
        self.per_device = per_device
        self.rank = rank
        self.world = world
        self.start_step = start_step
        self.accumulation = global_batch // (per_device * world)
        self._perms: dict[int, np.ndarray] = {}

    def index_at(self, position: int) -> int:
        epoch, offset = divmod(position, self.n)
        perm = self._perms.get(epoch)
        if perm is None:
            perm = np.random.default_rng([self.seed, epoch]).permutation(self.n)
            self._perms = {epoch: perm}  # one epoch at a time in memory
        return int(perm[offset])

    def positions(self) -> Iterator[int]:
        """Global positions of this process's samples, micro-batch after micro-batch (endless)."""
        step = self.start_step
        while True:
            for micro in range(self.accumulation):
                kw = dict(global_batch=self.global_batch, per_device=self.per_device, world=self.world)
                yield from positions_for(step, micro, self.rank, **kw)
            step += 1

    def __iter__(self) -> Iterator[int]:
        return (self.index_at(position) for position in self.positions())


class EpochStepSampler(StepSampler):
    """:class:`StepSampler` yielding ``(index, epoch)``: the epoch re-draws MC option orders."""

    def __iter__(self) -> Iterator[tuple[int, int]]:  # type: ignore[override]
        return ((self.index_at(p), p // self.n) for p in self.positions())


class StreamingClipDataset(IterableDataset):
    """Streamed rows of one process, encoded; resumes from per-worker stream positions."""

    def __init__(
        self,
        source: DataSource,
        encoder: ClipEncoder,
        *,
        seed: int,
        shuffle_buffer: int,
        rank: int = 0,
        world: int = 1,
        resume_positions: dict[int, tuple[int, int]] | None = None,
        shuffle_options: bool = False,
    ) -> None:
        if source.stream is None:
            raise DataError(f"{source.description}: not a streamed source")
        self.source = source
        self.encoder = encoder
        self.shuffle_options = shuffle_options
        self.seed = seed
        self.shuffle_buffer = shuffle_buffer
        self.rank = rank
        self.world = world
        self.resume_positions = dict(resume_positions or {})

    def _stream(self):
        from datasets.distributed import split_dataset_by_node

        stream = self.source.stream
        if self.world > 1:
            stream = split_dataset_by_node(stream, rank=self.rank, world_size=self.world)
        return stream.shuffle(seed=self.seed, buffer_size=self.shuffle_buffer)

    def __iter__(self) -> Iterator[EncodedClip]:
        info = get_worker_info()
        worker = info.id if info is not None else 0
        stream = self._stream()
        epoch, skip = self.resume_positions.get(worker, (0, 0))
        skipped: list[str] = []
        while True:
            stream.set_epoch(epoch)
            read = 0
            records = self.source.stream_records(stream, offset=0)
            for record in records:
                read += 1
                if read <= skip:
                    continue
                if self.shuffle_options:  # a streamed row is checked when it is read
                    record = redraw_record(with_mc_subdomains(record), self.seed, epoch)
                try:
                    examples = self.encoder.encode(record)
                except DECODE_ERRORS as e:
                    skipped.append(f"{record.uid}: {e}")
                    if len(skipped) >= MAX_SUBSTITUTES:
                        raise RuntimeError(
                            f"{len(skipped)} consecutive clips failed to decode:\n  " + "\n  ".join(skipped)
                        ) from e
                    continue
                yield EncodedClip(record.uid, examples, skipped, stream_position=(worker, epoch, read))
                skipped = []
            if read == 0:
                log.warning("%s: worker %d of rank %d has no rows (fewer shards than workers?)",
                            self.source.description, worker, self.rank)  # fmt: skip
                return
            epoch, skip = epoch + 1, 0


def make_train_loader(
    source: DataSource,
    encoder: ClipEncoder,
    collator: Collator,
    *,
    seed: int,
    global_batch: int,
    per_device: int,
    rank: int,
    world: int,
    start_step: int = 0,
    num_workers: int = 0,
    shuffle_buffer: int = 2048,
    stream_positions: dict[int, tuple[int, int]] | None = None,
    pin_memory: bool = False,
    shuffle_options: bool = False,
) -> DataLoader:
    """The endless loader of one process: ``per_device`` clips per :class:`MicroBatch`
    (``shuffle_options``: every MC question's options in a new seeded order each epoch)."""
    common: dict[str, Any] = dict(
        batch_size=per_device,
        collate_fn=collator,
        num_workers=num_workers,
        pin_memory=pin_memory,
        worker_init_fn=_init_worker if num_workers else None,
        persistent_workers=False,
        prefetch_factor=2 if num_workers else None,
    )
    if source.records is not None:
        sampler = EpochStepSampler(
            len(source.records), seed=seed, global_batch=global_batch, per_device=per_device,
            rank=rank, world=world, start_step=start_step,
        )  # fmt: skip
        clips = ClipDataset(source.records, encoder, shuffle_options=shuffle_options, seed=seed)
        return DataLoader(clips, sampler=sampler, **common)
    dataset = StreamingClipDataset(
        source, encoder, seed=seed, shuffle_buffer=shuffle_buffer, rank=rank, world=world,
        resume_positions=stream_positions, shuffle_options=shuffle_options,
    )  # fmt: skip
    return DataLoader(dataset, **common)
