"""Training rows -> clips -> batches: formats, checks, the distributed/resumable data order."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from finetune_world import make_benchmark, make_train_dataset

from videonet_datasets.finetune.batches import ClipEncoder, Collator
from videonet_datasets.finetune.data import (
    DataError,
    VideoResolver,
    open_source,
    question_text,
    record_from_train_row,
)
from videonet_datasets.finetune.loader import ClipDataset, StepSampler, StreamingClipDataset, positions_for
from videonet_datasets.prompts import binary_prompt, mc_prompt

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def train_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_train_dataset(tmp_path_factory.mktemp("train") / "videonet-train", clips=6)


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_benchmark(tmp_path_factory.mktemp("bench"))


@pytest.fixture(scope="module")
def processor():
    from videonet_datasets.molmo2 import make_tiny_molmo2

    return make_tiny_molmo2(seed=0)[1]


def test_question_text_strips_the_placeholder() -> None:
    mc = mc_prompt("Skateboarding", ["ollie", "kickflip", "heelflip", "shuvit"])
    assert question_text(mc.render()) == mc.plain_text()
    binary = binary_prompt("ollie", "Skateboarding")
    assert question_text(binary.render()) == binary.plain_text()
    assert question_text("<video>\nIs it?") == "Is it?"
    with pytest.raises(DataError, match="exactly one"):
        question_text("no video here", "row 3")
    with pytest.raises(DataError, match="row 3.*exactly one"):
        question_text("<video> a <video>", "row 3")


def test_training_rows_read_exactly_the_train_data_output(train_dir: Path) -> None:
    source = open_source(str(train_dir), "single_action", "train")
    assert source.format == "train" and len(source.records) == 6
    record = source.records[0]
    assert record.uid == "clip000" and record.video == "videos/clip000.mp4"
    assert [qa.kind for qa in record.qas] == ["binary_yes", "binary_no", "mc"]
    assert [qa.answer for qa in record.qas][:2] == ["yes", "no"] and record.qas[2].answer in "ABCD"
    assert record.qas[0].question == binary_prompt("slide left", "Square Motion", "move").plain_text()
    assert "<video>" not in "".join(qa.question for qa in record.qas)
    assert source.resolver(record.video) == train_dir.resolve() / "videos" / "clip000.mp4"


def test_bad_training_rows_name_the_row() -> None:
    row = {"clip_uid": "c1", "video": "videos/c1.mp4", "qa": [{"prompt": "Is it? <video>", "answer": ""}]}
    with pytest.raises(DataError, match=r"row 7 \(clip_uid=c1\) qa\[0\].*answer"):
        record_from_train_row(row, "row 7")
    with pytest.raises(DataError, match="qa"):
        record_from_train_row({"clip_uid": "c1", "video": "v.mp4", "qa": []}, "row 7")
    with pytest.raises(DataError, match="clip_uid"):
        record_from_train_row({"video": "v.mp4", "qa": []}, "row 7")


def test_benchmark_rows_grouped_by_clip(bench_dir: Path) -> None:
    mc_only = open_source(str(bench_dir), "mc", "test")
    both = open_source(str(bench_dir), "mc,binary_0shot", "test")
    assert mc_only.format == both.format == "benchmark"
    assert all(len(r.qas) == 1 and r.qas[0].kind == "mc" for r in mc_only.records)
    # The binary questions of a clip join its MC question in one record (packed together).
    assert len(both.records) >= len(mc_only.records)
    import datasets

    n_binary = len(datasets.load_dataset(str(bench_dir), "binary_0shot", split="test"))
    assert sum(len(r.qas) for r in both.records) == sum(len(r.qas) for r in mc_only.records) + n_binary
    assert any({qa.kind for qa in r.qas} == {"mc", "binary"} for r in both.records)
    answers = {qa.answer for r in both.records for qa in r.qas}
    assert answers <= {"A", "B", "C", "D", "yes", "no"} and {"yes", "no"} <= answers
    assert open_source(str(bench_dir), "mc", "test", max_clips=3).records == mc_only.records[:3]


def test_k_shot_rows_and_unknown_configs_are_refused(bench_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="1-shot binary question.*one\\s+video per sample"):
        open_source(str(bench_dir), "binary_1shot", "test")
    with pytest.raises(DataError, match="cannot load config"):
        open_source(str(bench_dir), "no_such_config", "test")
    with pytest.raises(DataError, match="neither a directory nor a Hub"):
        open_source(str(tmp_path / "nope"), "mc", "test")


def test_missing_videos_stop_or_are_left_out_and_counted(train_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(train_dir, copy)
    (copy / "videos" / "clip002.mp4").unlink()
    with pytest.raises(
        DataError, match=r"1 of 6 clip\(s\) have no video file(.|\n)*row 2 \(clip_uid=clip002\)"
    ):
        open_source(str(copy), "single_action", "train")
    source = open_source(str(copy), "single_action", "train", skip_missing_videos=True)
    assert [r.uid for r in source.records] == ["clip000", "clip001", "clip003", "clip004", "clip005"]
    assert len(source.skipped) == 1 and "clip002" in source.skipped[0]


def test_hub_datasets_go_through_huggingface_hub(train_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to the Hub boundary: snapshot of the card + data files, videos fetched per clip."""
    import huggingface_hub

    calls: list[tuple] = []

    def snapshot_download(repo_id, **kw):
        calls.append(("snapshot", repo_id, kw["repo_type"], kw["revision"], tuple(kw["allow_patterns"])))
        return str(train_dir)

    def hf_hub_download(repo_id, filename, **kw):
        calls.append(("file", repo_id, filename, kw["repo_type"], kw["revision"]))
        return str(train_dir / filename)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    source = open_source("someone/videonet-train@v1", "single_action", "train")
    assert calls[0] == (
        "snapshot",
        "someone/videonet-train",
        "dataset",
        "v1",
        ("README.md", "data/single_action/*"),
    )
    assert len(source.records) == 6
    path = source.resolver(source.records[1].video)
    assert path == train_dir / "videos" / "clip001.mp4"
    assert calls[-1] == ("file", "someone/videonet-train", "videos/clip001.mp4", "dataset", "v1")


