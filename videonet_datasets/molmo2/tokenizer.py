"""An offline Molmo2-style tokenizer and chat template.

Molmo2's tokenizer is Qwen3's byte-level BPE plus ChatML markers, padded up to the text
vocabulary size, followed by ten image/video tokens that live *outside* that vocabulary
(in the embedding's ``additional_vocab_size`` rows, which ``lm_head`` does not cover, so
the model can never generate them).  The tiny tokenizer built here keeps that layout
exactly, at a few hundred tokens instead of 151,936, so every piece of code written
against the tiny model (processor calls, id arithmetic, ``mm_token_type_ids``, stop
tokens) behaves as it will against ``allenai/Molmo2-4B``:

* ids ``[0, n_bpe)``: byte-level BPE trained on a small built-in corpus (the paper's
  prompts, the domains, timestamps, answer letters) plus any extra text the caller has;
* then ``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, then filler tokens up to
  ``vocab_size`` (Qwen's ``|<EXTRA_TOKENS_i>|``);
* ids ``vocab_size + i``: :data:`MOLMO2_EXTRA_TOKENS` in the hub's order (``<im_start>``
  = ``vocab_size``, ..., ``<|video|>`` = ``vocab_size + 9``), matching the
  ``Molmo2Config`` token-id defaults shifted from 151,936.

As on the hub, BOS and EOS are both ``<|im_end|>`` and padding is ``<|endoftext|>``.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

__all__ = [
    "CHATML_TOKENS",
    "CHAT_TEMPLATE",
    "DOMAINS",
    "MOLMO2_EXTRA_TOKENS",
    "build_tokenizer",
    "default_corpus",
]

#: Molmo2's image/video tokens in the hub tokenizer's order (ids 151936..151945 there).
MOLMO2_EXTRA_TOKENS: tuple[str, ...] = (
    "<im_start>",
    "<im_end>",
    "<im_patch>",
    "<im_col>",
    "<low_res_im_start>",
    "<|image|>",
    "<im_low>",
    "<frame_start>",
    "<frame_end>",
    "<|video|>",
)

#: Qwen's ChatML markers, right after the BPE tokens as in Qwen3 (151643..151645 there).
CHATML_TOKENS: tuple[str, ...] = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")

#: A ChatML chat template with Molmo2's conventions: every image/video placeholder is
#: hoisted to the start of the prompt (before the first turn), text parts of a turn are
#: joined with one space.  For a user turn plus the generation prompt it renders the same
#: string as the hub template; unlike the hub template it closes assistant turns with
#: ``<|im_end|>`` and renders no stray space before them.  Training code must not rely on
#: either: it tokenises prompt, answer and ``<|im_end|>`` apart (see ``inputs.py``).
CHAT_TEMPLATE = (
    "{%- set counts = namespace(images=0, videos=0) -%}"
    "{%- for message in messages -%}{%- if message['content'] is not string -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part['type'] == 'image' -%}{%- set counts.images = counts.images + 1 -%}"
    "{%- elif part['type'] == 'video' -%}{%- set counts.videos = counts.videos + 1 -%}{%- endif -%}"
    "{%- endfor -%}{%- endif -%}{%- endfor -%}"
    "{%- if counts.images == 1 -%}{{ '<|image|>' }}"
    "{%- else -%}{%- for i in range(counts.images) -%}{{ 'Image ' ~ (i + 1) ~ '<|image|>' }}{%- endfor -%}"
    "{%- endif -%}"
    "{%- for _ in range(counts.videos) -%}{{ '<|video|>' }}{%- endfor -%}"
    "{%- for message in messages -%}"
    "{%- if message['content'] is string -%}{%- set text = message['content'] -%}"
    "{%- else -%}{%- set joined = namespace(text='') -%}"
    "{%- for part in message['content'] -%}{%- if part['type'] == 'text' -%}"
    "{%- set joined.text = joined.text ~ ('' if not joined.text else ' ') ~ part['text'] -%}"
    "{%- endif -%}{%- endfor -%}{%- set text = joined.text -%}{%- endif -%}"
    "{{ '<|im_start|>' ~ message['role'] ~ '\\n' ~ text ~ '<|im_end|>\\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)

#: The paper's 37 domains (paper Table 8): their names appear in every prompt.
DOMAINS: tuple[str, ...] = (
    "Hairstyling", "Spa Massage", "Tattooing", "Calligraphy", "Crochet", "Hand Sewing / Embroidery",
    "Knots", "Painting", "Pottery", "Woodworking / Whittling", "Ballet", "Bharatanatyam", "Break Dance",
    "Salsa", "Tap Dance", "Bartending", "Coffee", "Cooking", "Bouldering", "Gardening", "Gym", "Juggling",
    "Parkour", "Pen Spinning", "Skateboarding", "Yo-yo", "Neurological Abnormalities",
    "Neurological Assessments", "Suturing", "American Football", "Basketball", "Cheerleading", "Cricket",
    "Figure Skating", "Ice Hockey", "Soccer", "Tennis",
)  # fmt: skip

# The fixed words of the paper's prompts (paper App. C.1), and generic action vocabulary; the
# corpus only decides which strings get short token sequences - byte-level BPE encodes
# any text, so nothing outside it is lost, just spelled with more tokens.
_PROMPT_SENTENCES = (
    "Which of the following {domain} actions is shown in the video?",
    "Please respond with only the letter of the correct answer.",
    "Recall that a {action} is an action in {domain}. Does the following video show a {action}?",
    "Please reason through your answer. It is critical that you output 'yes' or 'no' on the final line "
    "of your answer.",
    "The following 3 videos show a {action}, which is a move in {domain}.",
    "Now consider the following video. Is it also a {action}?",
    "An appropriate instance of {action} must include all essential defining elements, but minor "
    "variations or slight differences in style or execution are acceptable.",
    "Focus on identifying the core defining elements rather than expecting an exact match to the examples.",
)
_ACTION_WORDS = (
    "jump spin turn flip kick throw catch pass shot swing lift push pull roll slide twist hop step "
    "left right up down forward backward clockwise counterclockwise circle line square disc ball box "
    "moving still fast slow grow shrink appear vanish bounce rotate wave rise fall enter exit"
)


def default_corpus(extra: Iterable[str] = ()) -> list[str]:
    """The training text for the tiny BPE: prompts x domains, answers, timestamps, ``extra``."""
    lines: list[str] = []
    for domain in DOMAINS:
        for sentence in _PROMPT_SENTENCES:
            lines.append(sentence.format(domain=domain, action=domain.lower()))
    for letter in "ABCD":
        lines.append(f"{letter}. {_ACTION_WORDS.split()[ord(letter) - 65]}")
        lines.append(letter)
    lines += ["yes", "no", "Yes", "No", "Answer: yes", "Answer: no", _ACTION_WORDS]
    # Timestamps are printed "{t:.1f} " before every frame (up to 64 per prompt).
    lines += [" ".join(f"{t / 10:.1f}" for t in range(start, 1000, 7)) for start in range(7)]
    lines += [str(x) for x in extra]
    return lines


def build_tokenizer(
    vocab_size: int = 512,
    *,
    extra_corpus: Iterable[str] = (),
    model_max_length: int = 32768,
) -> PreTrainedTokenizerFast:
    """Train the tiny byte-level BPE and wrap it as a ``transformers`` tokenizer.

    ``vocab_size`` is the *text* vocabulary (the ``lm_head`` size, Molmo2's 151,936); the
    ten Molmo2 tokens follow it.  Deterministic: the same corpus gives the same merges.
    """
    min_size = 256 + len(CHATML_TOKENS)
    if vocab_size < min_size:
        raise ValueError(
            f"vocab_size must be >= {min_size} (byte alphabet + ChatML tokens), got {vocab_size}"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - len(CHATML_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=[],
        show_progress=False,
    )
    tok.train_from_iterator(default_corpus(extra_corpus), trainer)
    tok.add_special_tokens(list(CHATML_TOKENS))
    # Pad to the text vocabulary like Qwen does, so the Molmo2 tokens start at vocab_size.
    fillers = [f"|<EXTRA_TOKENS_{i}>|" for i in range(vocab_size - tok.get_vocab_size())]
    if fillers:
        tok.add_special_tokens(fillers)
    tok.add_special_tokens(list(MOLMO2_EXTRA_TOKENS))
    first = tok.token_to_id(MOLMO2_EXTRA_TOKENS[0])
    if first != vocab_size:  # would break the config's token ids and the lm_head/embedding split
        raise RuntimeError(
            f"tokenizer layout: {MOLMO2_EXTRA_TOKENS[0]} got id {first}, expected {vocab_size}"
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_end|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=False,
        extra_special_tokens={"image_token": "<|image|>", "video_token": "<|video|>"},
    )
