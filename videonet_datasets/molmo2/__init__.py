"""Molmo2 support shared by the lmms-eval model, the fine-tuning recipe and the demo.

* :mod:`.tiny` - a tiny random ``Molmo2ForConditionalGeneration`` + real processor, built
  offline and saved so ``Auto*.from_pretrained`` reloads it (tests, CPU demo).
* :mod:`.inputs` - clips decoded by the project's sampler -> processor inputs with
  per-frame timestamps; generation prompts; training examples with answer-only labels;
  the batch collator.
* :mod:`.packing` - the 3 QA pairs of a clip in one sequence with the paper's mask.
* :mod:`.loss` - answer-only cross-entropy without full-vocabulary logits.
* :mod:`.params` - ViT / connector / LLM parameter groups.
* :mod:`.diagnostics` - is the visual pathway alive (feature scale, pixel sensitivity,
  per-component gradient norms)?

Needs the ``train`` or ``eval`` extra (torch, torchvision, transformers>=5.23).
"""

from .diagnostics import (
    VisualPathway,
    component_grad_norms,
    pixel_sensitivity,
    probe_visual_pathway,
    visual_feature_scale,
)
from .inputs import (
    IGNORE_INDEX,
    collate_examples,
    concat_videos,
    encode_prompt,
    encode_training_example,
    frames_metadata,
    render_prompt,
    sample_clip,
    video_messages,
)
from .loss import AnswerLoss, answer_loss, answer_positions, model_inputs
from .packing import (
    collate_packed,
    encode_packed_clip,
    encode_video_prefix,
    pack_segments,
    packed_attention_mask,
    prompt_text_ids,
)
from .params import COMPONENTS, component_of, param_groups, parameters_by_component
from .synthetic import moving_square_frames, write_moving_square_clip
from .tiny import INIT_MODES, TinyMolmo2, TinyMolmo2Config, build_tiny_molmo2, make_tiny_molmo2
from .tokenizer import CHAT_TEMPLATE, MOLMO2_EXTRA_TOKENS, build_tokenizer

__all__ = [
    "CHAT_TEMPLATE",
    "COMPONENTS",
    "IGNORE_INDEX",
    "INIT_MODES",
    "MOLMO2_EXTRA_TOKENS",
    "AnswerLoss",
    "TinyMolmo2",
    "TinyMolmo2Config",
    "VisualPathway",
    "answer_loss",
    "answer_positions",
    "build_tiny_molmo2",
    "build_tokenizer",
    "collate_examples",
    "collate_packed",
    "component_grad_norms",
    "component_of",
    "concat_videos",
    "encode_packed_clip",
    "encode_prompt",
    "encode_training_example",
    "encode_video_prefix",
    "frames_metadata",
    "make_tiny_molmo2",
    "model_inputs",
    "moving_square_frames",
    "pack_segments",
    "packed_attention_mask",
    "param_groups",
    "parameters_by_component",
    "pixel_sensitivity",
    "probe_visual_pathway",
    "prompt_text_ids",
    "render_prompt",
    "sample_clip",
    "video_messages",
    "visual_feature_scale",
    "write_moving_square_clip",
]
