"""GRPO's pieces without a model: advantages and the objective against hand-computed numbers,
rewards on the answer parser's edge cases, tool-call parsing and the built-in tools, MC option
re-draws, multi-turn rollouts and their packed segments, settings, and the vLLM backend up to
its boundary (a stand-in of the ``vllm`` API: vLLM itself needs a GPU)."""

from __future__ import annotations

import dataclasses
import math
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from videonet_datasets.config import ConfigError
from videonet_datasets.finetune.generation import SamplingSettings, VLLMGenerator, cut_completion
from videonet_datasets.finetune.grpo import answer_weights, group_advantages, policy_loss
from videonet_datasets.finetune.grpo_config import GRPOConfig, parse_grpo_config, parse_reward_weights
from videonet_datasets.finetune.questions import DefinitionBook, Question, redraw_options
from videonet_datasets.finetune.rewards import (
    RewardSettings,
    content_words,
    correctness,
    format_reward,
    length_penalty,
    reasoning_text,
    relevance,
    score_rollout,
    tool_bonus,
    tool_cost,
)
from videonet_datasets.finetune.rollout import (
    Completion,
    EncodedVideo,
    GenContext,
    Rollout,
    Turn,
    sample_rollouts,
)
from videonet_datasets.finetune.tools import (
    TOOLS,
    Tool,
    ToolCall,
    ToolContext,
    ToolResult,
    merge_frames,
    parse_tool_call,
    register_tool,
    run_tool,
    tools_instruction,
)
from videonet_datasets.molmo2 import frames_metadata
from videonet_datasets.prompts import mc_prompt
from videonet_datasets.video import Frames

OPTIONS = ("slide left", "slide right", "hold still", "zigzag")
DEFINITION = "The square travels from the left edge toward the right edge without stopping."


def mc_question(answer: str = "B") -> Question:
    return Question(
        uid="clip000#2", clip_uid="clip000", video="videos/clip000.mp4", kind="mc",
        text=mc_prompt("Square Motion", list(OPTIONS)).plain_text(), answer=answer, domain="Square Motion",
        action=OPTIONS[ord(answer) - ord("A")], options=OPTIONS, definition=DEFINITION,
    )  # fmt: skip


def binary_question(answer: str = "yes") -> Question:
    return Question(
        uid="clip000#0", clip_uid="clip000", video="videos/clip000.mp4", kind=f"binary_{answer}",
        text="Is the action slide right?", answer=answer, domain="Square Motion", action="slide right",
        definition=DEFINITION,
    )  # fmt: skip


def rollout(question: Question, *texts: str, finish: str = "eos", n_ids: int | None = None) -> Rollout:
    """A rollout whose turns are ``texts`` (the last one ends with ``finish``)."""
    turns = []
    for k, text in enumerate(texts):
        ids = list(range(n_ids if n_ids is not None else max(1, len(text.split()))))
        turns.append(Turn(0, [], Completion(ids, text, finish if k == len(texts) - 1 else "stop")))
    return Rollout(question, [], turns)


SETTINGS = RewardSettings(max_completion_length=10, length_buffer=4)


# ---------------------------------------------------------------------------- advantages and objective