def test_step_sampler_splits_steps_over_processes_and_resumes() -> None:
    n, batch, per_device = 10, 8, 2
    one = StepSampler(n, seed=3, global_batch=batch, per_device=per_device)
    it = iter(one)
    single = [[next(it) for _ in range(batch)] for _ in range(5)]  # 5 steps, 4 epochs' worth
    # Every epoch is a permutation of the clips.
    flat = [i for step in single for i in step]
    assert sorted(flat[:n]) == list(range(n)) and sorted(flat[n : 2 * n]) == list(range(n))
    # Two processes with 2 accumulation steps each see the same clips per step.
    per_rank = [
        iter(StepSampler(n, seed=3, global_batch=batch, per_device=per_device, rank=r, world=2))
        for r in (0, 1)
    ]
    for step in single:
        both = [next(per_rank[r]) for r in (0, 1) for _ in range(batch // 2)]
        assert sorted(both) == sorted(step)
    # Resuming at step 3 continues exactly where an uninterrupted sampler is.
    resumed = iter(StepSampler(n, seed=3, global_batch=batch, per_device=per_device, start_step=3))
    assert [next(resumed) for _ in range(2 * batch)] == flat[3 * batch : 5 * batch]
    assert list(positions_for(2, 1, 1, global_batch=8, per_device=2, world=2)) == [22, 23]


def test_encoder_and_collator(train_dir: Path, processor) -> None:
    source = open_source(str(train_dir), "single_action", "train")
    packed_enc = ClipEncoder(processor, source.resolver, max_frames=4)
    loose_enc = ClipEncoder(processor, source.resolver, max_frames=4, packing=False)
    clips = ClipDataset(source.records[:2], packed_enc)
    pad = processor.tokenizer.pad_token_id
    sdpa = Collator(pad)([clips[0], clips[1]])
    assert sdpa.inputs["attention_mask"].dtype == torch.bool and sdpa.inputs["attention_mask"].dim() == 4
    assert "segment_ids" not in sdpa.inputs and sdpa.n_clips == 2
    eager = Collator(pad, attn_implementation="eager")([clips[0], clips[1]])
    assert eager.inputs["attention_mask"].dtype == torch.float32
    assert torch.equal(eager.inputs["attention_mask"] == 0, sdpa.inputs["attention_mask"])
    # 3 questions x (one answer token + <|im_end|>) per clip, with the tiny tokenizer.
    assert sdpa.n_answer_tokens == 12
    assert sdpa.n_tokens <= sdpa.n_padded_tokens
    loose = Collator(pad, packing=False)([ClipDataset(source.records[:2], loose_enc)[i] for i in (0, 1)])
    assert loose.inputs["input_ids"].shape[0] == 6 and loose.n_answer_tokens == sdpa.n_answer_tokens
    # Packing shares the video: fewer tokens than three separate sequences.
    assert sdpa.n_tokens < loose.n_tokens


def test_undecodable_clips_are_substituted_and_reported(train_dir: Path, tmp_path: Path, processor) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(train_dir, copy)
    (copy / "videos" / "clip001.mp4").write_bytes(b"not a video")
    source = open_source(str(copy), "single_action", "train")
    dataset = ClipDataset(source.records, ClipEncoder(processor, source.resolver, max_frames=4))
    item = dataset[1]
    assert item.uid == "clip002" and len(item.skipped) == 1 and item.skipped[0].startswith("clip001: ")
    batch = Collator(processor.tokenizer.pad_token_id)([dataset[0], item])
    assert batch.skipped == item.skipped


def test_streaming_resumes_from_the_recorded_positions(train_dir: Path, processor, monkeypatch) -> None:
    import datasets

    # datasets sleeps 5 s at the end of every shuffled pass (an arrow threading workaround).
    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)
    source = open_source(str(train_dir), "single_action", "train", streaming=True)
    assert source.format == "train" and source.records is None
    encoder = ClipEncoder(processor, source.resolver, max_frames=2)
    stream = iter(StreamingClipDataset(source, encoder, seed=1, shuffle_buffer=4))
    first = [next(stream) for _ in range(9)]  # 6 rows: crosses into the second epoch
    uids = [c.uid for c in first]
    assert sorted(uids[:6]) == sorted(
        r.uid for r in open_source(str(train_dir), "single_action", "train").records
    )
    assert first[3].stream_position == (0, 0, 4) and first[7].stream_position == (0, 1, 2)
    worker, epoch, read = first[4].stream_position
    resumed = iter(
        StreamingClipDataset(
            source, encoder, seed=1, shuffle_buffer=4, resume_positions={worker: (epoch, read)}
        )
    )
    assert [next(resumed).uid for _ in range(4)] == uids[5:9]


def test_video_resolver_keeps_absolute_paths(tmp_path: Path) -> None:
    assert VideoResolver(root=tmp_path)(str(tmp_path / "a.mp4")) == tmp_path / "a.mp4"
    assert VideoResolver(root=tmp_path)("videos/a.mp4") == tmp_path / "videos" / "a.mp4"
    with pytest.raises(DataError, match="no dataset root"):
        VideoResolver()("videos/a.mp4")


class RecordingEncoder:
    """Stands in for :class:`ClipEncoder`: returns the questions it was asked to encode."""

    def encode(self, record):
        return [(qa.question, qa.answer) for qa in record.qas]


def test_shuffle_options_redraws_mc_per_epoch_and_keeps_everything_else(train_dir: Path) -> None:
    """``shuffle_options``: each epoch asks every MC question with its options in a new seeded order
    (the evaluation's words, the same action behind the answer letter), binary questions unchanged;
    the draw is a function of (seed, question, epoch), and it is the reinforcement trainer's draw."""
    from videonet_datasets.finetune.options import redraw_record, with_mc_subdomains
    from videonet_datasets.finetune.questions import questions_from_source, redraw_options

    source = open_source(str(train_dir), "single_action", "train")
    record = source.records[0]
    (mc_index,) = [i for i, qa in enumerate(record.qas) if qa.options]
    mc = record.qas[mc_index]
    correct = mc.options[ord(mc.answer) - ord("A")]
    plain = ClipDataset(source.records, RecordingEncoder())
    shuffled = ClipDataset(source.records, RecordingEncoder(), shuffle_options=True, seed=5)
    assert plain[(0, 3)].examples == plain[0].examples == [(qa.question, qa.answer) for qa in record.qas]
    questions = set()
    for epoch in range(8):
        got = shuffled[(0, epoch)].examples
        assert got == shuffled[(0, epoch)].examples  # the same draw on resume
        for i, (qa, (text, answer)) in enumerate(zip(record.qas, got, strict=True)):
            if i != mc_index:
                assert (text, answer) == (qa.question, qa.answer)
        text, answer = got[mc_index]
        options = tuple(line[3:] for line in text.splitlines() if line[:3] in ("A. ", "B. ", "C. ", "D. "))
        assert sorted(options) == sorted(mc.options) and options[ord(answer) - ord("A")] == correct
        assert text == mc_prompt(mc.domain, list(options), None).plain_text()
        questions.add(text)
    assert len(questions) > 3
    # The supervised and the reinforcement trainer draw the same order for the same question.
    (question,) = [q for q in questions_from_source(source) if q.uid == f"{record.uid}#{mc_index}"]
    sft = redraw_record(with_mc_subdomains(record), 5, 2).qas[mc_index]
    grpo = redraw_options(question, 5, 2)
    assert (sft.question, sft.answer, sft.options) == (grpo.text, grpo.answer, grpo.options)


def test_shuffle_options_refuses_a_question_it_cannot_rebuild(train_dir: Path) -> None:
    """An MC question that is not the prompt builder's (foreign wording) fails before training,
    naming its row, instead of being asked in words the evaluation never uses."""
    import dataclasses

    source = open_source(str(train_dir), "single_action", "train")
    record = source.records[2]
    qas = tuple(
        dataclasses.replace(qa, question="Which one is it?\n" + qa.question) if qa.options else qa
        for qa in record.qas
    )
    bad = [*source.records[:2], dataclasses.replace(record, qas=qas)]
    with pytest.raises(
        DataError, match=r"row 2 \(clip_uid=clip002\) qa\[2\]: the MC question is not the prompt"
    ):
        ClipDataset(bad, RecordingEncoder(), shuffle_options=True)
    assert ClipDataset(bad, RecordingEncoder())[2].examples[2][0].startswith("Which one is it?")


def test_epoch_sampler_yields_the_epoch_of_each_position() -> None:
    from videonet_datasets.finetune.loader import EpochStepSampler

    n, batch = 5, 4
    plain = iter(StepSampler(n, seed=3, global_batch=batch, per_device=batch))
    with_epoch = iter(EpochStepSampler(n, seed=3, global_batch=batch, per_device=batch))
    pairs = [next(with_epoch) for _ in range(12)]
    assert [i for i, _ in pairs] == [next(plain) for _ in range(12)]
    assert [e for _, e in pairs] == [p // n for p in range(12)]
    resumed = iter(EpochStepSampler(n, seed=3, global_batch=batch, per_device=batch, start_step=2))
    assert [next(resumed) for _ in range(4)] == pairs[8:12]
