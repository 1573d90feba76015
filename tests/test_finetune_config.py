"""The recipe's settings: YAML + flag overrides, checks, the paper config, the accelerate configs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from videonet_datasets.finetune.config import (
    ConfigError,
    FinetuneConfig,
    dump_config,
    load_config_file,
    parse_config,
)

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_paper_config_is_the_paper() -> None:
    config = parse_config(["--config", str(RECIPES / "configs" / "molmo2_4b_videonet.yaml")])
    # paper §4.2, App. G.2
    assert (config.fps, config.max_frames) == (4.0, 64)
    assert (config.vit_lr, config.connector_lr, config.llm_lr) == (5e-6, 5e-6, 1e-5)
    assert config.lr_scheduler_type == "cosine_with_min_lr" and config.min_lr_ratio == 0.1
    assert (config.max_steps, config.global_batch_size) == (8000, 128)
    assert config.packing and not config.use_lora and not any(config.frozen().values())
    assert config.mixed_precision == "bf16" and config.dtype == "float32"
    # allenai's SFT settings
    assert (config.adam_beta1, config.adam_beta2, config.adam_epsilon, config.weight_decay) == (
        0.9,
        0.95,
        1e-6,
        0.0,
    )
    assert (config.max_grad_norm, config.warmup_steps, config.z_loss_weight) == (1.0, 200, 1e-4)
    assert config.model_name_or_path == "allenai/Molmo2-4B" and config.dataset_config == "single_action"
    # Gradient accumulation follows the number of processes.
    assert [config.gradient_accumulation_steps(n) for n in (1, 8, 64)] == [128, 16, 2]
    with pytest.raises(ConfigError, match="not a multiple"):
        config.gradient_accumulation_steps(3)


def test_tiny_config_loads() -> None:
    config = parse_config(["--config", str(RECIPES / "configs" / "tiny_cpu.yaml")])
    assert config.build_tiny_model and config.mixed_precision == "no" and config.num_threads == 1
    assert config.tiny_sizes() == {"image_size": 56, "text_layers": 2, "vit_layers": 2}


def test_flags_override_yaml_and_yaml_numbers_are_typed(tmp_path: Path) -> None:
    # PyYAML reads 5e-6 (no dot) as a string; the loader converts it.
    path = _yaml(tmp_path, "llm_lr: 5e-6\nmax_steps: 10\nwarmup_steps: 0\nreport_to: none\npacking: false\n")
    config = parse_config(["--config", str(path), "--max_steps", "20", "--vit_lr", "1e-3"])
    assert config.llm_lr == 5e-6 and isinstance(config.llm_lr, float)
    assert config.max_steps == 20 and config.vit_lr == 1e-3
    assert config.report_to == ["none"] and config.packing is False
    assert parse_config(["--config", str(path), "--packing"]).packing is True


def test_unknown_or_mistyped_yaml_keys_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml.*unknown setting.*lm_lr"):
        load_config_file(_yaml(tmp_path, "lm_lr: 1e-5\n"))
    with pytest.raises(ConfigError, match=r"max_steps.*integer"):
        load_config_file(_yaml(tmp_path, "max_steps: 1.5\n"))
    with pytest.raises(ConfigError, match=r"mixed_precision.*one of"):
        load_config_file(_yaml(tmp_path, "mixed_precision: fp8\n"))
    with pytest.raises(ConfigError, match="not found"):
        load_config_file(tmp_path / "missing.yaml")
    with pytest.raises(SystemExit):
        parse_config(["--no_such_flag", "1"])


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--global_batch_size", "6", "--per_device_batch_size", "4"], "not a multiple"),
        (["--warmup_steps", "10", "--max_steps", "5"], "warmup_steps"),
        (["--use_lora", "--lora_components", "connector"], "lora_components"),
        (["--use_lora", "--freeze_llm"], "LoRA on frozen"),
        (["--freeze_vit", "--freeze_connector", "--freeze_llm"], "nothing to train"),
        (["--attn_implementation", "flash_attention_2"], "4D attention mask"),
        (["--eval_steps", "5"], "eval_data"),
        (["--min_lr_ratio", "2"], "min_lr_ratio"),
        (["--tiny_model_spec", "image_size=56"], "build_tiny_model"),
    ],
)
def test_bad_combinations_are_refused(flags: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config(flags)


def test_dump_round_trips(tmp_path: Path) -> None:
    config = parse_config(
        ["--llm_lr", "3e-5", "--use_lora", "--lora_components", "llm", "vit", "--max_train_clips", "7"]
    )
    dumped = dump_config(config, tmp_path / "out.yaml")
    again = FinetuneConfig(**load_config_file(dumped))
    assert dataclasses.asdict(again) == dataclasses.asdict(config)


def test_tiny_spec_errors() -> None:
    config = FinetuneConfig(build_tiny_model=True, tiny_model_spec="image_size=56,bogus=1")
    with pytest.raises(ConfigError, match="bogus"):
        config.tiny_sizes()


def test_accelerate_configs_parse_with_accelerate() -> None:
    """Every launch configuration is read and validated by accelerate's own launcher code."""
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils import prepare_multi_gpu_env, prepare_simple_launcher_cmd_env

    expected = {
        "cpu.yaml": ("NO", 1, None),
        "single_gpu.yaml": ("NO", 1, None),
        "multi_gpu.yaml": ("MULTI_GPU", 8, None),
        "fsdp2.yaml": ("FSDP", 8, 2),
        "multi_node_fsdp2.yaml": ("FSDP", 16, 2),
        "deepspeed_zero2.yaml": ("DEEPSPEED", 8, None),
        "deepspeed_zero3.yaml": ("DEEPSPEED", 8, None),
    }
    found = sorted(p.name for p in (RECIPES / "accelerate").glob("*.yaml"))
    assert found == sorted(expected)
    for name, (kind, processes, fsdp_version) in expected.items():
        path = RECIPES / "accelerate" / name
        config = load_config_from_file(str(path))
        assert (config.distributed_type.value, config.num_processes) == (kind, processes), name
        if fsdp_version:
            assert config.fsdp_config["fsdp_version"] == fsdp_version
            assert (
                config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"]
                == "Molmo2DecoderLayer,Molmo2VisionEncoderLayer"
            )
        if kind == "DEEPSPEED":
            assert config.deepspeed_config["zero_stage"] == int(name[-6])
        args = launch_command_parser().parse_args(["--config_file", str(path), "recipes/finetune_molmo2.py"])
        args, _, _ = _validate_launch_command(args)
        if args.use_fsdp or args.multi_gpu:
            env = prepare_multi_gpu_env(args)
            if args.use_fsdp:
                assert env["FSDP_VERSION"] == "2" and env["ACCELERATE_USE_FSDP"] == "true"
        elif not args.use_deepspeed:
            _, env = prepare_simple_launcher_cmd_env(args)
            assert env["ACCELERATE_MIXED_PRECISION"] == ("no" if name == "cpu.yaml" else "bf16")


def test_transformer_layer_classes_exist() -> None:
    """The FSDP wrap classes name real Molmo2 layers (a typo would silently shard nothing)."""
    from transformers.models.molmo2 import modeling_molmo2

    for cls in ("Molmo2DecoderLayer", "Molmo2VisionEncoderLayer"):
        assert hasattr(modeling_molmo2, cls)
