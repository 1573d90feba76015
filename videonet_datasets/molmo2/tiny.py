"""A tiny, randomly initialised ``Molmo2ForConditionalGeneration`` built entirely offline.

Tests, the fine-tuning recipe's CPU runs, the lmms-eval model's end-to-end check and
``make demo`` all need a *real* Molmo2 (the transformers classes, processor and file
layout of ``allenai/Molmo2-4B``) that fits in a few hundred kilobytes and runs a training
step in well under a second on a CPU.  :func:`build_tiny_molmo2` makes one and saves it
so that ``AutoProcessor.from_pretrained(dir)`` and
``AutoModelForImageTextToText.from_pretrained(dir)`` reload it with ``HF_HUB_OFFLINE=1``.

Two things differ from "just instantiate the config":

* **Initialisation.**  With transformers' default init (normal, std 0.02 everywhere) the
  ViT and the adapter multiply the signal by ~0.02*sqrt(fan_in) per linear layer, so the
  video features reaching the LLM are ~3e-8 against token embeddings of ~2e-2: the
  model's output does not depend on the pixels and the ViT's gradients are ~1e-7 (measured
  with :func:`videonet_datasets.molmo2.diagnostics.probe_visual_pathway`).  ``init="fan_in"`` (the default) re-draws every linear layer
  from N(0, 1/fan_in) (variance-preserving): video features of order 1, vision gradients
  of order 1, and a tiny LLM whose attention actually carries the video to the answer
  (with the 0.02 init its value/output projections damp it ~40x per layer).
  ``"visual_fan_in"`` re-draws only the ViT and the adapter; ``"hf"`` keeps transformers'
  init (the "blind" model, useful to test that diagnostics catch it).
* **Embedding scale** (``embed_std``, off by default).  ``fan_in`` leaves the two
  embedding *tables* at std 0.02 while the features around them are of order 1: the ViT's
  position embeddings are ~2% of a patch token (where the actor is in the frame is nearly
  invisible to the pooled video tokens) and the LLM's token embeddings are ~2% of the
  video features (the question's words are washed out by the first attention layer).
  ``embed_std=1.0`` re-draws both tables from N(0, 1); with it (and ViT/connector learning
  rates of 1e-3) a tiny model learns still-image and motion questions that stay at chance
  without it (``docs/demo_experiments.md``).  ``make demo`` and the CPU recipe configs use it.
* **Processor settings.**  ``Molmo2VideoProcessor`` leaves ``do_rescale`` and
  ``do_normalize`` unset by default, which feeds raw 0-255 bytes to the ViT; they are
  set explicitly here (and ``inputs.py`` passes them when a loaded processor lacks them).
  Frames are taken at the paper's 4 fps, max 64 frames (the class default is 2 fps).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from transformers import (
    GenerationConfig,
    Molmo2AdapterConfig,
    Molmo2Config,
    Molmo2ForConditionalGeneration,
    Molmo2ImageProcessor,
    Molmo2Processor,
    Molmo2TextConfig,
    Molmo2VideoProcessor,
    Molmo2VisionConfig,
)

from .tokenizer import CHAT_TEMPLATE, build_tokenizer

__all__ = [
    "INIT_MODES",
    "TinyMolmo2",
    "TinyMolmo2Config",
    "build_tiny_molmo2",
    "make_tiny_molmo2",
    "make_tiny_processor",
    "reinit_linear_layers",
]

#: ``init`` choices of :func:`make_tiny_molmo2`.
INIT_MODES = ("fan_in", "visual_fan_in", "hf")
# SigLIP normalisation, as in the hub's preprocessor_config.json.
_SIGLIP_MEAN = [0.5, 0.5, 0.5]
_SIGLIP_STD = [0.5, 0.5, 0.5]


@dataclass(frozen=True)
class TinyMolmo2Config:
    """Sizes of a tiny Molmo2.  Defaults: ~0.3M parameters, 56 px frames of 16 patches
    pooled 2x2 into 4 LLM tokens (Molmo2-4B: 378 px, 729 patches pooled 3x3 into 81)."""

    vocab_size: int = 512  # text vocabulary (lm_head rows); Molmo2 tokens follow it
    additional_vocab_size: int = 128  # embedding rows beyond vocab_size, as on the hub
    text_hidden_size: int = 64
    text_layers: int = 2
    text_heads: int = 4
    text_kv_heads: int = 2
    text_intermediate_size: int = 128
    max_position_embeddings: int = 8192
    rope_theta: float = 10000.0
    vit_hidden_size: int = 64
    vit_layers: int = 2
    vit_heads: int = 4
    vit_intermediate_size: int = 128
    vision_feature_layers: tuple[int, ...] = (-1, -2)  # the hub: 3rd-to-last and 9th-from-last
    adapter_intermediate_size: int = 128
    image_size: int = 56  # square frames, like the hub's 378
    patch_size: int = 14
    video_pooling: int = 2  # the hub pools video patches 3x3
    image_pooling: int = 2  # and image patches 2x2
    max_crops: int = 2
    num_frames: int = 64  # the paper: 4 fps, at most 64 frames
    max_fps: float = 4.0

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"image_size ({self.image_size}) must be a multiple of patch_size ({self.patch_size})"
            )
        for name, heads in (("text", self.text_heads), ("vit", self.vit_heads)):
            hidden = getattr(self, f"{name}_hidden_size")
            if hidden % heads:
                raise ValueError(f"{name}_hidden_size ({hidden}) must be divisible by {name}_heads ({heads})")
        if self.text_heads % self.text_kv_heads:
            raise ValueError(f"text_heads ({self.text_heads}) must be a multiple of text_kv_heads")
        bad = [k for k in self.vision_feature_layers if not -self.vit_layers <= k < self.vit_layers]
        if bad:
            raise ValueError(f"vision_feature_layers {bad} outside the {self.vit_layers}-layer ViT")


@dataclass(frozen=True)
class TinyMolmo2:
    """What :func:`build_tiny_molmo2` wrote."""

    path: Path
    spec: TinyMolmo2Config
    seed: int
    init: str
    num_parameters: int
    build_seconds: float
    embed_std: float | None = None


def make_tiny_processor(spec: TinyMolmo2Config, extra_corpus: Iterable[str] = ()) -> Molmo2Processor:
    """The real ``Molmo2Processor`` around the tiny tokenizer, at the spec's frame size."""
    tokenizer = build_tokenizer(spec.vocab_size, extra_corpus=extra_corpus)
    tokenizer.chat_template = CHAT_TEMPLATE
    size = {"height": spec.image_size, "width": spec.image_size}
    common = dict(
        size=size,
        patch_size=spec.patch_size,
        image_mean=_SIGLIP_MEAN,
        image_std=_SIGLIP_STD,
        do_resize=True,
        do_rescale=True,
        do_normalize=True,
        do_convert_rgb=True,
    )
    image_processor = Molmo2ImageProcessor(
        **common,
        pooling_size=[spec.image_pooling, spec.image_pooling],
        max_crops=spec.max_crops,
        overlap_margins=[1, 1],
    )
    video_processor = Molmo2VideoProcessor(
        **common,
        pooling_size=[spec.video_pooling, spec.video_pooling],
        num_frames=spec.num_frames,
        max_fps=spec.max_fps,
        do_sample_frames=True,
    )
    return Molmo2Processor(
        image_processor=image_processor,
        video_processor=video_processor,
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def _model_config(spec: TinyMolmo2Config, tokenizer) -> Molmo2Config:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ("<im_start>", "<low_res_im_start>", "<im_end>",
                                                          "<im_patch>", "<frame_start>", "<frame_end>")}  # fmt: skip
    text = Molmo2TextConfig(
        vocab_size=spec.vocab_size,
        additional_vocab_size=spec.additional_vocab_size,
        hidden_size=spec.text_hidden_size,
        num_hidden_layers=spec.text_layers,
        num_attention_heads=spec.text_heads,
        num_key_value_heads=spec.text_kv_heads,
        head_dim=spec.text_hidden_size // spec.text_heads,
        intermediate_size=spec.text_intermediate_size,
        max_position_embeddings=spec.max_position_embeddings,
        rope_parameters={"rope_type": "default", "rope_theta": spec.rope_theta},
    )
    vision = Molmo2VisionConfig(
        hidden_size=spec.vit_hidden_size,
        intermediate_size=spec.vit_intermediate_size,
        num_hidden_layers=spec.vit_layers,
        num_attention_heads=spec.vit_heads,
        num_key_value_heads=spec.vit_heads,
        head_dim=spec.vit_hidden_size // spec.vit_heads,
        image_size=[spec.image_size, spec.image_size],
        patch_size=spec.patch_size,
    )
    adapter = Molmo2AdapterConfig(
        vision_feature_layer=list(spec.vision_feature_layers),
        hidden_size=spec.vit_hidden_size,
        num_attention_heads=spec.vit_heads,
        num_key_value_heads=spec.vit_heads,
        head_dim=spec.vit_hidden_size // spec.vit_heads,
        intermediate_size=spec.adapter_intermediate_size,
        text_hidden_size=spec.text_hidden_size,
    )
    return Molmo2Config(
        vision_config=vision,
        adapter_config=adapter,
        text_config=text,
        image_start_token_id=ids["<im_start>"],
        low_res_image_start_token_id=ids["<low_res_im_start>"],
        image_end_token_id=ids["<im_end>"],
        image_patch_id=ids["<im_patch>"],
        frame_start_token_id=ids["<frame_start>"],
        frame_end_token_id=ids["<frame_end>"],
    )


