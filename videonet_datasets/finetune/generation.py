"""Generation backends for GRPO's sampling: transformers ``generate`` (default) and vLLM (GPUs).

Both take :class:`~.rollout.GenContext` s - a video prefix (BOS + the clip's video tokens, as the
packed training rows start) and the ids after it - and return :class:`~.rollout.Completion` s:
the sampled ids, their text, and why each ended.  After every optimizer step the trainer calls
``sync(model)`` so the next round samples from the current policy.

* :class:`TransformersGenerator` runs the policy itself: left-padded batches of
  ``generation_batch_size`` rows (each question's prompt repeated ``n`` times: Molmo2's video
  tensors are concatenated per row, so ``num_return_sequences`` would mis-index a batch of several
  videos), ``do_sample`` at the run's temperature / top-p / top-k, stopping at ``<|im_end|>`` or a
  stop string (``</tool>``).  Works on a CPU, one GPU, DDP and DeepSpeed ZeRO-2; not with
  parameters sharded over processes (FSDP, ZeRO-3), whose forward passes must stay in lock-step.
* :class:`VLLMGenerator` runs a colocated ``vllm.LLM`` on each process's GPU (TRL's "colocate"
  mode: ``distributed_executor_backend="external_launcher"``), sends each prompt as token ids with
  the clip's decoded frames and their timestamps (``do_sample_frames=False``: the project's
  sampler, not vLLM's, picks the frames), asks ``n`` samples per prompt (prefix caching shares the
  video), and after each step loads the policy's weights into the engine under the checkpoint's
  key names (transformers' ``revert_weight_conversion``; LoRA adapters merged for the copy).  Not
  run on this CPU-only machine: the tests drive it against a stand-in of the ``vllm`` API.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from videonet_datasets.molmo2 import collate_examples, frames_metadata
from videonet_datasets.molmo2.inputs import VIDEO_KEYS, im_end_id

from .rollout import Completion, GenContext

log = logging.getLogger(__name__)

__all__ = [
    "SamplingSettings",
    "TransformersGenerator",
    "VLLMGenerator",
    "cut_completion",
    "policy_state_for_vllm",
]


@dataclasses.dataclass(frozen=True)
class SamplingSettings:
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 512


def cut_completion(
    ids: Sequence[int], eos_ids: set[int], stop: Sequence[str], decode
) -> tuple[list[int], str]:
    """A generated row without what follows its end: up to the first end-of-turn id (kept), else up to
    the token that completes a stop string (kept), else all of it (cut at the length limit)."""
    ids = list(ids)
    for i, token in enumerate(ids):
        if token in eos_ids:
            return ids[: i + 1], "eos"
    if stop and any(s in decode(ids) for s in stop):
        lo, hi = 1, len(ids)  # the shortest prefix whose text holds a stop string
        while lo < hi:
            mid = (lo + hi) // 2
            if any(s in decode(ids[:mid]) for s in stop):
                hi = mid
            else:
                lo = mid + 1
        return ids[:lo], "stop"
    return ids, "length"


class TransformersGenerator:
    """Sampling with the policy's own ``generate`` (see the module docstring)."""

    def __init__(
        self, processor: Any, settings: SamplingSettings, *, batch_rows: int = 16, device=None
    ) -> None:
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.settings = settings
        self.batch_rows = batch_rows
        self.device = device
        self.model: nn.Module | None = None

    def sync(self, model: nn.Module) -> None:
        """Sample from ``model`` (the unwrapped policy; nothing is copied)."""
        self.model = model

    def _example(self, context: GenContext) -> dict[str, torch.Tensor]:
        prefix = context.video.prefix
        ids = torch.tensor(context.ids, dtype=prefix["input_ids"].dtype)
        example = {
            "input_ids": torch.cat([prefix["input_ids"][0], ids]),
            "mm_token_type_ids": torch.cat(
                [prefix["mm_token_type_ids"][0].long(), torch.zeros(len(ids), dtype=torch.long)]
            ),
        }
        example["attention_mask"] = torch.ones_like(example["input_ids"])
        for key in VIDEO_KEYS:
            example[key] = prefix[key]
        return example

    def eos_ids(self) -> set[int]:
        ids = {im_end_id(self.tokenizer)}
        configured = getattr(getattr(self.model, "generation_config", None), "eos_token_id", None)
        if configured is not None:
            ids |= set(configured if isinstance(configured, (list, tuple)) else [configured])
        return ids

    @torch.no_grad()
    def generate(self, contexts: Sequence[GenContext], n: int, stop: Sequence[str]) -> list[list[Completion]]:
        if self.model is None:
            raise RuntimeError("TransformersGenerator.sync(model) was never called")
        model, s = self.model, self.settings
        dtype = next(model.parameters()).dtype
        device = self.device or next(model.parameters()).device
        rows = [i for i in range(len(contexts)) for _ in range(n)]
        out: list[list[Completion]] = [[] for _ in contexts]
        eos = self.eos_ids()

        def decode(ids: Sequence[int]) -> str:
            return self.tokenizer.decode(ids, skip_special_tokens=True)

        for start in range(0, len(rows), self.batch_rows):
            chunk = rows[start : start + self.batch_rows]
            examples = [self._example(contexts[i]) for i in chunk]
            batch = collate_examples(examples, self.tokenizer.pad_token_id, padding_side="left")
            batch = {k: v.to(device) for k, v in batch.items()}
            batch["pixel_values_videos"] = batch["pixel_values_videos"].to(dtype)
            generated = model.generate(
                **batch, do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k,
                max_new_tokens=s.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id, eos_token_id=sorted(eos),
                use_cache=True, stop_strings=list(stop) or None, tokenizer=self.tokenizer if stop else None,
            )  # fmt: skip
            width = batch["input_ids"].shape[1]
            for i, row in zip(chunk, generated[:, width:].tolist()):
                ids, finish = cut_completion(row, eos, stop, decode)
                out[i].append(Completion(ids, decode(ids), finish))
        return out


