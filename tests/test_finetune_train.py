"""The training loop on a tiny random Molmo2 (in-process, CPU): learning, LR groups and schedule,
packing and accumulation equivalence, resume == uninterrupted, LoRA, freezing, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from finetune_world import make_benchmark, make_train_dataset
from safetensors.torch import load_file

import videonet_datasets.finetune.trainer as trainer_module
from videonet_datasets.finetune import FinetuneConfig, parse_config
from videonet_datasets.finetune.checkpoint import list_checkpoints
from videonet_datasets.finetune.export import export_checkpoint
from videonet_datasets.finetune.model import load_model_and_processor, prepare_model
from videonet_datasets.finetune.schedule import cosine_with_min_lr_factor, make_optimizer, make_scheduler
from videonet_datasets.molmo2 import component_of

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(autouse=True)
def _fresh_accelerate_state():
    """Each ``train`` call builds its own Accelerator; accelerate's state objects are singletons."""
    from accelerate.state import AcceleratorState, GradientState

    yield
    AcceleratorState._reset_state(True)
    GradientState._reset_state()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_molmo2_dir: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ft")
    return {
        "model": tiny_molmo2_dir,
        "train": make_train_dataset(root / "videonet-train", clips=8),
    }


def _flags(world: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "--model_name_or_path", str(world["model"]),
        "--dataset", str(world["train"]), "--dataset_config", "single_action",
        "--output_dir", str(out),
        "--dtype", "float32", "--mixed_precision", "no", "--report_to", "none", "--progress_bar", "false",
        "--max_frames", "4", "--max_steps", "4", "--global_batch_size", "4", "--per_device_batch_size", "2",
        "--vit_lr", "1e-3", "--connector_lr", "1e-3", "--llm_lr", "1e-3", "--warmup_steps", "0",
        "--logging_steps", "1", "--save_steps", "0", "--save_final_model", "false",
        *extra,
    ]  # fmt: skip


def _run(world, out: Path, *extra: str):
    return trainer_module.train(parse_config(_flags(world, out, *extra)))


def _crash_after_step_2(world, out: Path, flags, monkeypatch, error: type[BaseException]) -> None:
    """Run until the checkpoint of step 2 is written, then die with ``error`` (like a killed job)."""
    original = trainer_module.save_checkpoint

    def crash(accelerator, config, step, *args):
        path = original(accelerator, config, step, *args)
        if step == 2:
            raise error("killed after step 2")
        return path

    monkeypatch.setattr(trainer_module, "save_checkpoint", crash)
    with pytest.raises(error):
        _run(world, out, *flags)
    monkeypatch.setattr(trainer_module, "save_checkpoint", original)


def _weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return {k.removeprefix("module."): v for k, v in load_file(checkpoint / "model.safetensors").items()}