def test_group_advantages_by_hand() -> None:
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5], [3.0, 1.0, 2.0, 2.0]])
    # group 1: mean 0.5, sample std sqrt(4 * 0.25 / 3) = 0.57735 -> +-0.866025
    # group 2: every answer the same -> nothing to learn (0), not a division by zero
    # group 3: mean 2, std sqrt(2 / 3) = 0.816497 -> (1.224745, -1.224745, 0, 0)
    a = group_advantages(rewards, "group", eps=0.0 + 1e-12)
    expected = torch.tensor(
        [[0.866025, -0.866025, -0.866025, 0.866025], [0, 0, 0, 0], [1.224745, -1.224745, 0, 0]]
    )
    torch.testing.assert_close(a, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(group_advantages(rewards, "none"), rewards - rewards.mean(1, keepdim=True))
    # the default eps keeps the scale within 0.02% of the exact one
    assert abs(group_advantages(rewards)[0, 0].item() - 0.5 / (math.sqrt(1 / 3) + 1e-4)) < 1e-6
    with pytest.raises(ValueError, match="G >= 2"):
        group_advantages(torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="scale"):
        group_advantages(rewards, "batch")


def test_answer_weights_by_hand() -> None:
    kw = dict(n_answers=2, n_tokens=5, max_completion_length=10)
    assert answer_weights([2, 3], "grpo", **kw) == pytest.approx([1 / 4, 1 / 6])  # 1 / (|o_i| * N)
    assert answer_weights([2, 3], "dapo", **kw) == pytest.approx([1 / 5, 1 / 5])  # 1 / T
    assert answer_weights([2, 3], "dr_grpo", **kw) == pytest.approx([1 / 20, 1 / 20])  # 1 / (N * L)
    with pytest.raises(ValueError, match="loss_type"):
        answer_weights([1], "ppo", **kw)


def test_policy_loss_by_hand() -> None:
    # token 1: ratio 0.5 / 0.4 = 1.25 > 1 + 0.2, A = +1 -> clipped: -1.2, no gradient
    # token 2: the same ratio, A = -1 -> the unclipped term is smaller: -(-1.25) = 1.25, d/dlogp = 1.25
    # token 3: ratio 0.3 / 0.4 = 0.75 < 1 - 0.2, A = -1 -> clipped: -(0.8 * -1) = 0.8, no gradient
    # token 4: ratio 1, A = 0.5 -> -0.5, d/dlogp = -0.5
    logp = torch.log(torch.tensor([0.5, 0.5, 0.3, 0.4])).requires_grad_()
    old = torch.log(torch.tensor([0.4, 0.4, 0.4, 0.4]))
    adv = torch.tensor([1.0, -1.0, -1.0, 0.5])
    out = policy_loss(logp, old, adv, epsilon_low=0.2, epsilon_high=0.2)
    torch.testing.assert_close(out.loss, torch.tensor([-1.2, 1.25, 0.8, -0.5]))
    assert out.clipped.tolist() == [True, False, True, False] and out.kl is None
    out.loss.sum().backward()
    torch.testing.assert_close(logp.grad, torch.tensor([0.0, 1.25, 0.0, -0.5]))

    # clip-higher (DAPO): epsilon_high 0.28 lets token 1's ratio 1.25 through
    high = policy_loss(logp.detach(), old, adv, epsilon_low=0.2, epsilon_high=0.28)
    assert high.loss[0].item() == pytest.approx(-1.25) and not high.clipped[0]

    # KL (k3) to the reference: pi = 0.5, ref = 0.25 -> 0.5 - ln(0.5) - 1 = 0.193147
    ref = torch.log(torch.tensor([0.25, 0.5, 0.3, 0.4]))
    kl = policy_loss(logp.detach(), old, adv, epsilon_low=0.2, epsilon_high=0.2, beta=0.1, ref_logp=ref)
    torch.testing.assert_close(kl.kl, torch.tensor([0.5 - math.log(0.5) - 1, 0.0, 0.0, 0.0]))
    torch.testing.assert_close(kl.loss, torch.tensor([-1.2 + 0.1 * 0.193147, 1.25, 0.8, -0.5]))
    with pytest.raises(ValueError, match="reference"):
        policy_loss(logp, old, adv, epsilon_low=0.2, epsilon_high=0.2, beta=0.1)


def test_one_step_objective_is_the_weighted_token_sum() -> None:
    """Two answers (2 and 3 tokens, advantages +1 / -1), ratio 1: the gradient of the step's
    objective on each token's log-probability is -A x weight, per loss_type."""
    lengths, adv = [2, 3], [1.0, -1.0]
    for loss_type, per_answer in (
        ("grpo", [1 / 4, 1 / 6]),
        ("dapo", [1 / 5, 1 / 5]),
        ("dr_grpo", [1 / 20, 1 / 20]),
    ):
        w = answer_weights(lengths, loss_type, n_answers=2, n_tokens=5, max_completion_length=10)
        weights = torch.tensor([w[0]] * 2 + [w[1]] * 3)
        advantages = torch.tensor([adv[0]] * 2 + [adv[1]] * 3)
        logp = torch.zeros(5, requires_grad=True)
        terms = policy_loss(logp, logp.detach(), advantages, epsilon_low=0.2, epsilon_high=0.2)
        (terms.loss * weights).sum().backward()
        expected = [-adv[0] * per_answer[0]] * 2 + [-adv[1] * per_answer[1]] * 3
        torch.testing.assert_close(logp.grad, torch.tensor(expected), msg=loss_type)


# ---------------------------------------------------------------------------- rewards


@pytest.mark.parametrize(
    ("text", "right"),
    [
        ("B", 1.0),
        ("(B)", 1.0),
        ("Answer: B", 1.0),
        ("The answer is slide right", 1.0),  # the option's text counts, as in the evaluation
        ("<think>it moves to the right</think>\nB", 1.0),
        ("A", 0.0),
        ("", 0.0),
        ("I think A or B", 0.0),  # hedged: the parser reads no answer
    ],
)
def test_correctness_reads_mc_answers_like_the_evaluation(text: str, right: float) -> None:
    assert correctness(rollout(mc_question("B"), text), SETTINGS) == right


@pytest.mark.parametrize(
    ("text", "answer", "right"),
    [("yes", "yes", 1.0), ("No.", "no", 1.0), ("no", "yes", 0.0), ("yes or no", "yes", 0.0),
     ("<think>hmm</think>\nyes", "yes", 1.0), ("", "no", 0.0)],
)  # fmt: skip
def test_correctness_reads_yes_no(text: str, answer: str, right: float) -> None:
    assert correctness(rollout(binary_question(answer), text), SETTINGS) == right


@pytest.mark.parametrize(
    ("text", "finish", "require_think", "score"),
    [
        ("B", "eos", False, 1.0),
        ("B", "length", False, 0.0),  # cut at the length limit
        ("<think>moves right</think>\nB", "eos", False, 1.0),
        ("<think>moves right</think>\nB", "eos", True, 1.0),
        ("B", "eos", True, 0.0),  # a think block was required
        ("<think> </think>\nB", "eos", False, 0.0),  # empty reasoning
        ("B <think>moves right</think>", "eos", False, 0.0),  # the block is not at the start
        ("<think>a</think><think>b</think>\nB", "eos", False, 0.0),  # two blocks
        (
            "<think>moves right</think>\nit is the second option I guess",
            "eos",
            False,
            0.0,
        ),  # no answer on the line
        ("It moves right.\nB", "eos", False, 1.0),  # reasoning lines, then the answer alone
    ],
)
def test_format_reward(text: str, finish: str, require_think: bool, score: float) -> None:
    settings = RewardSettings(max_completion_length=10, length_buffer=4, require_think=require_think)
    assert format_reward(rollout(mc_question("B"), text, finish=finish), settings) == score


def test_length_penalty_ramps_over_the_buffer() -> None:
    q = binary_question()
    # limit 10, buffer 4: free up to 6 tokens, then linear to -1 at 10
    assert [length_penalty(rollout(q, "yes", n_ids=n), SETTINGS) for n in (3, 6, 7, 8, 10, 12)] == [
        0.0, 0.0, -0.25, -0.5, -1.0, -1.0,
    ]  # fmt: skip
    assert (
        length_penalty(rollout(q, "yes", n_ids=9), RewardSettings(10, 0)) == 0.0
    )  # no buffer: only the limit
    # multi-turn: the longest turn counts
    r = rollout(q, "<tool>definition()</tool>", "yes", n_ids=8)
    assert length_penalty(r, SETTINGS) == -0.5


def test_relevance_counts_the_definitions_content_words_in_the_reasoning() -> None:
    q = mc_question("B")
    assert content_words(DEFINITION, exclude="slide right Square Motion") == {
        "travel", "left", "edge", "stopping",
    }  # fmt: skip
    # "right" and "square" are the action's / domain's own words: naming the action is not relevance
    assert relevance(rollout(q, "<think>slide right, the square</think>\nB"), SETTINGS) == 0.0
    half = rollout(q, "<think>it travels from the left edge</think>\nB")  # travel, left, edge
    assert relevance(half, SETTINGS) == pytest.approx(3 / 4)
    assert (
        relevance(rollout(q, "It travels from the left edge without stopping"), SETTINGS) == 0.0
    )  # one line: no reasoning
    no_definition = Question(**{**q.__dict__, "definition": ""})
    assert relevance(rollout(no_definition, "<think>travels left edge</think>\nB"), SETTINGS) == 0.0
    assert reasoning_text("Step one.\nStep two.\nB") == "Step one.\nStep two."


def test_tool_rewards_and_the_weighted_total() -> None:
    q = mc_question("B")
    called = rollout(q, "<tool>definition(B)</tool>", "B")
    called.turns[0].call, called.turns[0].result = (
        ToolCall("definition", ("B",)),
        ToolResult("slide right: ..."),
    )
    failed = rollout(q, "<tool>zoom(9)</tool>", "B")
    failed.turns[0].call, failed.turns[0].result = (
        ToolCall("zoom", (9.0,)),
        ToolResult("error: ...", ok=False),
    )
    plain = rollout(q, "B")
    assert [tool_bonus(r, SETTINGS) for r in (called, failed, plain)] == [1.0, 0.0, 0.0]
    assert [tool_cost(r, SETTINGS) for r in (called, failed, plain)] == [-1.0, -1.0, 0.0]
    wrong = rollout(q, "<tool>definition(B)</tool>", "A")
    wrong.turns[0].call, wrong.turns[0].result = called.turns[0].call, called.turns[0].result
    assert tool_bonus(wrong, SETTINGS) == 0.0  # a call that did not pay off
    weights = {"correctness": 1.0, "format": 0.5, "tool_bonus": 0.2, "tool_cost": 0.05}
    assert score_rollout(called, weights, SETTINGS) == pytest.approx(1.0 + 0.5 + 0.2 - 0.05)
    assert called.rewards == {"correctness": 1.0, "format": 1.0, "tool_bonus": 1.0, "tool_cost": -1.0}


# ---------------------------------------------------------------------------- tools


@pytest.mark.parametrize(
    ("text", "name", "args", "error"),
    [
        ("<tool>zoom(1.5, 3)</tool>", "zoom", (1.5, 3.0), ""),
        ("Let me look. <tool> zoom( 0.5 ,2s ) </tool>", "zoom", (0.5, "2s"), ""),
        ('<tool>definition("double axel")</tool>', "definition", ("double axel",), ""),
        ("<tool>definition(B)</tool>", "definition", ("B",), ""),
        ("<tool>definition()</tool>", "definition", (), ""),
        ("<tool>zoom 1 2</tool>", "", (), "cannot read the call"),
        ("<tool>zoom(1, 2)", "", (), "cannot read the call"),  # never closed
    ],
)
def test_parse_tool_call(text: str, name: str, args: tuple, error: str) -> None:
    call = parse_tool_call(text)
    assert call is not None and call.name == name and call.args == args
    assert (error in call.error) if error else call.error == ""


def test_no_tool_tag_is_no_call() -> None:
    assert parse_tool_call("B") is None and parse_tool_call("the tool is a zoom(1, 2)") is None


def _frames(n: int, duration: float, start: float = 0.0) -> Frames:
    times = np.linspace(0, duration, n, endpoint=False)
    return Frames(np.zeros((n, 4, 4, 3), np.uint8), times, times, start, start + duration, 10.0, "clip.mp4",
                  np.arange(n))  # fmt: skip


def _context(question: Question, **kw) -> ToolContext:
    book = DefinitionBook({("Square Motion", name): f"{name} defined" for name in OPTIONS})
    return ToolContext(question, _frames(4, 2.0), Path("clip.mp4"), definitions=book, **kw)


def test_definition_tool() -> None:
    mc, binary = mc_question("B"), binary_question()
    enabled = ["definition"]

    def run(q, *args):
        return run_tool(ToolCall("definition", args), _context(q), enabled)

    assert run(mc, "B").text == f"slide right: {DEFINITION}"  # the question's own definition first
    assert run(mc, "c").text == "hold still: hold still defined"  # a letter, any case
    assert run(mc, "Zigzag").text == "zigzag: zigzag defined"  # a name of the domain
    assert run(mc).text.count("\n") == 3  # every option
    assert run(binary).text == f"slide right: {DEFINITION}"  # the action asked about
    bad = run(mc, "moonwalk")
    assert not bad.ok and "not an action of Square Motion" in bad.text
    assert not run(mc, "A", "B").ok
    assert not run_tool(ToolCall("zoom", (0.0, 1.0)), _context(mc), enabled).ok  # not enabled
    assert "unknown tool" in run_tool(ToolCall("pose", ()), _context(mc), ["definition", "pose"]).text
    assert not run_tool(parse_tool_call("<tool>x y</tool>"), _context(mc), enabled).ok


def test_zoom_tool_samples_the_window_with_the_projects_sampler(tmp_path: Path) -> None:
    from videonet_datasets.molmo2 import write_moving_square_clip
    from videonet_datasets.video import sample_frames

    clip = tmp_path / "clip.mp4"
    write_moving_square_clip(clip, "right", seconds=2.0)
    base = sample_frames(clip, fps=2.0, max_frames=4)
    ctx = ToolContext(binary_question(), base, clip, zoom_fps=8.0, zoom_max_frames=6)
    result = run_tool(ToolCall("zoom", (0.5, 1.0)), ctx, ["zoom"])
    assert result.ok and result.frames is not None, result.text
    merged = result.frames
    assert len(merged) > len(base) and np.all(np.diff(merged.timestamps) > 0)
    added = sorted(set(np.round(merged.timestamps, 3)) - set(np.round(base.timestamps, 3)))
    assert added and all(0.5 - 1e-6 <= t <= 1.0 + 1e-6 for t in added)
    assert f"{len(merged) - len(base)} more frames" in result.text
    for args, message in (
        ((1.0, 0.5), "START < END"),
        ((5.0, 6.0), "past the end"),
        ((1.0,), "START and END"),
    ):
        bad = run_tool(ToolCall("zoom", args), ctx, ["zoom"])
        assert not bad.ok and message in bad.text


def test_merge_frames_inserts_by_timestamp_and_drops_duplicates() -> None:
    base, extra = _frames(4, 2.0), _frames(4, 1.0, start=0.5)  # extra at 0.5, 0.75, 1.0, 1.25 (absolute)
    merged = merge_frames(base, extra)
    assert merged.timestamps.tolist() == [0.0, 0.5, 0.75, 1.0, 1.25, 1.5]  # 0.5 and 1.0 were there already
    assert merged.clip_start == 0.0 and merged.clip_end == 2.0


def test_tool_registry_and_instruction() -> None:
    tool = Tool("pose_test", "pose_test()", "skeletons", lambda call, ctx: ToolResult("ok"))
    register_tool(tool)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_tool(tool)
        with pytest.raises(ValueError, match="identifier"):
            register_tool(Tool("bad name", "", "", tool.run))
        text = tools_instruction(["definition", "pose_test"])
        assert "<tool>NAME(ARGUMENTS)</tool>" in text and "pose_test(): skeletons" in text
        assert run_tool(ToolCall("pose_test", ()), _context(mc_question()), ["pose_test"]).text == "ok"
    finally:
        TOOLS.pop("pose_test")
    assert tools_instruction([]) == ""


# ---------------------------------------------------------------------------- questions


def test_redraw_options_keeps_the_answer_and_the_evaluation_prompt() -> None:
    q = mc_question("B")
    orders = set()
    for epoch in range(8):
        r = redraw_options(q, seed=0, epoch=epoch)
        assert r.options[ord(r.answer) - ord("A")] == "slide right"
        assert r.text == mc_prompt("Square Motion", list(r.options)).plain_text()
        assert redraw_options(q, seed=0, epoch=epoch) == r  # the same draw on resume
        orders.add(r.options)
    assert len(orders) > 3
    assert redraw_options(binary_question(), 0, 1) == binary_question()


def test_redraw_keeps_the_wording_of_a_domain_named_by_its_actions(tmp_path: Path) -> None:
    """ "Which of the following Knots ..." (no "actions"): training rows do not carry the subdomain,
    the question is read back through the prompt builder; a foreign wording is refused by name."""
    from videonet_datasets.finetune.data import ClipRecord, DataError, DataSource, QAPair
    from videonet_datasets.finetune.questions import questions_from_source

    options = ("bowline", "clove hitch", "reef knot", "sheet bend")
    text = mc_prompt("Knots", list(options), "Knot").plain_text()
    assert text.startswith("Which of the following Knots is shown")
    qa = QAPair(text, "C", "mc", domain="Knots", action="reef knot", options=options)
    source = DataSource(
        "rows", "train", None, [ClipRecord("c1", "videos/c1.mp4", (qa,), "train.parquet row 0")]
    )
    (question,) = questions_from_source(source)
    for epoch in range(4):
        r = redraw_options(question, 0, epoch)
        assert r.text == mc_prompt("Knots", list(r.options), "Knot").plain_text()
        assert r.options[ord(r.answer) - ord("A")] == "reef knot"
    odd = QAPair("Which knot is this?\nA. bowline\nB. clove hitch\nC. reef knot\nD. sheet bend", "C", "mc",
                 domain="Knots", action="reef knot", options=options)  # fmt: skip
    odd_source = DataSource("rows", "train", None, [ClipRecord("c1", "v.mp4", (odd,), "train.parquet row 7")])
    with pytest.raises(DataError, match="row 7 qa\\[0\\]: the MC question is not the prompt builder's"):
        questions_from_source(odd_source)
    assert questions_from_source(odd_source, shuffle_options=False)[0].text == odd.question


# ---------------------------------------------------------------------------- rollouts


class ScriptedGenerator:
    """A generator that replays fixed texts (one id per character) and records its calls."""

    def __init__(self, script: list[list[str]]) -> None:
        self.script = script
        self.calls: list[tuple[list[GenContext], int, tuple]] = []

    def generate(self, contexts, n, stop):
        self.calls.append((list(contexts), n, tuple(stop)))
        texts = self.script[len(self.calls) - 1]
        out, k = [], 0
        for _ in contexts:
            group = []
            for _ in range(n):
                text = texts[k]
                k += 1
                finish = "stop" if text.endswith("</tool>") else "eos"
                group.append(Completion([ord(c) for c in text], text, finish))
            out.append(group)
        return out


def test_rollouts_with_tools_keep_the_exact_ids_and_pack_by_video(tmp_path: Path) -> None:
    q = binary_question()
    video = EncodedVideo(_frames(4, 2.0), prefix="prefix")
    ids = [1, 2, 3]
    gen = ScriptedGenerator([
        ["<tool>definition()</tool>", "yes", "<tool>zoom(0.5, 1)</tool>"],  # G = 3 first turns
        ["yes", "no"],  # the two rollouts that called a tool
    ])  # fmt: skip

    def tool_context(question, frames):
        return ToolContext(question, frames, tmp_path / "x.mp4", definitions=None)

    zoomed = _frames(6, 2.0)
    TOOLS_BACKUP = TOOLS["zoom"]
    register_tool(
        Tool("zoom", "zoom(S, E)", "test", lambda c, ctx: ToolResult("zoomed", frames=zoomed)), replace=True
    )
    try:
        (group,) = sample_rollouts(
            [(q, video, ids)], gen, num_generations=3, tools=["definition", "zoom"], max_tool_calls=1,
            tool_context=tool_context, encode_video=lambda f: EncodedVideo(f, prefix="zoomed prefix"),
            tokenize=lambda text: [ord(c) for c in text],
        )  # fmt: skip
    finally:
        register_tool(TOOLS_BACKUP, replace=True)
    assert gen.calls[0][1:] == (3, ("</tool>",))
    assert gen.calls[1][1:] == (1, ())  # the last allowed call: no stop string
    definition, plain, zoom = group
    assert [len(r.turns) for r in group] == [2, 1, 2]
    assert definition.final_text == "yes" and zoom.final_text == "no"
    assert definition.tool_calls[0][1].text == "slide right: " + DEFINITION
    assert "<tool_result>slide right:" in definition.text

    # one video: the two turns are one segment; the tool result is context, completions are targets
    (seg,) = definition.segments()
    first = [ord(c) for c in "<tool>definition()</tool>"]
    result = definition.turns[0].result_ids
    assert "".join(map(chr, result)) == f"\n<tool_result>slide right: {DEFINITION}</tool_result>\n"
    assert seg[0] == 0 and seg[1] == ids + first + result + [ord(c) for c in "yes"]
    assert seg[2] == [False] * 3 + [True] * len(first) + [False] * len(result) + [True] * 3
    assert plain.segments() == [(0, ids + [ord(c) for c in "yes"], [False] * 3 + [True] * 3)]
    # zoom: the second turn sees a new video -> its own segment, earlier turns as plain context
    assert len(zoom.videos) == 2 and zoom.videos[1].frames is zoomed
    s1, s2 = zoom.segments()
    assert s1[0] == 0 and s2[0] == 1 and sum(s2[2]) == 2 and not any(s2[2][: len(s1[1])])
    assert gen.calls[1][0][1].video is zoom.videos[1]


def test_rollouts_without_tools_are_one_call() -> None:
    gen = ScriptedGenerator([["yes", "no"] * 2])
    groups = sample_rollouts([(binary_question(), EncodedVideo(_frames(2, 1.0), "p"), [1])] * 2, gen,
                             num_generations=2)  # fmt: skip
    assert len(gen.calls) == 1 and gen.calls[0][2] == () and [len(g) for g in groups] == [2, 2]
    with pytest.raises(ValueError, match="tools need"):
        sample_rollouts([], gen, num_generations=2, tools=["zoom"], max_tool_calls=1)


# ---------------------------------------------------------------------------- generation


def test_cut_completion() -> None:
    def decode(ids):
        return "".join(chr(i) for i in ids)

    text = [ord(c) for c in "ab</tool>cd"]
    assert cut_completion([1, 2, 99, 3], {99}, (), decode) == ([1, 2, 99], "eos")
    assert cut_completion(text, {0}, ("</tool>",), decode) == (text[:9], "stop")
    assert cut_completion(text, {0}, (), decode) == (text, "length")


class _FakeLLM:
    instances: list[_FakeLLM] = []

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs
        self.loaded: list[tuple[str, torch.Tensor]] = []
        self.requests = None
        self.prefix_cache_resets = 0
        model = types.SimpleNamespace(load_weights=self.loaded.extend)
        worker = types.SimpleNamespace(model_runner=types.SimpleNamespace(model=model))
        self.llm_engine = types.SimpleNamespace(
            model_executor=types.SimpleNamespace(driver_worker=types.SimpleNamespace(worker=worker))
        )
        _FakeLLM.instances.append(self)

    def generate(self, requests, params, use_tqdm=True):
        self.requests, self.params = requests, params
        out = types.SimpleNamespace
        return [
            out(outputs=[out(token_ids=[5, 6], finish_reason="stop", stop_reason=None),
                         out(token_ids=[7], finish_reason="stop", stop_reason="</tool>"),
                         out(token_ids=[8, 8, 8], finish_reason="length", stop_reason=None)])
            for _ in requests
        ]  # fmt: skip

    def reset_prefix_cache(self) -> None:
        self.prefix_cache_resets += 1


@pytest.fixture
def fake_vllm(monkeypatch):
    module = types.ModuleType("vllm")
    module.LLM = _FakeLLM
    module.SamplingParams = lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    _FakeLLM.instances.clear()
    return module


def test_vllm_backend_up_to_its_boundary(fake_vllm, tiny_molmo2_dir: Path) -> None:
    """Everything the vLLM backend sends and reads, against a stand-in of the vllm API: the engine
    settings, one prompt per question (token ids + the project's frames and timestamps), the
    sampling parameters, the finish reasons, and the weight sync under the checkpoint's names."""
    from safetensors import safe_open
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_molmo2_dir)
    gen = VLLMGenerator(str(tiny_molmo2_dir), processor, SamplingSettings(0.9, 0.95, 0, 64), process_index=3,
                        tensor_parallel_size=2, gpu_memory_utilization=0.4, dtype="bfloat16")  # fmt: skip
    llm = _FakeLLM.instances[-1]
    assert llm.kwargs["distributed_executor_backend"] == "external_launcher" and llm.kwargs["seed"] == 1
    assert llm.kwargs["limit_mm_per_prompt"] == {"video": 1} and llm.kwargs["gpu_memory_utilization"] == 0.4
    frames = _frames(4, 2.0)
    completions = gen.generate([GenContext(EncodedVideo(frames, None), [11, 12])], 3, ["</tool>"])
    (request,) = llm.requests
    video_token_ids = processor.tokenizer(processor.video_token, add_special_tokens=False)["input_ids"]
    assert request["prompt_token_ids"][-2:] == [11, 12]
    assert request["prompt_token_ids"][-2 - len(video_token_ids) : -2] == video_token_ids
    ((video, metadata),) = request["multi_modal_data"]["video"]
    assert video is frames.frames and metadata == dataclasses.asdict(frames_metadata(frames))
    assert request["mm_processor_kwargs"] == {"do_sample_frames": False}
    assert llm.params.n == 3 and llm.params.top_k == -1 and llm.params.max_tokens == 64
    assert llm.params.stop == ["</tool>"] and llm.params.include_stop_str_in_output
    assert [c.finish for c in completions[0]] == ["eos", "stop", "length"]
    assert completions[0][0].ids == [5, 6]

    model = AutoModelForImageTextToText.from_pretrained(tiny_molmo2_dir)
    gen.sync(model)
    with safe_open(str(tiny_molmo2_dir / "model.safetensors"), "pt") as f:
        saved = set(f.keys())
    assert {name for name, _ in llm.loaded} == saved  # the names vLLM's loader reads from checkpoints
    assert llm.prefix_cache_resets == 1


