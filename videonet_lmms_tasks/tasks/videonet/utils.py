"""lmms-eval glue of the VideoNet tasks; the YAMLs reference it by its full dotted path.

(``!function utils.fn`` would re-execute this file once per reference; the full module path
imports it once.)

What each hook does:

* ``DATA_PATH_<config>`` / ``METRICS_<config>`` (module attributes computed on access, PEP 562):
  read when lmms-eval loads a task YAML, they open the data source named by
  ``$VIDEONET_DATA`` (default ``./videonet``; or a Hub id), check every video the config
  uses (:func:`videonet_lmms_tasks.source.open_config`) and build the metric list from the
  config's categories and domains.  Errors surface at load time, naming every missing file.
  ``DATA_PATH_<config>__definition`` (the definition ablation) also requires every question's
  definition: data without them (the official release) is refused right there, once.
* ``process_docs*``: adds the absolute (silent) video paths and the task's prompt options
  to every row, so each document says exactly what is asked (and the sample logs show it).
  A task whose stored questions cannot be sent as it asks (a prompt the variant cannot
  rewrite, videos that disagree with the row's columns) refuses here, when it loads.
* ``doc_to_messages``: interleaved chat content - text, example clips, text, test clip - in
  the stored order of the row's ``question`` (the release's prompt text when imported; built
  by :mod:`videonet_datasets.prompts` otherwise), the variants rewriting it (chat models;
  needed for k-shot).
* ``doc_to_visual`` + ``doc_to_text``: the same clips in order and the prompt's text parts
  (simple models, which place visuals themselves: k-shot interleaving is lost there).
* ``process_results``: :mod:`videonet_lmms_tasks.metrics` (the project's parser; never raises).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from PIL import Image

from videonet_datasets import prefetch, prompts
from videonet_datasets.benchmark.schema import ALL_CONFIGS
from videonet_lmms_tasks import metrics, source
from videonet_lmms_tasks.catalog import DEFINITION_SUFFIX
from videonet_lmms_tasks.presets import ENV_PRESET, Sampling, parse_preset, resolve_sampling

log = logging.getLogger(__name__)

__all__ = [
    "build_prompt",
    "doc_clip_paths",
    "doc_to_messages",
    "doc_to_target",
    "doc_to_text",
    "doc_to_visual",
    "process_docs",
    "process_docs_balanced",
    "process_docs_definition",
    "process_docs_lenient",
    "process_docs_middle_frame",
    "process_results",
]

VISUAL_CLIP = "clip"
VISUAL_MIDDLE_FRAME = "middle_frame"


# ----------------------------------------------------------------------------- load time


def __getattr__(name: str) -> Any:
    for prefix in ("DATA_PATH_", "METRICS_"):
        if name.startswith(prefix):
            config = name[len(prefix) :]
            needs_definitions = config.endswith(DEFINITION_SUFFIX)
            config = config.removesuffix(DEFINITION_SUFFIX)
            if config not in ALL_CONFIGS:
                break
            try:
                info = source.open_config(config, require_definitions=needs_definitions)
            except source.DataSourceError as e:
                # lmms-eval re-raises anything from a `!function` as "Failed to import function":
                # say what is wrong first, in its log.
                from loguru import logger

                logger.error(f"VideoNet data: {e}")
                raise
            if prefix == "DATA_PATH_":
                return str(info.root)
            return metrics.metric_list(config != "mc", info.categories, info.domains)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_rows(dataset, name: str, variant: str, definition: bool) -> None:
    """Refuse, when the task loads, data that lacks what this task needs (one message)."""
    cols = set(dataset.column_names)
    if "question" in cols:
        problems = []
        for row in dataset.select_columns(
            [c for c in ("question_id", "question", "video", "example_videos") if c in cols]
        ):
            try:
                examples, test = prompts.Prompt.question_videos(row["question"])
                prompt = prompts.Prompt.from_question(row["question"])
                if variant != "default" and not definition:
                    prompts.apply_variant(prompt, variant, "the action")
            except ValueError as e:
                problems.append(f"{row.get('question_id')!r}: {e}")
                continue
            want = [PurePosixPath(v).name for v in (row.get("example_videos") or [])]
            if examples != want or test != PurePosixPath(row["video"]).name:
                problems.append(
                    f"{row.get('question_id')!r}: its stored question shows {[*examples, test]}, its columns "
                    f"{[*want, PurePosixPath(row['video']).name]}"
                )
            if len(problems) >= 5:
                break
        if problems:
            raise source.MissingFieldError(
                f"VideoNet {name}: stored questions of {source.data_spec()!r} cannot be sent as this task asks: "
                + "; ".join(problems)
            )


def _make_process_docs(
    name: str, variant: str = "default", definition: bool = False, middle_frame: bool = False
):
    """A ``process_docs`` hook that checks the data, resolves the clips and stamps the task's
    prompt options on every row."""
    if variant not in prompts.PROMPT_VARIANTS:
        raise ValueError(f"unknown prompt variant {variant!r}")

    def process(dataset):
        root, _ = source.resolve_root()
        try:
            _check_rows(dataset, name, variant, definition)
        except source.MissingFieldError as e:
            from loguru import logger

            logger.error(str(e))  # lmms-eval may wrap the exception; say it first
            raise
        has_examples = "example_videos" in dataset.column_names

        def add(row: Mapping[str, Any]) -> dict[str, Any]:
            extra = {
                "video_path": source.playable_path(root, row["video"]),
                "prompt_variant": variant,
                "with_definition": definition,
                "visual_mode": VISUAL_MIDDLE_FRAME if middle_frame else VISUAL_CLIP,
            }
            if has_examples:
                extra["example_video_paths"] = [
                    source.playable_path(root, v) for v in row["example_videos"] or []
                ]
            return extra

        resolved = dataset.map(add, desc="VideoNet: resolving videos")
        _warm_clips(resolved, middle_frame)
        return resolved

    process.__name__ = process.__qualname__ = name
    return process


def _warm_clips(dataset, middle_frame: bool) -> None:
    """Start decoding the task's clips in the background (``VIDEONET_WARM_WORKERS``): the set of
    clips is known once the documents are, the order lmms-eval's backends ask for them is not.
    Needs the run's preset (``VIDEONET_PRESET``): the task's per-model kwargs arrive only with
    each request."""
    if not os.environ.get(prefetch.ENV_WARM_WORKERS, "").strip():
        return
    env = os.environ.get(ENV_PRESET, "").strip()
    if not env:
        log.warning(
            "VideoNet: %s is set but no preset (--preset): nothing to warm", prefetch.ENV_WARM_WORKERS
        )
        return
    sampling = parse_preset(env)
    if middle_frame:
        kwargs: dict[str, Any] = {
            "middle": True,
            **({"size": sampling.short_side} if sampling.short_side else {}),
        }
    elif sampling.visual == "frames":
        kwargs = sampling.sampler_kwargs()
    else:
        return  # the backend decodes the clip itself
    cols = [c for c in ("example_video_paths", "video_path") if c in dataset.column_names]
    inputs = [
        (path, kwargs)
        for row in dataset.select_columns(cols)
        for path in [*(row.get("example_video_paths") or []), row["video_path"]]
    ]
    prefetch.warm(inputs)


process_docs = _make_process_docs("process_docs")
process_docs_balanced = _make_process_docs("process_docs_balanced", variant="balanced")
process_docs_lenient = _make_process_docs("process_docs_lenient", variant="lenient")
process_docs_definition = _make_process_docs("process_docs_definition", definition=True)
process_docs_middle_frame = _make_process_docs("process_docs_middle_frame", middle_frame=True)


# ----------------------------------------------------------------------------- prompts


def _is_mc(doc: Mapping[str, Any]) -> bool:
    return "options" in doc and doc.get("options") is not None


def build_prompt(doc: Mapping[str, Any]) -> prompts.Prompt:
    """The question of ``doc`` as a :class:`videonet_datasets.prompts.Prompt`.

    The row's stored ``question`` (the official release's text when imported) is sent as
    stored; the balanced/lenient variants rewrite its reasoning request.  The definition
    ablation, and rows without a stored question (benchmarks built before it was stored),
    are built from the row's fields.
    """
    variant = doc.get("prompt_variant") or "default"
    stored = doc.get("question")
    if stored and not doc.get("with_definition"):
        prompt = prompts.Prompt.from_question(stored)
        if not _is_mc(doc) and variant != "default":
            prompt = prompts.apply_variant(prompt, variant, doc["action"])
        return prompt
    if _is_mc(doc):
        return prompts.mc_prompt(doc["domain"], list(doc["options"]), doc.get("subdomain"))
    definition = doc.get("definition") if doc.get("with_definition") else None
    return prompts.binary_prompt(
        doc["action"],
        doc["domain"],
        doc.get("subdomain"),
        k=len(doc.get("example_video_paths") or []),
        variant=variant,
        definition=definition,
    )


def doc_clip_paths(doc: Mapping[str, Any]) -> list[str]:
    """The clips a document's request decodes, in prompt order (in-context examples, then the
    test clip); ``[]`` for a document of another task.  The project's models read it to answer
    in :func:`videonet_datasets.feed_order.locality_order` without building any messages."""
    if "video_path" not in doc:
        return []
    return [*(doc.get("example_video_paths") or []), doc["video_path"]]


def _paths(doc: Mapping[str, Any]) -> tuple[str, list[str]]:
    if "video_path" not in doc:
        raise KeyError("the document has no 'video_path': the task's process_docs did not run")
    return doc["video_path"], list(doc.get("example_video_paths") or [])


#: PIL images of recently sent clips (id of the cached frame array -> (array, the images' view
#: states, bytes)), bounded in bytes: making a PIL image from an array costs ~6x a copy of one,
#: and the suite sends each clip ~17 times.  Requests get read-only views of them
#: (:func:`_shared_view`), so no model can alter what the next one gets.
_PIL_CACHE: OrderedDict[int, tuple[Any, list[Any], int]] = OrderedDict()
_PIL_CACHE_BYTES = 256 * 2**20
_pil_cache_used = 0
_PIL_LOCK = threading.Lock()


def _view_state(image: Any) -> dict[str, Any]:
    """The attributes of a read-only view of ``image`` (a plain RGB ``Image.Image`` made by
    ``Image.fromarray``): its own, sharing its pixel core, with ``readonly`` set."""
    view = image._new(image.im)
    view.readonly = 1
    return dict(vars(view))


def _shared_view(state: dict[str, Any]) -> Any:
    """A new PIL image object over a kept image's pixels, marked read-only: copy-on-write.

    Pillow's own contract for images that share memory (``Image.frombuffer``): every method
    that writes pixels in place (``paste``, ``putpixel``, ``putdata``, ``putalpha``,
    ``ImageDraw``) copies them first (``Image._ensure_mutable``), a write through
    ``load()``'s pixel access raises, and the rest (``thumbnail``, ``convert``, ``resize``)
    replace the view's own pixels or return new images.  So a model can do with the view
    whatever it could do with a copy, and the next request still gets the frames as decoded
    (``tests/test_lmms_tasks.py`` checks each of these against the installed Pillow).  Built
    from the kept state (:func:`_view_state`; ``info`` is the one mutable attribute of an RGB
    image, so each view gets its own): no pixel copy, ~5x cheaper than ``Image.copy()`` at
    32 px, ~15x at 224 px.
    """
    view = Image.Image.__new__(Image.Image)
    view.__dict__.update(state)
    view.info = {}
    return view


def _images(path: str, **kwargs: Any) -> list[Any]:
    global _pil_cache_used
    # each clip is decoded once per run: k-shot examples and the 9 tasks repeat clips
    frames = prefetch.warm_frames(path, **kwargs)
    array = frames.frames
    with _PIL_LOCK:
        hit = _PIL_CACHE.get(id(array))
        if hit is not None and hit[0] is array:  # the cache's (read-only) array: the same frames
            _PIL_CACHE.move_to_end(id(array))
            images = hit[1]
        else:
            images = None
    if images is not None:
        return [_shared_view(state) for state in images]
    made = [Image.fromarray(frame) for frame in array]
    if array.flags.writeable:  # not a cached array (cache off): nothing to reuse
        return made
    images = [_view_state(img) for img in made]
    size = 4 * array[..., 0].size  # PIL keeps RGB in 4 bytes per pixel
    if size <= _PIL_CACHE_BYTES:
        with _PIL_LOCK:
            if id(array) not in _PIL_CACHE:
                _PIL_CACHE[id(array)] = (array, images, size)
                _pil_cache_used += size
            while _pil_cache_used > _PIL_CACHE_BYTES:
                _, (_, _, dropped) = _PIL_CACHE.popitem(last=False)
                _pil_cache_used -= dropped
    return [_shared_view(state) for state in images]


def _visual_items(path: str, doc: Mapping[str, Any], sampling: Sampling) -> list[dict[str, Any]]:
    """The chat items standing for one clip slot."""
    if doc.get("visual_mode") == VISUAL_MIDDLE_FRAME:
        size = {"size": sampling.short_side} if sampling.short_side else {}
        return [{"type": "image", "url": img} for img in _images(path, middle=True, **size)]
    if sampling.visual == "frames":
        return [{"type": "image", "url": img} for img in _images(path, **sampling.sampler_kwargs())]
    return [{"type": "video", "url": path, **sampling.hints()}]


def _kw(lmms_eval_specific_kwargs: Mapping[str, Any] | None, key: str) -> str:
    value = (lmms_eval_specific_kwargs or {}).get(key) or ""
    return str(value)


def doc_to_messages(
    doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None
) -> list[dict]:
    """One user turn: the prompt's text parts and clip slots in order (examples, then the test clip)."""
    prompt = build_prompt(doc)
    sampling = resolve_sampling(lmms_eval_specific_kwargs)
    test, examples = _paths(doc)
    content: list[dict[str, Any]] = []
    if pre := _kw(lmms_eval_specific_kwargs, "pre_prompt"):
        content.append({"type": "text", "text": pre})
    for part in prompt.parts:
        if isinstance(part, prompts.TextPart):
            content.append({"type": "text", "text": part.text})
        else:
            content += _visual_items(test if part.is_test else examples[part.example], doc, sampling)
    if post := _kw(lmms_eval_specific_kwargs, "post_prompt"):
        content.append({"type": "text", "text": post})
    return [{"role": "user", "content": content}]


def doc_to_visual(
    doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None
) -> list[Any]:
    """Simple models: the clips in prompt order (paths), or their frames as PIL images."""
    sampling = resolve_sampling(lmms_eval_specific_kwargs)
    test, examples = _paths(doc)
    out: list[Any] = []
    for path in [*examples, test]:
        out += [item["url"] for item in _visual_items(path, doc, sampling)]
    return out


def doc_to_text(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> str:
    """Simple models: the prompt's text parts joined by newlines (the model places the visuals)."""
    text = build_prompt(doc).plain_text()
    return _kw(lmms_eval_specific_kwargs, "pre_prompt") + text + _kw(lmms_eval_specific_kwargs, "post_prompt")


def doc_to_target(doc: Mapping[str, Any]) -> str:
    return str(doc["answer"]) if _is_mc(doc) else metrics.binary_answer(doc)


def process_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Metric values of one answered question (see :mod:`videonet_lmms_tasks.metrics`)."""
    output = results[0] if results else None
    return metrics.score_mc(doc, output) if _is_mc(doc) else metrics.score_binary(doc, output)