# ---------------------------------------------------------------------------- vLLM


def _full(tensor: torch.Tensor) -> torch.Tensor:
    """A DTensor (FSDP2) gathered to a full tensor; a plain tensor as is."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def policy_state_for_vllm(model: nn.Module) -> dict[str, torch.Tensor]:
    """The policy's weights under the checkpoint's key names (what ``save_pretrained`` writes and
    vLLM's ``load_weights`` reads).  For a PEFT model call it with the adapters merged
    (:meth:`VLLMGenerator.sync` does); LoRA factors and PEFT's bookkeeping copies are left out."""
    from transformers.core_model_loading import revert_weight_conversion

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    state: dict[str, torch.Tensor] = {}
    for name, param in base.named_parameters():
        if "lora_" in name or ".original_module." in name:
            continue
        clean = name.replace(".base_layer", "").replace(".modules_to_save.default", "")
        state[clean] = _full(param.detach())
    return dict(revert_weight_conversion(base, state))


class VLLMGenerator:
    """A colocated vLLM engine per process (see the module docstring)."""

    def __init__(
        self,
        model_path: str,
        processor: Any,
        settings: SamplingSettings,
        *,
        process_index: int = 0,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.3,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        dtype: str = "auto",
    ) -> None:
        try:
            import vllm
        except ImportError as e:
            raise ImportError(
                "generation_backend=vllm needs vLLM on a GPU machine (pip install vllm, in an environment "
                "with its torch); or use generation_backend=transformers"
            ) from e
        self.vllm = vllm
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.settings = settings
        self.llm = vllm.LLM(
            model=str(model_path), tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization, max_model_len=max_model_len,
            enable_prefix_caching=enable_prefix_caching, distributed_executor_backend="external_launcher",
            seed=process_index // tensor_parallel_size, limit_mm_per_prompt={"video": 1}, dtype=dtype,
        )  # fmt: skip
        bos = self.tokenizer.bos_token or ""
        # The unexpanded prompt starts like the rendered chat template: [BOS] <|video|>; vLLM expands it.
        self.prefix_ids = list(
            self.tokenizer(bos + processor.video_token, add_special_tokens=False)["input_ids"]
        )

    def request(self, context: GenContext) -> dict[str, Any]:
        """One vLLM prompt: token ids with the video placeholder, the frames and their timestamps."""
        frames = context.video.frames
        metadata = dataclasses.asdict(frames_metadata(frames))
        return {
            "prompt_token_ids": self.prefix_ids + list(context.ids),
            "multi_modal_data": {"video": [(frames.frames, metadata)]},
            "mm_processor_kwargs": {"do_sample_frames": False},
        }

    def sampling_params(self, n: int, stop: Sequence[str]):
        s = self.settings
        return self.vllm.SamplingParams(
            n=n, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k if s.top_k > 0 else -1,
            max_tokens=s.max_new_tokens, stop=list(stop) or None, include_stop_str_in_output=True,
        )  # fmt: skip

    def generate(self, contexts: Sequence[GenContext], n: int, stop: Sequence[str]) -> list[list[Completion]]:
        outputs = self.llm.generate(
            [self.request(c) for c in contexts], self.sampling_params(n, stop), use_tqdm=False
        )
        result = []
        for output in outputs:
            completions = []
            for o in output.outputs:
                if o.finish_reason == "length":
                    finish = "length"
                elif isinstance(o.stop_reason, str):
                    finish = "stop"
                else:
                    finish = "eos"
                ids = list(o.token_ids)
                completions.append(
                    Completion(ids, self.tokenizer.decode(ids, skip_special_tokens=True), finish)
                )
            result.append(completions)
        return result

    def engine_model(self) -> nn.Module:
        """The model inside the colocated engine (vLLM's V1 worker wraps the runner; V0 did not)."""
        worker = self.llm.llm_engine.model_executor.driver_worker
        worker = getattr(worker, "worker", worker)
        try:
            return worker.model_runner.model
        except AttributeError:
            raise RuntimeError(
                "cannot reach the model inside this vLLM version's engine (llm_engine.model_executor."
                "driver_worker[.worker].model_runner.model) to load the policy's weights"
            ) from None

    def sync(self, model: nn.Module) -> None:
        """Load the policy's current weights into the engine (LoRA: merged for the copy, then unmerged)."""
        peft = hasattr(model, "merge_adapter") and hasattr(model, "peft_config")
        if peft:
            model.merge_adapter()
        try:  # loaded while merged: the state's tensors are views of the live weights
            state = policy_state_for_vllm(model)
            self.engine_model().load_weights(list(state.items()))
        finally:
            if peft:
                model.unmerge_adapter()
        self.llm.reset_prefix_cache()
        log.debug("synced %d tensors into vLLM", len(state))