def test_vllm_backend_says_what_is_missing(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(ImportError, match="generation_backend=transformers"):
        VLLMGenerator("model", types.SimpleNamespace(tokenizer=None), SamplingSettings())


# ---------------------------------------------------------------------------- settings


def test_reward_weights_parse() -> None:
    assert parse_reward_weights("correctness=1, format=0.5") == {"correctness": 1.0, "format": 0.5}
    with pytest.raises(ConfigError, match="must be a number"):
        parse_reward_weights("correctness=high")
    with pytest.raises(ConfigError, match="twice"):
        parse_reward_weights("format=1,format=2")


def test_settings_are_checked_as_a_whole() -> None:
    with pytest.raises(ConfigError) as e:
        parse_grpo_config([
            "--num_generations", "1", "--reward_weights", "correctness=1,fluency=1", "--num_iterations", "2",
            "--max_steps", "5", "--save_steps", "3", "--streaming", "--reward_weights", "tool_bonus=1",
        ])  # fmt: skip
    text = str(e.value)
    for expected in ("num_generations must be >= 2", "max_steps (5) must be a multiple", "save_steps (3)",
                     "streaming is not supported", "need tools"):  # fmt: skip
        assert expected in text, expected
    with pytest.raises(ConfigError, match="unknown reward"):
        parse_grpo_config(["--reward_weights", "fluency=1"])
    with pytest.raises(ConfigError, match="unknown tool"):
        parse_grpo_config(["--tools", "pose"])
    config = parse_grpo_config(
        ["--tools", "definition", "zoom", "--epsilon", "0.2", "--epsilon_high", "0.28"]
    )
    assert (
        isinstance(config, GRPOConfig) and config.tools == ["definition", "zoom"] and config.clip_high == 0.28
    )
    assert config.rewards() == {"correctness": 1.0, "format": 0.5}


@pytest.mark.parametrize("path", sorted(Path("recipes/configs").glob("grpo_*.yaml")), ids=lambda p: p.name)
def test_recipe_configs_parse(path: Path) -> None:
    config = parse_grpo_config(["--config", str(path)])
    assert config.num_generations >= 2
