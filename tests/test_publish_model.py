"""``videonet publish model``: the bundle holds what ``from_pretrained`` needs plus the
training configuration and evaluation results (local paths replaced), leaves training
state out, renders a card with the real numbers, and the check catches incomplete or
leaky folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from huggingface_hub import ModelCard
from safetensors.numpy import save_file
from test_publish_fakes import FakeHfApi

from videonet_datasets.cli import main
from videonet_datasets.commands import publish as publish_cmd
from videonet_datasets.publish import CheckFailed, PublishError, check_model, stage_model
from videonet_datasets.publish.check import list_files
from videonet_datasets.publish.model_card import benchmark_config_of, parse_eval_results

REPO = "my-org/molmo2-4b-videonet"
CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8,
    "intermediate_size": 16,
    "num_attention_heads": 2,
    "num_hidden_layers": 1,
    "num_key_value_heads": 1,
    "vocab_size": 32,
}


def make_model_dir(root: Path, run_dir: Path) -> Path:
    """A sharded save_pretrained folder with training state and a training config next to it."""
    root.mkdir(parents=True)
    (root / "config.json").write_text(json.dumps(CONFIG))
    save_file({"a.weight": np.zeros((4, 8), np.float32)}, str(root / "model-00001-of-00002.safetensors"))
    save_file(
        {"b.weight": np.zeros((8, 8), np.float32), "b.bias": np.zeros(8, np.float32)},
        str(root / "model-00002-of-00002.safetensors"),
    )
    index = {
        "metadata": {"total_size": 4 * (32 + 64 + 8)},
        "weight_map": {
            "a.weight": "model-00001-of-00002.safetensors",
            "b.weight": "model-00002-of-00002.safetensors",
            "b.bias": "model-00002-of-00002.safetensors",
        },
    }
    (root / "model.safetensors.index.json").write_text(json.dumps(index))
    (root / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}))
    (root / "processor_config.json").write_text(json.dumps({"processor_class": "Molmo2Processor"}))
    (root / "checkpoint-10").mkdir()
    (root / "checkpoint-10" / "optimizer.pt").write_bytes(b"state")
    (root / "optimizer.pt").write_bytes(b"state")
    (root / "training_args.bin").write_bytes(b"pickle")
    (root / "training_config.yaml").write_text(
        yaml.safe_dump(
            {
                "model_name_or_path": "allenai/Molmo2-4B",
                "dataset": "my-org/videonet-train",
                "dataset_config": "single_action",
                "output_dir": str(run_dir / "out"),
                "optim": {"lr_vit": 5e-6, "lr_connector": 5e-6, "lr_llm": 1e-5, "max_steps": 8000},
                "frames": {"fps": 4, "max_frames": 64},
            },
            sort_keys=False,
        )
    )
    return root


def lmms_results(path: Path, run_dir: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "results": {
                    "videonet_mc": {
                        "alias": "videonet_mc",
                        "accuracy,none": 0.535,
                        "accuracy_stderr,none": 0.012,
                        "accuracy[Sports],none": 0.61,
                        "accuracy[Dance],none": 0.42,
                        "answer_counts,none": {"A": 3},
                        "official_accuracy,none": 0.55,
                        "official_accuracy_stderr,none": 0.011,
                        "official_unparsable,none": 120,
                        "official_accuracy[Sports],none": 0.63,
                    },
                    "videonet_binary_hard_0shot": {
                        "accuracy,none": 0.666,
                        "accuracy_positive,none": 0.7,
                        "accuracy_negative,none": 0.632,
                    },
                },
                "n-samples": {"videonet_mc": {"original": 4000, "effective": 4000}},
                "config": {
                    "model": "videonet_molmo2",
                    "model_args": f"pretrained={run_dir / 'out'},dtype=bfloat16",
                },
            }
        )
    )
    return path


def test_model_bundle_card_and_provenance(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    src = make_model_dir(run / "model", run)
    results = lmms_results(run / "eval" / "videonet_mc_results.json", run)
    out = tmp_path / "bundle"
    rc = main(
        [
            "publish",
            "model",
            str(src),
            "--repo",
            REPO,
            "--dry-run",
            "--out",
            str(out),
            "--eval-results",
            str(results),
            "--benchmark-repo",
            "my-org/videonet",
            "--license",
            "apache-2.0",
            "--no-progress",
        ]
    )
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    files, hidden = list_files(out)
    assert (
        files
        == [
            "README.md",
            "config.json",
            "eval/videonet_mc_results.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "model.safetensors.index.json",
            "processor_config.json",
            "tokenizer_config.json",
            "training_config.yaml",
        ]
        and hidden == []
    )
    assert (
        "3 hidden or excluded source files" in printed.out
    )  # checkpoint-10/optimizer.pt, optimizer.pt, training_args.bin
    for rel in files:  # no trace of the training machine
        assert str(tmp_path) not in (out / rel).read_bytes().decode("utf-8", "replace"), rel
    tc = yaml.safe_load((out / "training_config.yaml").read_text())
    assert tc["output_dir"] == "<local>/out" and tc["optim"]["lr_llm"] == 1e-5
    ev = json.loads((out / "eval/videonet_mc_results.json").read_text())
    assert ev["config"]["model_args"] == "pretrained=<local>/out,dtype=bfloat16"

    card = ModelCard.load(out / "README.md")
    d = card.data
    assert d.base_model == "allenai/Molmo2-4B" and d.datasets == ["my-org/videonet-train"]
    assert (
        d.pipeline_tag == "image-text-to-text"
        and d.library_name == "transformers"
        and d.license == "apache-2.0"
    )
    mi = {(r.dataset_config, r.dataset_split, r.metric_name): r.metric_value for r in d.eval_results}
    assert mi == {
        ("mc", "test", "accuracy (%), robust scoring (unparsed = wrong)"): 53.5,
        ("mc", "test", "accuracy (%), official scoring (over parsed answers)"): 55.0,
        ("binary_0shot", "test", "accuracy (%), robust scoring (unparsed = wrong)"): 66.6,
    }
    assert all(r.dataset_type == "my-org/videonet" for r in d.eval_results)
    body = card.text
    assert "| accuracy (official) | unparsable (official, count) | accuracy (robust) |" in body
    assert "| `videonet_mc` | mc | test | 4000 | 55.0 ± 1.1 | 120 | 53.5 ± 1.2 |" in body
    assert "| `videonet_binary_hard_0shot` | binary_0shot | test | - | - | - | 66.6 | 70.0 | 63.2 |" in body
    assert "| Sports | 63.0 / 61.0 |" in body and "| Dance | - / 42.0 |" in body
    assert "**official** is the VideoNet authors'" in body
    assert "| `optim.lr_llm` | 1e-05 |" in body and "| `frames.fps` | 4 |" in body
    assert "104 parameters" in body and "Weights: safetensors, 2 shards" in body
    assert f'from_pretrained("{REPO}")' in body and "config `single_action`" in body


def test_model_check_catches_incomplete_and_leaky_folders(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", tmp_path)
    (src / "model-00002-of-00002.safetensors").unlink()
    shard1 = src / "model-00001-of-00002.safetensors"
    os.truncate(shard1, shard1.stat().st_size - 8)  # an interrupted copy
    cfg = dict(CONFIG, _name_or_path="/home/carol/models/molmo2")
    (src / "config.json").write_text(json.dumps(cfg))
    report = check_model(src)
    msgs = [str(f) for f in report.errors]
    assert (
        "model.safetensors.index.json: weight_map: names shard 'model-00002-of-00002.safetensors', which is missing"
        in msgs
    )
    assert (
        "model-00001-of-00002.safetensors: not a readable safetensors file: tensor 'a.weight' lies outside the file (truncated?)"
        in msgs
    )
    assert any(
        m.startswith("config.json: $._name_or_path: local path '/home/carol/models/molmo2'") for m in msgs
    ), msgs
    with pytest.raises(CheckFailed):
        stage_model(src, REPO, tmp_path / "bundle", progress=False)
    assert not (tmp_path / "bundle").exists()


def test_adapter_must_name_a_hub_base_model(tmp_path: Path) -> None:
    src = tmp_path / "adapter"
    src.mkdir()
    save_file({"lora_A": np.zeros((2, 8), np.float32)}, str(src / "adapter_model.safetensors"))
    (src / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "base_model_name_or_path": "../base"})
    )
    msgs = [str(f) for f in check_model(src).errors]
    assert any("'../base' is not a Hub model id" in m for m in msgs), msgs
    (src / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "base_model_name_or_path": "allenai/Molmo2-4B"})
    )
    report = check_model(src)
    assert report.ok and report.weights.adapter and report.weights.num_parameters == 16


def test_model_upload_and_republish(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    src = make_model_dir(tmp_path / "model", tmp_path)
    api = FakeHfApi(tmp_path / "hub")
    monkeypatch.setattr(publish_cmd, "make_api", lambda token: api)
    monkeypatch.setenv("HF_TOKEN", "hf_modelTokenForTheFakeHub0123")
    args = ["publish", "model", str(src), "--repo", REPO, "--tag", "v1.0", "--no-progress"]
    assert main(args) == 0 and main(args) == 0
    out = capsys.readouterr().out
    assert "Published to model repo my-org/molmo2-4b-videonet @ main: uploaded 8 file(s)" in out
    assert "Nothing new to upload" in out and "tag v1.0: already points to this commit" in out
    assert ("model", REPO) in api.repos and set(api.files(REPO, repo_type="model")) == {
        ".gitattributes",
        "README.md",
        "config.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
        "model.safetensors.index.json",
        "processor_config.json",
        "tokenizer_config.json",
        "training_config.yaml",
    }


def test_eval_result_formats() -> None:
    flat = parse_eval_results({"eval_loss": 0.4, "eval_accuracy": 0.5, "epoch": 1, "note": "x"})
    assert [(r.task, r.metric, r.value) for r in flat] == [
        ("eval", "eval_loss", 0.4),
        ("eval", "eval_accuracy", 0.5),
        ("eval", "epoch", 1.0),
    ]
    nested = parse_eval_results({"videonet_mc_val": {"accuracy": 0.48, "n": "many"}})
    assert [(r.task, r.metric, r.value) for r in nested] == [("videonet_mc_val", "accuracy", 0.48)]
    with pytest.raises(ValueError, match="expected a JSON object"):
        parse_eval_results([1, 2], "x.json")
    assert benchmark_config_of("videonet_mc_val") == ("mc", "validation")
    assert benchmark_config_of("videonet_binary_random_2shot") == ("binary_random_2shot", "test")
    assert benchmark_config_of("videonet_binary_hard_3shot") == ("binary_3shot", "test")
    assert benchmark_config_of("videonet_binary_hard_0shot_lenient") is None


def test_recipe_layout_discovers_provenance_and_eval(tmp_path: Path) -> None:
    """``OUTPUT/final`` (save_pretrained + the recipe's videonet_finetune.json) with the
    evaluation hook's results under ``OUTPUT/eval/step-N/``."""
    run = tmp_path / "runs" / "ft"
    src = make_model_dir(run / "final", run)
    (src / "training_config.yaml").unlink()
    (src / "videonet_finetune.json").write_text(
        json.dumps(
            {
                "base_model": "allenai/Molmo2-4B",
                "lora": False,
                "step": 8000,
                "checkpoint": str(run / "checkpoint-8000"),
                "config": {
                    "model_name_or_path": "allenai/Molmo2-4B",
                    "dataset": str(tmp_path / "train"),
                    "dataset_config": "single_action",
                    "llm_lr": 1e-5,
                    "max_steps": 8000,
                    "adam_beta1": 0.9,
                },
            }
        )
    )
    lmms_results(run / "eval" / "step-4000" / "final" / "20261101_results.json", run)
    newest = lmms_results(run / "eval" / "step-8000" / "final" / "20261102_results.json", run)
    os.utime(newest, (newest.stat().st_atime + 10, newest.stat().st_mtime + 10))
    bundle = stage_model(src, REPO, tmp_path / "bundle", progress=False)
    assert "eval/20261102_results.json" in bundle.files and "videonet_finetune.json" in bundle.files
    assert f"evaluation results from {newest} (pass --eval-results to choose others)" in bundle.notes
    assert "videonet_finetune.json: replaced 2 local path(s) by <local>/<name>" in bundle.notes
    card = ModelCard.load(bundle.root / "README.md")
    assert card.data.base_model == "allenai/Molmo2-4B" and card.data.datasets is None
    assert (
        "Run: base_model `allenai/Molmo2-4B`; lora `false`; step `8000`; checkpoint `<local>/checkpoint-8000`"
        in card.text
    )
    assert "| `llm_lr` | 1e-05 |" in card.text and "<details><summary>All 6 settings</summary>" in card.text
    assert "- a local dataset folder `<local>/train`, config `single_action` (not on the Hub)" in card.text
    assert "| `videonet_mc` | mc | test | 4000 | 55.0 ± 1.1 | 120 | 53.5 ± 1.2 |" in card.text
    with pytest.raises(PublishError, match=r"did you mean .*final\?"):
        stage_model(run, REPO, tmp_path / "b2", progress=False)


@pytest.mark.slow
def test_real_recipe_output_publishes_and_reloads(tmp_path: Path) -> None:
    """Integration with ``recipes/finetune_molmo2.py`` (tiny CPU config, 2 steps, ~20 s): its
    ``OUTPUT/final`` bundles without errors, and the bundle reloads with
    AutoModelForImageTextToText / AutoProcessor offline."""
    from conftest import make_annotation_dir

    from videonet_datasets.benchmark.build import build_benchmark

    repo_root = Path(__file__).resolve().parents[1]
    bench = tmp_path / "videonet"
    build_benchmark(
        make_annotation_dir(tmp_path / "ann", domains=1, actions_per_domain=4), bench, progress=False
    )
    out = tmp_path / "ft"
    cmd = [sys.executable, str(repo_root / "recipes" / "finetune_molmo2.py"), "--config",
           str(repo_root / "recipes" / "configs" / "tiny_cpu.yaml"), "--dataset", str(bench),
           "--model_name_or_path", str(tmp_path / "tiny"), "--output_dir", str(out), "--max_steps", "2",
           "--save_steps", "1"]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    bundle = stage_model(
        out / "final", REPO, tmp_path / "bundle", base_model="allenai/Molmo2-4B", progress=False
    )
    assert bundle.report.ok and bundle.report.model_type == "molmo2"
    assert not any(f.startswith("checkpoint-") for f in bundle.files)
    assert any(n.startswith("videonet_finetune.json: replaced") for n in bundle.notes)
    for rel in bundle.files:
        assert str(tmp_path) not in (bundle.root / rel).read_bytes().decode("utf-8", "replace"), rel
    code = (
        "import sys\n"
        "from transformers import AutoModelForImageTextToText, AutoProcessor\n"
        "m = AutoModelForImageTextToText.from_pretrained(sys.argv[1])\n"
        "p = AutoProcessor.from_pretrained(sys.argv[1])\n"
        "print('OK', sum(x.numel() for x in m.parameters()), type(p).__name__)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(bundle.root)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split("OK", 1)[1].split()[0]) == bundle.report.weights.num_parameters
    assert "Molmo2Processor" in proc.stdout
