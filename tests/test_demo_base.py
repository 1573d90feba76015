"""The demo's shipped base checkpoint (``videonet_datasets.demo.base_checkpoint``): that the packaged
one is complete, loads, fits the demo world and says how it was made; that an altered one is refused
naming the file; and the write -> publish -> install round trip ``make base-checkpoint`` uses."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
import torch

from videonet_datasets.cli import main as cli_main
from videonet_datasets.demo import base_checkpoint as bc
from videonet_datasets.demo import pretrain as pt
from videonet_datasets.demo.clips import world_domains
from videonet_datasets.demo.pipeline import DemoConfig, Headline, choose_base
from videonet_datasets.synth.config import preset

WORLD = preset("tiny", taxonomy="coarse")
FAST = pt.PretrainConfig(
    stages=(("generic_classify", 2), ("generic", 2)), train_seeds=1, clips_per_action=1, heldout_clips=1,
    warmup=1, save_steps=2,
)  # fmt: skip


def _names(config) -> list[str]:
    return sorted({a.name for d in world_domains(config) for a in d.actions})


def _actions_csv(path: Path, names: list[str]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["domain", "action"])
        w.writerows(("D", n) for n in names)
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A base built like ``videonet demo --base pretrain`` does (tiny world, 4 steps), with provenance."""
    from videonet_datasets.demo.model import build_demo_model

    root = tmp_path_factory.mktemp("base")
    names = _names(WORLD)
    build_demo_model(root / "random", extra_corpus=names)
    pt.pretrain(root / "random", root / "base", WORLD, FAST, progress=False, log=lambda _: None)
    actions = _actions_csv(root / "actions.csv", names)
    bc.write_provenance(root / "base", actions_csv=actions, world="tiny (coarse)",
                        commands=[["demo-model", "..."], ["demo-pretrain", "..."]], init={"seed": 0})  # fmt: skip
    return root / "base", actions


