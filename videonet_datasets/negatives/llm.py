"""The LLM miner: the paper's four-round conversation per domain (App. B.4).

Round 1 (Figure 11) asks a writer model for a first CSV; round 2 (Figure 12) asks a
reasoning model to analyse it (patterns, visual confusion, co-occurring pairs, balance);
round 3 (Figure 13) asks it to revise; round 4 (Figure 14) asks the writer for the final
CSV.  It is one conversation - every round sees everything before it - under the system
prompt of Figure 10, with the model and sampling parameters chosen per round (the
paper's: gpt-4.5-preview at temperature 0.5 with 4096 tokens for rounds 1 and 4, o3 with
high reasoning effort for rounds 2 and 3).

Every CSV reply (rounds 1, 3, 4) goes through the shared rules; a reply that breaks one
gets a correction message listing each problem precisely, at most ``max_corrections``
times per round, before the domain is declared failed.  Only round 4's table is used.
The whole exchange - messages, parameters, replies, parsing notes and problems - is
saved per domain as JSON, and a finished domain whose inputs have not changed is reused
on the next run, so an interrupted 37-domain run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from videonet_datasets.annotations import Action
from videonet_datasets.fsutil import atomic_write_json
from videonet_datasets.negatives import prompts
from videonet_datasets.negatives.client import ChatClient, ChatError
from videonet_datasets.negatives.reply import extract_table
from videonet_datasets.negatives.rules import Table, check_table

__all__ = [
    "DEFAULT_ROUNDS",
    "REASONER_MODEL",
    "ROUNDS",
    "WRITER_MODEL",
    "DomainRun",
    "RoundConfig",
    "Round",
    "audit_path",
    "mine_llm",
    "run_domain",
]

log = logging.getLogger(__name__)

WRITER_MODEL = "gpt-4.5-preview-2025-02-27"  # paper Figures 11 and 14
REASONER_MODEL = "o3-2025-04-16"  # paper Figures 12 and 13
AUDIT_VERSION = 1


@dataclass(frozen=True)
class RoundConfig:
    """The request parameters of one round.  ``None`` means "not sent" (reasoning
    models reject ``temperature``; most open models ignore ``reasoning_effort``);
    ``extra`` holds any other body fields (e.g. ``max_completion_tokens``, ``top_p``)."""

    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    reasoning_effort: str | None = None
    extra: tuple[tuple[str, Any], ...] = ()

    def params(self) -> dict[str, Any]:
        p: dict[str, Any] = {"model": self.model}
        for key in ("temperature", "max_tokens", "reasoning_effort"):
            value = getattr(self, key)
            if value is not None:
                p[key] = value
        for key, value in self.extra:
            if value is None:
                p.pop(key, None)
            else:
                p[key] = value
        return p

    def updated(self, key: str, value: Any) -> RoundConfig:
        """A copy with one parameter set (``None`` removes it)."""
        if key in ("model", "temperature", "max_tokens", "reasoning_effort"):
            if key == "model" and not value:
                raise ValueError("a round needs a model")
            return replace(self, **{key: value})
        extra = dict(self.extra)
        extra[key] = value
        return replace(self, extra=tuple(sorted(extra.items())))


@dataclass(frozen=True)
class Round:
    number: int
    name: str
    expects_csv: bool


ROUNDS = (
    Round(1, "first CSV", True),
    Round(2, "analysis", False),
    Round(3, "revision", True),
    Round(4, "final synthesis", True),
)
_FIXED_PROMPTS = {2: prompts.ANALYSIS_PROMPT, 3: prompts.REVISION_PROMPT, 4: prompts.FINAL_PROMPT}

DEFAULT_ROUNDS: dict[int, RoundConfig] = {
    1: RoundConfig(WRITER_MODEL, temperature=0.5, max_tokens=4096),
    2: RoundConfig(REASONER_MODEL, reasoning_effort="high"),
    3: RoundConfig(REASONER_MODEL, reasoning_effort="high"),
    4: RoundConfig(WRITER_MODEL, temperature=0.5, max_tokens=4096),
}


@dataclass
class DomainRun:
    domain: str
    status: str  # "ok" or "failed"
    table: Table | None
    turns: list[dict[str, Any]]
    fingerprint: str
    error: str | None = None
    seconds: float = 0.0
    reused: bool = False
    server_error: bool = False  # the server failed (not the replies): later domains are not attempted
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": AUDIT_VERSION,
            "domain": self.domain,
            "status": self.status,
            "error": self.error,
            "server_error": self.server_error,
            "fingerprint": self.fingerprint,
            "seconds": round(self.seconds, 3),
            "table": [[a, *negs] for a, negs in self.table.items()] if self.table else None,
            "notes": self.notes,
            "turns": self.turns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DomainRun:
        table = {row[0]: tuple(row[1:]) for row in data["table"]} if data.get("table") else None
        return cls(
            domain=data["domain"],
            status=data["status"],
            table=table,
            turns=list(data.get("turns", [])),
            fingerprint=data.get("fingerprint", ""),
            error=data.get("error"),
            server_error=bool(data.get("server_error", False)),
            seconds=float(data.get("seconds", 0.0)),
            notes=list(data.get("notes", [])),
        )


def fingerprint(
    domain: str, actions: Sequence[Action], configs: Mapping[int, RoundConfig], excluded: set[frozenset[str]]
) -> str:
    """Everything that determines the conversation: a saved run is reused only when its
    fingerprint matches (changing a definition, a model or a prompt re-runs the domain)."""
    payload = {
        "domain": domain,
        "actions": [[a.name, a.definition] for a in actions],
        "excluded": sorted(sorted(p) for p in excluded),
        "rounds": {str(k): configs[k].params() for k in sorted(configs)},
        "prompts": [prompts.SYSTEM_PROMPT, prompts.FIRST_PROMPT, *_FIXED_PROMPTS.values()],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def audit_path(audit_dir: Path, domain: str) -> Path:
    slug = re.sub(r"[^a-z0-9]+", "_", domain.lower()).strip("_") or "domain"
    return audit_dir / f"{slug}.json"


def _correction(problems: list[str], names: list[str], found: bool, finish_reason: str | None) -> str:
    text = prompts.correction_prompt(problems, names, found)
    if finish_reason == "length":
        text = "Your reply was cut off at the token limit.\n" + text
    return text


def run_domain(
    domain: str,
    actions: Sequence[Action],
    client: ChatClient,
    configs: Mapping[int, RoundConfig] = DEFAULT_ROUNDS,
    excluded: set[frozenset[str]] | None = None,
    *,
    max_corrections: int = 2,
) -> DomainRun:
    """Hold the four-round conversation for one domain.  Never raises for a bad reply
    or a dead server: the run comes back ``failed`` with the reason (``server_error``
    set when the server, not the model, was the problem)."""
    excluded = excluded or set()
    names = [a.name for a in actions]
    t0 = time.perf_counter()
    turns: list[dict[str, Any]] = [{"role": "system", "content": prompts.SYSTEM_PROMPT}]
    fp = fingerprint(domain, actions, configs, excluded)
    run = DomainRun(domain, "failed", None, turns, fp)

    def send(spec: Round, attempt: int) -> dict[str, Any]:
        cfg = configs[spec.number]
        messages = [{"role": t["role"], "content": t["content"]} for t in turns]
        reply = client.complete(messages, cfg.params())
        turn: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "round": spec.number,
            "attempt": attempt,
            "params": cfg.params(),
            "finish_reason": reply.finish_reason,
            "model": reply.model,
            "usage": reply.usage,
            "seconds": round(reply.seconds, 3),
            "http_attempts": reply.attempts,
        }
        if reply.reasoning:
            turn["reasoning"] = reply.reasoning
        if reply.refusal:
            turn["refusal"] = reply.refusal
        turns.append(turn)
        return turn

    try:
        for spec in ROUNDS:
            prompt = (
                prompts.first_prompt(domain, actions, excluded)
                if spec.number == 1
                else _FIXED_PROMPTS[spec.number]
            )
            turns.append({"role": "user", "content": prompt, "round": spec.number, "kind": "prompt"})
            for attempt in range(max_corrections + 1):
                turn = send(spec, attempt)
                if not spec.expects_csv:
                    if turn["content"].strip():
                        break
                    turn["problems"] = ["empty reply"]
                    fix = "Your reply was empty. " + prompts.ANALYSIS_PROMPT
                    problem_text = "the analysis reply was empty"
                else:
                    found = extract_table(turn["content"], names)
                    result = check_table(domain, names, found.rows, excluded)
                    turn["csv"] = {
                        "source": found.source,
                        "header": found.had_header,
                        "rows": len(found.rows),
                    }
                    if found.notes:
                        turn["csv"]["notes"] = found.notes
                    turn["problems"] = [str(p) for p in result.errors] if found.found else ["no CSV found"]
                    if found.found and result.ok:
                        if spec.number == ROUNDS[-1].number:
                            run.table = result.table
                        break
                    fix = _correction(turn["problems"], names, found.found, turn["finish_reason"])
                    problem_text = "; ".join(turn["problems"][:5]) + (
                        f" (+{len(turn['problems']) - 5} more)" if len(turn["problems"]) > 5 else ""
                    )
                if attempt == max_corrections:
                    run.error = (
                        f"round {spec.number} ({spec.name}) still invalid after {max_corrections} correction(s): "
                        + problem_text
                    )
                    run.seconds = time.perf_counter() - t0
                    return run
                turns.append({"role": "user", "content": fix, "round": spec.number, "kind": "correction"})
    except ChatError as e:
        run.error = str(e)
        run.server_error = True
        run.seconds = time.perf_counter() - t0
        return run
    run.status = "ok"
    run.seconds = time.perf_counter() - t0
    return run


def mine_llm(
    domains: Mapping[str, Sequence[Action]],
    client: ChatClient,
    audit_dir: Path,
    configs: Mapping[int, RoundConfig] = DEFAULT_ROUNDS,
    exclusions: Mapping[str, set[frozenset[str]]] | None = None,
    *,
    max_corrections: int = 2,
    restart: bool = False,
    progress: bool = False,
) -> dict[str, DomainRun]:
    """Run (or reuse) every domain, saving each domain's audit log as soon as it ends.
    A domain whose replies stay invalid is recorded as failed and the next domain
    proceeds; a server failure stops the run (the remaining domains are not attempted
    and are absent from the result)."""
    exclusions = exclusions or {}
    results: dict[str, DomainRun] = {}
    items = list(domains.items())
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(items), desc="mining negatives (LLM)", unit="domain")
    try:
        for domain, actions in items:
            excluded = exclusions.get(domain, set())
            path = audit_path(audit_dir, domain)
            fp = fingerprint(domain, actions, configs, excluded)
            if not restart and path.exists():
                try:
                    saved = DomainRun.from_json(json.loads(path.read_text(encoding="utf-8")))
                except (ValueError, KeyError, TypeError) as e:
                    log.warning("%s: unreadable audit log (%s); running the domain again", path, e)
                else:
                    if saved.status == "ok" and saved.fingerprint == fp and saved.table is not None:
                        saved.reused = True
                        results[domain] = saved
                        if bar is not None:
                            bar.update()
                        continue
            run = run_domain(domain, actions, client, configs, excluded, max_corrections=max_corrections)
            atomic_write_json(path, run.to_json())
            results[domain] = run
            if bar is not None:
                bar.update()
            if run.status != "ok":
                log.error("%s: %s", domain, run.error)
            if run.server_error:
                break
    finally:
        if bar is not None:
            bar.close()
    return results