def reinit_linear_layers(module: nn.Module, generator: torch.Generator | None = None) -> int:
    """Re-draw every ``nn.Linear`` under ``module`` from N(0, 1/fan_in), biases 0.

    Variance-preserving, so a stack of layers neither shrinks nor blows up the signal (the
    0.02 default shrinks it ~10x per layer at these widths).  Returns the number of layers.
    """
    count = 0
    with torch.no_grad():
        for layer in module.modules():
            if isinstance(layer, nn.Linear):
                layer.weight.normal_(0.0, 1.0 / math.sqrt(layer.in_features), generator=generator)
                if layer.bias is not None:
                    layer.bias.zero_()
                count += 1
    return count


def _rescale_embeddings(
    model: Molmo2ForConditionalGeneration, std: float, generator: torch.Generator | None = None
) -> None:
    """Re-draw the LLM's token embeddings and the ViT's position embeddings from N(0, ``std``)
    (see "Embedding scale" in the module docstring)."""
    if not std > 0:
        raise ValueError(f"embed_std must be > 0, got {std}")
    inner = model.model
    with torch.no_grad():
        for table in (inner.language_model.embed_tokens.weight, inner.vision_tower.positional_embedding):
            table.copy_(torch.randn(table.shape, generator=generator) * std)


def make_tiny_molmo2(
    spec: TinyMolmo2Config | None = None,
    *,
    seed: int = 0,
    extra_corpus: Iterable[str] = (),
    init: str = "fan_in",
    embed_std: float | None = None,
) -> tuple[Molmo2ForConditionalGeneration, Molmo2Processor]:
    """Build the tiny model and processor in memory (deterministic for ``seed``; the
    caller's global RNG state is left untouched).  ``init`` and ``embed_std`` (None = keep
    transformers' 0.02 embedding tables): see the module docstring."""
    if init not in INIT_MODES:
        raise ValueError(f"init must be one of {INIT_MODES}, got {init!r}")
    if embed_std is not None and not embed_std > 0:
        raise ValueError(f"embed_std must be > 0 or None, got {embed_std}")
    spec = spec or TinyMolmo2Config()
    processor = make_tiny_processor(spec, extra_corpus)
    tokenizer = processor.tokenizer
    config = _model_config(spec, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Molmo2ForConditionalGeneration(config)
        generator = torch.Generator().manual_seed(seed + 1)
        if init != "hf":
            reinit_linear_layers(model.model.vision_tower, generator)
            reinit_linear_layers(model.model.multi_modal_projector, generator)
        if init == "fan_in":
            reinit_linear_layers(model.model.language_model, generator)
            reinit_linear_layers(model.lm_head, generator)
        if embed_std is not None:
            _rescale_embeddings(model, embed_std, torch.Generator().manual_seed(seed + 7))
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.eval()
    return model, processor


def build_tiny_molmo2(
    out_dir: str | Path,
    *,
    seed: int = 0,
    spec: TinyMolmo2Config | None = None,
    extra_corpus: Iterable[str] = (),
    init: str = "fan_in",
    embed_std: float | None = None,
    **sizes: object,
) -> TinyMolmo2:
    """Build a tiny Molmo2 offline and ``save_pretrained`` model + processor to ``out_dir``.

    Sizes come from ``spec`` with any :class:`TinyMolmo2Config` field overridden by keyword
    (``build_tiny_molmo2(d, text_layers=4, image_size=112)``).  ``extra_corpus`` adds text
    (e.g. the action names of a dataset) to the tokenizer's training corpus so that it
    encodes them compactly.  ``embed_std``: see :func:`make_tiny_molmo2`.  The directory is
    written in place (``save_pretrained`` overwrites its own files).
    """
    fields = {f.name for f in dataclasses.fields(TinyMolmo2Config)}
    unknown = sorted(set(sizes) - fields)
    if unknown:
        raise TypeError(f"unknown size argument(s) {unknown}; valid: {sorted(fields)}")
    spec = dataclasses.replace(spec or TinyMolmo2Config(), **sizes)  # type: ignore[arg-type]
    t0 = time.perf_counter()
    model, processor = make_tiny_molmo2(
        spec, seed=seed, extra_corpus=extra_corpus, init=init, embed_std=embed_std
    )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return TinyMolmo2(
        path=out,
        spec=spec,
        seed=seed,
        init=init,
        num_parameters=sum(p.numel() for p in model.parameters()),
        build_seconds=time.perf_counter() - t0,
        embed_std=embed_std,
    )