def test_shipped_checkpoint_is_complete_and_loads() -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor

    record = bc.verify(bc.SHIPPED)  # every file against its sha256
    assert record["name"] == bc.ARTIFACT_NAME and bc.SHIPPED.name.endswith(f"-v{record['version']}")
    assert set(bc.MODEL_FILES) <= set(record["files"]), "the shipped checkpoint lacks a model file"
    model = AutoModelForImageTextToText.from_pretrained(bc.SHIPPED)
    processor = AutoProcessor.from_pretrained(bc.SHIPPED)
    ids = processor.tokenizer("Does the video show a salchow?", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert logits.shape[:2] == ids.shape and torch.isfinite(logits).all()
    assert (bc.SHIPPED / "README.md").read_text().startswith("---\nlibrary_name: transformers")


def test_shipped_checkpoint_fits_the_demo_world_and_was_pretrained_away_from_it() -> None:
    """It serves the ``demo`` preset's vocabulary, its clips came from world seeds 1000+ (the benchmark
    is seed 0), and ``make reproduce`` rebuilds it with the same schedule (PretrainConfig's)."""
    assert bc.mismatch(bc.SHIPPED, _names(preset("demo"))) is None
    assert "was built for the 30 action names" in (bc.mismatch(bc.SHIPPED, _names(WORLD)) or "")
    record = bc.read_provenance(bc.SHIPPED)
    cfg = record["pretraining"]["config"]
    assert [tuple(s) for s in cfg["stages"]] == list(pt.PretrainConfig().stages)
    assert "from world seeds >= 1000 (the benchmark is world seed 0)" in record["data"]["training_clips"]
    assert "never a domain's action names" in record["data"]["labels"]
    assert any("demo-pretrain" in c for cmd in record["commands"] for c in cmd)
    final = record["pretraining"]["history"][-1]
    assert final["stage"] == "generic"
    # What the checkpoint is for: the generic yes / no / MC questions learned (MC chance is 25%).
    assert final["heldout_accuracy"]["qa3"] >= 90.0, final


def test_an_altered_or_incomplete_checkpoint_is_refused_naming_the_file(built, tmp_path: Path) -> None:
    base, _ = built
    copy = tmp_path / "ckpt"
    shutil.copytree(base, copy)
    bc.verify(copy)
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(bc.CheckpointError, match=r"model\.safetensors: sha256 .* does not match"):
        bc.verify(copy)
    (copy / "tokenizer.json").unlink()
    with pytest.raises(bc.CheckpointError, match=r"(tokenizer\.json|model\.safetensors)"):
        bc.install(copy, tmp_path / "installed")
    assert not (tmp_path / "installed").exists()
    (copy / bc.PROVENANCE_FILE).write_text("{not json")
    with pytest.raises(bc.CheckpointError, match=r"provenance\.json: not valid JSON"):
        bc.verify(copy)


def test_publish_then_install_round_trip(built, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base, actions = built
    dest = tmp_path / "videonet-mini-base-v7"
    assert cli_main(["demo-base", "publish", str(base), "--version", "7", "--to", str(dest)]) == 0
    record = bc.verify(dest)
    assert record["version"] == 7 and "# videonet-mini-base v7" in (dest / "README.md").read_text()
    assert record["pretraining"]["config"]["stages"] == [["generic_classify", 2], ["generic", 2]]
    assert cli_main(["demo-base", "publish", str(base), "--version", "7", "--to", str(dest)]) != 0
    assert "exists; publish a new version" in capsys.readouterr().err
    target = tmp_path / "models" / "base"
    target.mkdir(parents=True)
    (target / "stale.bin").write_text("old")
    assert cli_main(["demo-base", "install", str(dest), "--to", str(target)]) == 0
    assert not (target / "stale.bin").exists()  # replaced whole
    assert (target / "model.safetensors").read_bytes() == (base / "model.safetensors").read_bytes()
    assert "sha256 checked" in capsys.readouterr().out


def test_demo_uses_a_fitting_checkpoint_and_falls_back_only_for_the_shipped_one(
    built, tmp_path: Path
) -> None:
    base, actions = built
    world = tmp_path / "world"
    world.mkdir()
    shutil.copy(actions, world / "actions.csv")
    said: list[str] = []
    assert choose_base(DemoConfig(out=tmp_path, base=str(base)), world, said.append) == base
    assert choose_base(DemoConfig(out=tmp_path, base="pretrain"), world, said.append) is None
    # The shipped checkpoint is for the demo preset's names: for the tiny world, pretrain and say why.
    assert choose_base(DemoConfig(out=tmp_path), world, said.append) is None
    assert "does not fit this world" in said[-1]
    _actions_csv(world / "actions.csv", ["a", "b"])
    with pytest.raises(RuntimeError, match=r"--base .*: .* was built for the 12 action names"):
        choose_base(DemoConfig(out=tmp_path, base=str(base)), world, said.append)


def test_skill_checks_compare_each_stage_and_question_kind() -> None:
    shipped = {
        "pretraining": {"history": [{"stage": "generic", "heldout_accuracy": {"qa1": 100.0, "qa3": 96.0}}]}
    }
    rebuilt = [{"stage": "generic", "heldout_accuracy": {"qa1": 100.0, "qa3": 88.0, "all": 90.0}}]
    checks = bc.skill_checks(rebuilt, shipped)
    assert [ok for _, ok in checks] == [True, False]
    assert "qa3: 88.0 vs shipped 96.0" in checks[1][0]


def test_seed_summary_gives_mean_spread_and_range() -> None:
    rows = {
        name: {"videonet_mc": {"accuracy": acc}, "videonet_binary_hard_0shot": {"accuracy": 70.0}}
        for name, acc in (("sa-seed0", 40.0), ("sa-seed1", 50.0), ("sa-seed2", 60.0))
    }
    text = Headline(rows).seed_summary({"single_action": list(rows)})
    assert "| single_action (3) | 50.0 ± 10.0 (40.0-60.0) | 70.0 ± 0.0 (70.0-70.0) | - | - |" in text
