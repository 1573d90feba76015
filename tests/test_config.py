"""The one config mechanism (``videonet_datasets.config``): dataclass <-> YAML <-> flags <-> key=value."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from videonet_datasets import cli
from videonet_datasets.commands.build_train import build_config
from videonet_datasets.config import (
    ConfigError,
    add_flags,
    config_from_dict,
    config_to_dict,
    flag_values,
    parse_key_values,
    split_key_values,
)
from videonet_datasets.molmo2 import TinyMolmo2Config
from videonet_datasets.train_data.config import BuildConfig


def test_key_value_lists() -> None:
    assert split_key_values(" a=1, b = x ,,", where="--opt") == [("a", "1"), ("b", "x")]
    with pytest.raises(ConfigError, match=r"--opt: 'b' is not KEY=VALUE"):
        split_key_values("a=1,b", where="--opt")
    assert parse_key_values("image_size=56,rope_theta=1e4", TinyMolmo2Config, where="spec") == {
        "image_size": 56,
        "rope_theta": 10000.0,
    }
    with pytest.raises(ConfigError, match="'bogus' is not a TinyMolmo2Config setting"):
        parse_key_values("bogus=1", TinyMolmo2Config, where="spec")
    with pytest.raises(ConfigError, match="image_size: 56.5 must be an integer"):
        parse_key_values("image_size=56.5", TinyMolmo2Config, where="spec")


def _world(tmp_path: Path) -> Path:
    (tmp_path / "w" / "web").mkdir(parents=True)
    (tmp_path / "w" / "actions.csv").write_text("x")
    (tmp_path / "w" / "web" / "manifest.csv").write_text("x")
    return tmp_path / "w"


def _settings(*argv: str) -> BuildConfig:
    args = cli.build_parser().parse_args(["build-train", *argv])
    return build_config(args)


def test_build_settings_from_yaml_and_flags(tmp_path: Path) -> None:
    world = _world(tmp_path)
    cfg = tmp_path / "build.yaml"
    cfg.write_text("T: 2.5\nseed: 4\nasr:\n  model: small\n  beam_size: 2\nbalance:\n  max_per_action: 7\n")
    s = _settings(str(world), "--out", str(tmp_path / "o"), "--config", str(cfg), "--asr-beam-size", "3")
    assert (s.T, s.seed, s.asr.model, s.asr.beam_size) == (2.5, 4, "small", 3)  # the flag wins
    assert (s.balance.max_per_action, s.balance.seed) == (7, 4)  # one seed for labels and balance
    assert s.manifest == world / "web" / "manifest.csv" and s.localizer == "proposals"
    # The same settings written out load back to the same object.
    assert config_from_dict(BuildConfig, config_to_dict(s), "again") == s
    cfg.write_text("asr:\n  modle: small\n")
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['modle'\]"):
        _settings(str(world), "--out", str(tmp_path / "o"), "--config", str(cfg))


def test_flags_are_the_dataclass_fields_and_defaults_live_in_one_place() -> None:
    parser = argparse.ArgumentParser()
    add_flags(parser, BuildConfig)
    assert flag_values(parser.parse_args([]), BuildConfig) == {}
    given = flag_values(
        parser.parse_args(["--no-asr-vad", "--T", "0.5", "--vlm-url", "http://x"]), BuildConfig
    )
    assert given == {"asr": {"vad_filter": False}, "T": 0.5, "vlm": {"base_url": "http://x"}}
    with pytest.raises(ConfigError, match="--shard-size: shard_size: 'many'"):
        flag_values(parser.parse_args(["--shard-size", "many"]), BuildConfig)