def _max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_a_few_steps_lower_the_loss_and_everything_is_logged(world, tmp_path: Path) -> None:
    result = _run(world, tmp_path / "run", "--max_steps", "8", "--report_to", "tensorboard")
    losses = [h["train/loss"] for h in result.history]
    assert len(losses) == 8 and all(map(torch.isfinite, torch.tensor(losses)))
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2, losses
    entry = result.history[-1]
    for key in ("train/grad_norm", "lr/vit", "lr/connector", "lr/llm", "perf/clips_per_s", "perf/tokens_per_s",
                "perf/step_s", "perf/data_wait_frac", "perf/packing_efficiency", "train/grad_norm_vit",
                "train/grad_norm_connector", "train/grad_norm_llm"):  # fmt: skip
        assert key in entry, key
    # The visual pathway gets gradient (a blind model would learn from text alone).
    assert entry["train/grad_norm_vit"] > 1e-3 and entry["train/grad_norm_connector"] > 1e-3
    assert list((tmp_path / "run" / "logs").rglob("events.out.tfevents.*")), "no tensorboard log"
    history = [json.loads(line) for line in (tmp_path / "run" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == list(range(1, 9))
    assert result.steps == 8 and result.skipped_clips == 0


def test_every_parameter_is_in_exactly_one_lr_group(world) -> None:
    for flags in ([], ["--use_lora", "--lora_components", "llm", "vit"], ["--freeze_vit"]):
        config = parse_config(["--model_name_or_path", str(world["model"]), "--vit_lr", "1", "--connector_lr", "2",
                               "--llm_lr", "3", *flags])  # fmt: skip
        model = prepare_model(load_model_and_processor(config)[0], config)
        optimizer = make_optimizer(model, config)
        grouped = [id(p) for g in optimizer.param_groups for p in g["params"]]
        trainable = {id(p): n for n, p in model.named_parameters() if p.requires_grad}
        assert len(grouped) == len(set(grouped)) == len(trainable)
        assert set(grouped) == set(trainable)
        lrs = {"vit": 1.0, "connector": 2.0, "llm": 3.0}
        for group in optimizer.param_groups:
            assert group["lr"] == lrs[group["name"]]
            assert {component_of(trainable[id(p)]) for p in group["params"]} == {group["name"]}
        names = [g["name"] for g in optimizer.param_groups]
        assert names == (["connector", "llm"] if "--freeze_vit" in flags else ["vit", "connector", "llm"])


def test_scheduler_matches_the_formula() -> None:
    config = FinetuneConfig(
        max_steps=30, warmup_steps=5, min_lr_ratio=0.1, vit_lr=5e-6, connector_lr=5e-6, llm_lr=1e-5
    )
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(3)]
    optimizer = torch.optim.AdamW(
        [{"params": [p], "lr": lr, "name": n} for p, (n, lr) in zip(params, config.lrs().items())]
    )
    scheduler = make_scheduler(optimizer, config)
    for step in range(config.max_steps + 1):
        factor = cosine_with_min_lr_factor(step, warmup_steps=5, max_steps=30, min_lr_ratio=0.1)
        for group in optimizer.param_groups:
            assert group["lr"] == pytest.approx(config.lrs()[group["name"]] * factor, rel=1e-9, abs=1e-15), (
                step
            )
        optimizer.step()
        scheduler.step()
    assert cosine_with_min_lr_factor(5, warmup_steps=5, max_steps=30, min_lr_ratio=0.1) == 1.0
    assert cosine_with_min_lr_factor(30, warmup_steps=5, max_steps=30, min_lr_ratio=0.1) == pytest.approx(0.1)
    assert cosine_with_min_lr_factor(0, warmup_steps=5, max_steps=30, min_lr_ratio=0.1) == 0.0


def test_logged_learning_rates_follow_the_schedule(world, tmp_path: Path) -> None:
    result = _run(world, tmp_path / "run", "--max_steps", "6", "--warmup_steps", "2", "--llm_lr", "2e-3")
    for entry in result.history:
        factor = cosine_with_min_lr_factor(
            int(entry["step"]) - 1, warmup_steps=2, max_steps=6, min_lr_ratio=0.1
        )
        assert entry["lr/llm"] == pytest.approx(2e-3 * factor)
        assert entry["lr/vit"] == pytest.approx(1e-3 * factor)


def test_packing_accumulation_and_checkpointing_do_not_change_the_update(world, tmp_path: Path) -> None:
    """The same step, packed or not, in 1 or 2 micro-batches, with activation checkpointing or
    not: same loss, same weights after the update (the loss is normalised per answer token)."""
    common = ("--max_steps", "2", "--save_steps", "0", "--z_loss_weight", "1e-4")
    runs = {
        "packed": _run(world, tmp_path / "packed", *common),
        "unpacked": _run(world, tmp_path / "unpacked", *common, "--no_packing"),
        "micro4": _run(world, tmp_path / "micro4", *common, "--per_device_batch_size", "4"),
        "checkpointing": _run(world, tmp_path / "ckpt", *common, "--gradient_checkpointing"),
    }
    reference = _weights(tmp_path / "packed" / "checkpoint-2")
    base = {k: v for k, v in load_file(next(world["model"].glob("*.safetensors"))).items()}
    assert len(base)  # the saved base differs in key layout; the weights must have moved
    for name, result in runs.items():
        assert [h["train/loss"] for h in result.history] == pytest.approx(
            [h["train/loss"] for h in runs["packed"].history], rel=1e-5
        ), name
        path = {"packed": "packed", "unpacked": "unpacked", "micro4": "micro4", "checkpointing": "ckpt"}[name]
        assert _max_diff(_weights(tmp_path / path / "checkpoint-2"), reference) < 2e-6, name
    # Packing encodes each video once: fewer tokens for the same answers.
    assert runs["packed"].history[0]["perf/tokens_per_s"] > 0


def test_resume_gives_the_same_result_as_an_uninterrupted_run(world, tmp_path: Path, monkeypatch) -> None:
    """Also with the MC options re-drawn per epoch (6 steps x 4 clips = 3 epochs of the 8 clips)."""
    flags = ("--max_steps", "6", "--save_steps", "2", "--save_total_limit", "2", "--lora_dropout", "0.0",
             "--shuffle_options", "true")  # fmt: skip
    straight = _run(world, tmp_path / "straight", *flags)

    _crash_after_step_2(world, tmp_path / "resumed", flags, monkeypatch, RuntimeError)
    assert [s for s, _ in list_checkpoints(tmp_path / "resumed")] == [2]
    resumed = _run(world, tmp_path / "resumed", *flags)
    assert resumed.start_step == 2 and resumed.steps == 6
    assert [s for s, _ in list_checkpoints(tmp_path / "resumed")] == [4, 6]  # rotation keeps 2
    assert (
        _max_diff(
            _weights(tmp_path / "resumed" / "checkpoint-6"), _weights(tmp_path / "straight" / "checkpoint-6")
        )
        == 0
    )
    opt_a = torch.load(tmp_path / "straight" / "checkpoint-6" / "optimizer.bin", weights_only=False)["state"]
    opt_b = torch.load(tmp_path / "resumed" / "checkpoint-6" / "optimizer.bin", weights_only=False)["state"]
    assert all(torch.equal(opt_a[k]["exp_avg"], opt_b[k]["exp_avg"]) for k in opt_a)
    assert [h["train/loss"] for h in resumed.history] == [h["train/loss"] for h in straight.history[2:]]
    # A finished run resumes to nothing; a fresh run into its directory is refused.
    again = _run(world, tmp_path / "resumed", *flags)
    assert again.start_step == again.steps == 6 and again.history == []
    with pytest.raises(FileExistsError, match="already has 2 checkpoint"):
        _run(world, tmp_path / "resumed", *flags, "--resume_from_checkpoint", "none")
    # Resuming with the other question order would train on other questions than the run began with.
    with pytest.raises(ValueError, match="trained with shuffle_options True, this run has False"):
        _run(world, tmp_path / "resumed", *flags, "--shuffle_options", "false")


def test_lora_trains_the_adapters_and_the_connector_and_merges(world, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    flags = ("--use_lora", "--lora_components", "llm", "--lora_r", "4", "--lora_dropout", "0.0",
             "--save_final_model", "true", "--max_steps", "4")  # fmt: skip
    result = _run(world, tmp_path / "lora", *flags)
    assert result.history[-1]["train/loss"] < result.history[0]["train/loss"]
    merged = AutoModelForImageTextToText.from_pretrained(tmp_path / "lora" / "final").state_dict()
    base = AutoModelForImageTextToText.from_pretrained(world["model"]).state_dict()
    moved = {c: 0.0 for c in ("vit", "connector", "llm")}
    for key in base:
        moved[component_of(key)] = max(moved[component_of(key)], (merged[key] - base[key]).abs().max().item())
    assert moved["vit"] == 0.0  # no adapters there: frozen
    assert moved["connector"] > 1e-4 and moved["llm"] > 1e-4
    q = "model.language_model.layers.0.self_attn.q_proj.weight"
    norm = "model.language_model.norm.weight"
    assert not torch.equal(merged[q], base[q]) and torch.equal(merged[norm], base[norm])
    provenance = json.loads((tmp_path / "lora" / "final" / "videonet_finetune.json").read_text())
    assert provenance["lora"] and provenance["lora_merged"] and provenance["step"] == 4

    # The adapter alone (lora_merge false) on the base gives the merged model's outputs.
    adapter_dir = export_checkpoint(
        tmp_path / "lora" / "checkpoint-4", tmp_path / "adapter", lora_merge=False
    )
    assert (adapter_dir / "adapter_config.json").is_file() and not (
        adapter_dir / "model.safetensors"
    ).exists()
    peft_model = PeftModel.from_pretrained(
        AutoModelForImageTextToText.from_pretrained(world["model"]), adapter_dir
    )
    merged_model = AutoModelForImageTextToText.from_pretrained(tmp_path / "lora" / "final")
    ids = torch.tensor([[5, 17, 42, 99, 7]])
    with torch.no_grad():
        a = peft_model.eval()(input_ids=ids).logits
        b = merged_model.eval()(input_ids=ids).logits
    assert (a - b).abs().max() < 1e-4


def test_frozen_components_do_not_move(world, tmp_path: Path) -> None:
    _run(
        world,
        tmp_path / "frozen",
        "--freeze_vit",
        "--freeze_connector",
        "--max_steps",
        "2",
        "--save_steps",
        "0",
    )
    after = _weights(tmp_path / "frozen" / "checkpoint-2")
    config = parse_config(["--model_name_or_path", str(world["model"])])
    before = load_model_and_processor(config)[0].state_dict()
    for key, value in after.items():
        same = torch.equal(value, before[key])
        assert same == (component_of(key) in ("vit", "connector")), key


def test_saved_model_loads_with_auto_classes_and_matches_the_checkpoint(world, tmp_path: Path) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    _run(
        world, tmp_path / "run", "--max_steps", "2", "--save_final_model", "true", "--save_dtype", "bfloat16"
    )
    final = tmp_path / "run" / "final"
    model = AutoModelForImageTextToText.from_pretrained(final)
    processor = AutoProcessor.from_pretrained(final)
    assert next(model.parameters()).dtype == torch.bfloat16
    # The processor keeps the training's frame settings and explicit normalisation.
    assert processor.video_processor.max_fps == 4.0 and processor.video_processor.num_frames == 4
    assert processor.video_processor.do_rescale and processor.video_processor.do_normalize
    ckpt = _weights(tmp_path / "run" / "checkpoint-2")
    as_bf16 = {k: v.to(torch.bfloat16) for k, v in ckpt.items()}
    loaded = model.state_dict()
    assert _max_diff({k: loaded[k] for k in ckpt}, as_bf16) == 0
    # A checkpoint exports to the same directory layout and weights.
    exported = export_checkpoint(tmp_path / "run" / "checkpoint-2", tmp_path / "exported")
    again = AutoModelForImageTextToText.from_pretrained(exported).state_dict()
    assert _max_diff({k: again[k] for k in ckpt}, as_bf16) == 0


def test_benchmark_rows_train_and_match_the_evaluation_prompt(world, tmp_path: Path, monkeypatch) -> None:
    """Benchmark-format data trains, and a question is encoded exactly as the suite's
    lmms-eval Molmo2 model encodes it at evaluation time."""
    from datasets import load_dataset

    from videonet_datasets.finetune.batches import ClipEncoder
    from videonet_datasets.finetune.data import open_source

    bench = make_benchmark(tmp_path / "bench")
    result = _run(world, tmp_path / "run", "--dataset", str(bench), "--dataset_config", "mc,binary_0shot",
                  "--dataset_split", "test", "--max_steps", "2")  # fmt: skip
    assert result.steps == 2 and result.history[-1]["train/answer_tokens_per_step"] > 0

    pytest.importorskip("lmms_eval")
    from videonet_lmms_tasks.models.molmo2 import Molmo2
    from videonet_lmms_tasks.tasks.videonet import utils

    monkeypatch.setenv("VIDEONET_DATA", str(bench))
    eval_model = Molmo2(pretrained=str(world["model"]), max_new_tokens=2, fps=4, max_frames=4)
    docs = utils.process_docs(load_dataset(str(bench), "mc", split="validation"))
    doc = docs[0]
    at_eval = eval_model._encode(utils.doc_to_messages(doc, {"preset": "molmo2"}))
    source = open_source(str(bench), "mc", "validation")
    record = next(r for r in source.records if r.uid == doc["clip_id"])
    example = ClipEncoder(eval_model.processor, source.resolver, max_frames=4, packing=False).encode(record)[
        0
    ]
    prompt_len = at_eval["input_ids"].shape[1]
    assert torch.equal(example["input_ids"][:prompt_len], at_eval["input_ids"][0])
    assert torch.equal(example["pixel_values_videos"], at_eval["pixel_values_videos"])
    answer = eval_model.processor.tokenizer.decode(example["input_ids"][prompt_len:-1])
    assert answer == doc["answer"]


def test_cli_export_and_eval_arguments(world, tmp_path: Path, monkeypatch, capsys) -> None:
    from videonet_datasets import cli
    from videonet_datasets.finetune import evaluate

    _run(world, tmp_path / "run", "--max_steps", "2")
    assert (
        cli.main(["finetune", "export", str(tmp_path / "run" / "checkpoint-2"), str(tmp_path / "out")]) == 0
    )
    assert (tmp_path / "out" / "config.json").is_file() and (
        tmp_path / "out" / "processor_config.json"
    ).is_file()
    assert cli.main(["finetune", "eval", str(tmp_path / "nothing"), "--data", "bench"]) == 2
    assert "neither a save_pretrained directory nor a checkpoint" in capsys.readouterr().err

    # A checkpoint is exported before lmms-eval sees it.
    seen = {}

    def fake_eval(model_dir, **kw):
        seen["model_dir"] = Path(model_dir)
        raise evaluate.EvalError("stopped here")

    monkeypatch.setattr(evaluate, "run_lmms_eval", fake_eval)
    code = cli.main(["finetune", "eval", str(tmp_path / "run" / "checkpoint-2"), "--data", "bench",
                     "--output_path", str(tmp_path / "ev")])  # fmt: skip
    assert code == 1 and seen["model_dir"] == tmp_path / "ev" / "model"
    assert (seen["model_dir"] / "config.json").is_file()
    assert cli.main(["finetune", "train", "--max_steps", "0"]) == 2


def test_streamed_data_trains_and_resumes_exactly(world, tmp_path: Path, monkeypatch) -> None:
    import datasets

    monkeypatch.setattr(datasets.config, "SLEEP_TIME_ON_THREADS_SHUTDOWN", 0)  # a 5 s pause per pass
    flags = ("--streaming", "--shuffle_buffer", "4", "--max_steps", "5", "--save_steps", "2")
    straight = _run(world, tmp_path / "straight", *flags)  # 20 clips from 8 rows: 3 passes
    _crash_after_step_2(world, tmp_path / "resumed", flags, monkeypatch, KeyboardInterrupt)
    state = json.loads((tmp_path / "resumed" / "checkpoint-2" / "data_state_rank0.json").read_text())
    assert state["stream_positions"] == {"0": [0, 8]}  # worker 0: pass 0, all 8 rows read
    resumed = _run(world, tmp_path / "resumed", *flags)
    assert resumed.start_step == 2
    assert (
        _max_diff(
            _weights(tmp_path / "resumed" / "checkpoint-5"), _weights(tmp_path / "straight" / "checkpoint-5")
        )
        == 0
    )
    assert [h["train/loss"] for h in resumed.history] == [h["train/loss"] for h in straight.history[2:]]
