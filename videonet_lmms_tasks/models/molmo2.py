"""``videonet_molmo2``: transformers' native ``Molmo2ForConditionalGeneration`` for lmms-eval.

lmms-eval 0.7.3 has no Molmo2 model.  This one evaluates base Molmo2-4B/8B and fine-tuned
checkpoints the way the paper did: each clip is decoded by the project's sampler
(:func:`videonet_datasets.video.sample_frames`) at 4 fps with at most 64 frames (64 uniformly
when the clip is longer than 16 s), and the processor gets the decoded frames with their
timestamps (``videonet_datasets.molmo2.inputs``), which it writes as text before each frame.

Sampling, in order of precedence: the ``fps`` / ``max_frames`` / ``num_frames`` model
arguments; else the hints the task puts on the video item (the ``molmo2`` preset:
4 fps, max 64; ``VIDEONET_PRESET`` changes them for the paper's fps ablation); else 4 / 64.
The middle-frame ablation arrives as one image and is given to Molmo2 as an image.

**One video per question.**  Molmo2 takes at most one video per sample, and the paper
reports no few-shot results for it.  k-shot questions (k >= 1) carry k + 1 clips, so this
model *refuses* them: before generating anything it lists the tasks whose questions have
more than one clip or image, and raises.  Run ``videonet_mc``, ``videonet_binary_hard_0shot``,
``videonet_binary_random_0shot`` and the 0-shot ablations with it.

Model arguments: ``pretrained`` (a local directory or Hub id), ``device`` (default: cuda if
available), ``dtype`` (default bfloat16 on GPU, float32 on CPU), ``batch_size`` (default 1),
``fps``, ``max_frames``, ``num_frames``, ``max_new_tokens`` (a cap on the task's value),
``attn_implementation``, ``prefetch_workers`` (processes decoding the next clips while the
model answers; default 1, 0 = none), ``prefetch_lookahead`` (clips decoded ahead, default 8) and
``order`` (``locality``, the default: each clip's questions answered together, see
:mod:`videonet_datasets.feed_order`; ``given``: lmms-eval's order; replies come back in
lmms-eval's order either way).
With ``accelerate launch`` each process takes its share of the
questions on its own GPU.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from tqdm import tqdm

from videonet_datasets.feed_order import ORDERS, answer_order, restore_order
from videonet_datasets.frame_cache import FrameCache, cached_sample_frames, default_cache
from videonet_datasets.molmo2.inputs import collate_examples, encode_prompt, processor_frame_size
from videonet_datasets.prefetch import Prefetcher
from videonet_lmms_tasks.tasks.videonet.utils import doc_clip_paths

log = logging.getLogger(__name__)

__all__ = ["Molmo2"]

PAPER_FPS = 4.0
PAPER_MAX_FRAMES = 64


def _opt_float(value: Any) -> float | None:
    return None if value in (None, "", "None", "none") else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value in (None, "", "None", "none") else int(value)


class Molmo2(lmms):
    """Molmo2 (native transformers classes) with the paper's frame sampling."""

    is_simple = False

    def __init__(
        self,
        pretrained: str,
        device: str | None = None,
        dtype: str | None = None,
        batch_size: int | str = 1,
        fps: float | str | None = None,
        max_frames: int | str | None = None,
        num_frames: int | str | None = None,
        max_new_tokens: int | str | None = None,
        attn_implementation: str | None = None,
        prefetch_workers: int | str | None = None,
        prefetch_lookahead: int | str | None = None,
        order: str = "locality",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if order not in ORDERS:
            raise ValueError(f"videonet_molmo2: order={order!r}; choose from {', '.join(ORDERS)}")
        self.order = order
        from transformers import AutoModelForImageTextToText, AutoProcessor

        ignored = {k: v for k, v in kwargs.items() if v is not None and k not in ("max_batch_size",)}
        if ignored:
            log.warning("videonet_molmo2: ignoring unknown model arguments %s", ignored)
        self.fps = _opt_float(fps)
        self.max_frames = _opt_int(max_frames)
        self.num_frames = _opt_int(num_frames)
        if self.num_frames is not None and (self.fps is not None or self.max_frames is not None):
            raise ValueError("videonet_molmo2: give fps (and max_frames) or num_frames, not both")
        self.max_new_tokens_cap = _opt_int(max_new_tokens)
        # Clips are decoded in worker processes while the model answers (1 worker by default:
        # decoding a clip costs about what Molmo2-4B needs to answer on a GPU).
        workers = _opt_int(prefetch_workers)
        self.prefetch_workers = 1 if workers is None else max(0, workers)
        self.prefetch_lookahead = max(1, _opt_int(prefetch_lookahead) or 8)
        if str(batch_size).isdigit():
            self.batch_size_per_gpu = max(1, int(batch_size))
        else:  # lmms-eval's "auto" (or anything else): one question at a time
            log.warning("videonet_molmo2: batch_size=%r is not a number; using 1", batch_size)
            self.batch_size_per_gpu = 1

        self.accelerator = None
        try:
            from accelerate import Accelerator

            accelerator = Accelerator()
            if accelerator.num_processes > 1:
                self.accelerator = accelerator
                self._rank = accelerator.process_index
                self._world_size = accelerator.num_processes
        except Exception:  # accelerate missing or not configured: single process
            pass
        if self.accelerator is not None:
            self.device = self.accelerator.device
        else:
            self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        if dtype in (None, "", "auto"):
            torch_dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        else:
            torch_dtype = getattr(torch, str(dtype))
        load_kwargs: dict[str, Any] = {"dtype": torch_dtype}
        if attn_implementation:
            load_kwargs["attn_implementation"] = attn_implementation
        self.processor = AutoProcessor.from_pretrained(pretrained)
        self.model = (
            AutoModelForImageTextToText.from_pretrained(pretrained, **load_kwargs).to(self.device).eval()
        )
        self.tokenizer = self.processor.tokenizer
        self.frame_size = processor_frame_size(self.processor)
        self.pretrained = pretrained

    @property
    def rank(self) -> int:
        return self._rank

    @property
    def world_size(self) -> int:
        return self._world_size

    # ------------------------------------------------------------------ inputs

    def _rule(self, item: Mapping[str, Any]) -> dict[str, Any]:
        """How to sample this clip: model arguments, else the task's hints, else the paper's 4 fps / 64."""
        if self.num_frames is not None:
            return {"num_frames": self.num_frames}
        if self.fps is not None or self.max_frames is not None:
            return {"fps": self.fps or PAPER_FPS, "max_frames": self.max_frames or PAPER_MAX_FRAMES}
        if item.get("num_frames"):
            return {"num_frames": int(item["num_frames"])}
        if item.get("fps"):
            rule = {"fps": float(item["fps"])}
            if item.get("max_frames"):
                rule["max_frames"] = int(item["max_frames"])
            return rule
        return {"fps": PAPER_FPS, "max_frames": PAPER_MAX_FRAMES}

    @staticmethod
    def _visuals(messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [c for m in messages for c in m["content"] if c.get("type") in ("video", "image")]

    def _clip_input(self, messages: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]] | None:
        """The clip this question decodes and how (None for text or an image)."""
        visuals = self._visuals(messages)
        if not visuals or visuals[0]["type"] != "video":
            return None
        return str(visuals[0]["url"]), {"size": self.frame_size, **self._rule(visuals[0])}

    def _encode(self, messages: Sequence[Mapping[str, Any]], prefetcher: Prefetcher | None = None):
        visuals = self._visuals(messages)
        turns = [
            {
                "role": m["role"],
                "content": [
                    {"type": c["type"]}
                    if c["type"] in ("video", "image")
                    else {"type": "text", "text": c["text"]}
                    for c in m["content"]
                ],
            }
            for m in messages
        ]
        if not visuals:
            return encode_prompt(self.processor, turns, None)
        item = visuals[0]
        if item["type"] == "image":
            prompt = self.processor.apply_chat_template(turns, tokenize=False, add_generation_prompt=True)
            return self.processor(text=[prompt], images=[item["url"].convert("RGB")], return_tensors="pt")
        clip = self._clip_input(messages)
        assert clip is not None
        frames = (prefetcher.frames if prefetcher else cached_sample_frames)(clip[0], **clip[1])
        return encode_prompt(self.processor, turns, frames)

    def _check_single_visual(self, plan: list[tuple[Any, ...]]) -> None:
        too_many: dict[str, list[int]] = {}
        for _req, messages, _gen, task, _qid in plan:
            n = len(self._visuals(messages))
            if n > 1:
                too_many.setdefault(task, []).append(n)
        if too_many:
            detail = "; ".join(
                f"{t}: {len(ns)} questions with {max(ns)} clips/images" for t, ns in too_many.items()
            )
            raise ValueError(
                "videonet_molmo2 takes one video per question (Molmo2 accepts at most one video per sample; "
                f"the paper reports no k-shot results for it). Refused: {detail}. Run the MC and 0-shot tasks "
                "with Molmo2, or the k-shot tasks on a multi-video backend. (A frames preset such as "
                "VIDEONET_PRESET=api also sends several images; use the default video preset.)"
            )

    # ------------------------------------------------------------------ lmms API

    def _generation_kwargs(self, gen: Mapping[str, Any]) -> dict[str, Any]:
        max_new = int(gen.get("max_new_tokens") or 1024)
        if self.max_new_tokens_cap is not None:
            max_new = min(max_new, self.max_new_tokens_cap)
        temperature = float(gen.get("temperature") or 0.0)
        out: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
        if temperature > 0:
            out["temperature"] = temperature
            if gen.get("top_p") is not None:
                out["top_p"] = float(gen["top_p"])
        out["pad_token_id"] = self.tokenizer.pad_token_id
        return out

    @torch.inference_mode()
    def generate_until(self, requests: list[Instance]) -> list[str]:
        plan = []
        docs = []
        for request in requests:
            _ctx, doc_to_messages, gen_kwargs, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            plan.append(
                (request, doc_to_messages(doc), gen_kwargs or {}, task, doc.get("question_id", doc_id))
            )
            docs.append(doc)
        self._check_single_visual(plan)
        # answer each clip's questions together (MC and the 0-shot tasks share clips), so a clip
        # is decoded once even when the frame cache cannot hold the whole run; lmms-eval's order back
        order = answer_order([doc_clip_paths(doc) for doc in docs], self.order)
        plan = [plan[i] for i in order]

        clips = [c for _req, messages, *_ in plan if (c := self._clip_input(messages)) is not None]
        cache = default_cache() or FrameCache(memory_bytes=0)  # --no-frame-cache: nothing kept
        with Prefetcher(cache, clips, self.prefetch_workers, self.prefetch_lookahead) as prefetcher:
            replies = restore_order(order, self._answer(plan, prefetcher))
        if prefetcher.prefetched or prefetcher.retried:
            log.info(
                "videonet_molmo2: %d clips decoded ahead by %d worker(s), %d decoded again after a worker failed",
                prefetcher.prefetched,
                self.prefetch_workers,
                prefetcher.retried,
            )
        return replies

    def _answer(self, plan: list[tuple[Any, ...]], prefetcher: Prefetcher) -> list[str]:
        replies: list[str] = []
        pbar = tqdm(total=len(plan), disable=self.rank != 0, desc="videonet_molmo2")
        i = 0
        while i < len(plan):
            batch = [plan[i]]
            has_image = any(v["type"] == "image" for v in self._visuals(plan[i][1]))
            if not has_image:  # images are processed one at a time (the collator joins videos)
                while (
                    len(batch) < self.batch_size_per_gpu
                    and i + len(batch) < len(plan)
                    and plan[i + len(batch)][2] == plan[i][2]
                    and not any(v["type"] == "image" for v in self._visuals(plan[i + len(batch)][1]))
                ):
                    batch.append(plan[i + len(batch)])
            encoded = [self._encode(messages, prefetcher) for _req, messages, _gen, _task, _qid in batch]
            if len(encoded) == 1:
                inputs = dict(encoded[0])
            else:
                inputs = collate_examples(encoded, self.tokenizer.pad_token_id, padding_side="left")
            inputs = {k: v.to(self.device) if hasattr(v, "to") else v for k, v in inputs.items()}
            if "pixel_values_videos" in inputs:
                inputs["pixel_values_videos"] = inputs["pixel_values_videos"].to(self.model.dtype)
            if "pixel_values" in inputs:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
            output = self.model.generate(**inputs, **self._generation_kwargs(batch[0][2]))
            prompt_len = inputs["input_ids"].shape[1]
            for row in output:
                replies.append(self.tokenizer.decode(row[prompt_len:], skip_special_tokens=True).strip())
            pbar.update(len(batch))
            i += len(batch)
        pbar.close()
        return replies

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("videonet_molmo2 generates answers; the VideoNet tasks are generate_until")

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        raise NotImplementedError(
            "videonet_molmo2 has no multi-round mode (the VideoNet tasks are single-turn)"
        )
