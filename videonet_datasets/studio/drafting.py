"""Drafting actions with an LLM, as the paper did (App. B.1-B.3): suggestions, never edits.

Three requests per domain, each the paper's prompt word for word (Figures 7-9 of
``shared/spec/paper.txt``, the figures' own line breaks kept), sent to any OpenAI-compatible
server through the project's chat client (:mod:`videonet_datasets.negatives.client`):

1. **augment** (Figure 7): more actions for the domain, given its current list;
2. **dedupe** (Figure 8): near-duplicates in the combined list.  Figure 8 is one question
   with no place for the list, so the list follows it after a blank line (ours).  Following
   the paper, when a group holds a general action and specific varieties of it ("dunk" and
   "tomahawk dunk"), the general one is proposed for dropping; otherwise nothing is proposed
   and the person chooses;
3. **define** (Figure 9): self-contained definitions with visual cues and differences from
   similar actions, for the actions that have none (``define="missing"``) or all of them.
   The paper's model searched the web; whether yours can is up to the server.

Replies are read leniently (bullets, numbering, Markdown bold, "Name - description", "Name:
definition" over several lines); what cannot be matched is recorded as a note.  Everything
lands in the studio's store as *suggestions* - a person accepts, edits or rejects each on
the studio's actions page before anything reaches ``actions.csv`` - together with the full
request and reply of every step, for audit.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from videonet_datasets.annotations import did_you_mean
from videonet_datasets.negatives.client import ChatClient
from videonet_datasets.studio.actions import ActionRow, add_suggestion, domain_actions
from videonet_datasets.studio.db import now

__all__ = [
    "AUGMENT_PROMPT",
    "DEDUPE_PROMPT",
    "DEFINE_PROMPT",
    "DEFAULT_MODEL",
    "STEPS",
    "DraftResult",
    "augment_prompt",
    "dedupe_prompt",
    "define_prompt",
    "draft_domain",
    "parse_definitions",
    "parse_duplicates",
    "parse_suggestions",
]

#: The paper used Claude for B.1 and Claude 3.7 (with web search) for B.3; pass --model for
#: what your server serves (Anthropic's OpenAI-compatible endpoint takes this name).
DEFAULT_MODEL = "claude-3-7-sonnet-20250219"
STEPS = ("augment", "dedupe", "define")

# Figure 7.
AUGMENT_PROMPT = """I have the following list of <DOMAIN> actions:

<INITIAL ACTION LIST>

Provide me with suggestions of <DOMAIN> actions that are well-defined and
highly-discernible. Your suggestions should not overlap with each other, nor
should they overlap with any of the <DOMAIN> actions on the list I provided."""

# Figure 8.
DEDUPE_PROMPT = """Are there any duplicates or near-duplicates in this list of <DOMAIN> actions?"""

# Figure 9.
DEFINE_PROMPT = """Generate detailed definitions for the following <DOMAIN> actions from
<CATEGORY> category. Each definition should:

Be completely self-contained and understandable without referencing other
actions. Explain any specialized terminology within the definition (using
phrases like
"which is..." or "meaning...")
Include visual identification cues (what to look for to recognize the action)
Describe how this action differs from similar actions when applicable.
Be written for a general audience with no prior knowledge of the domain.

Format each definition as:
[ACTION NAME]: [Complete definition with all elements above]
Use web search to gather accurate information about these actions, but DO NOT
include source links or citations in your final output. The goal is to create
clean, comprehensive definitions that can be easily copied into a spreadsheet
or database.

Here are the actions to define:
<ACTION LIST>
Remember that each definition must stand alone since readers may only see
one definition at a time."""


def _lines(names: Sequence[str]) -> str:
    return "\n".join(names)


def augment_prompt(domain: str, names: Sequence[str]) -> str:
    return AUGMENT_PROMPT.replace("<DOMAIN>", domain).replace("<INITIAL ACTION LIST>", _lines(names))


def dedupe_prompt(domain: str, names: Sequence[str]) -> str:
    return DEDUPE_PROMPT.replace("<DOMAIN>", domain) + "\n\n" + _lines(names)


def define_prompt(domain: str, category: str, names: Sequence[str]) -> str:
    return (
        DEFINE_PROMPT.replace("<DOMAIN>", domain)
        .replace("<CATEGORY>", category)
        .replace("<ACTION LIST>", _lines(names))
    )


# ----------------------------------------------------------------------------- reading replies

_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+(?P<text>.+?)\s*$")
_SPLIT = re.compile(r"\s+[-\u2013\u2014]\s+|:\s+|\s+\(")
_MARKUP = re.compile(r"[*_`#]+")


def _strip_markup(text: str) -> str:
    text = _MARKUP.sub("", text).strip()
    if len(text) >= 2 and text[0] in "\"'[\u201c" and text[-1] in "\"']\u201d":
        text = text[1:-1].strip()
    return text


def parse_suggestions(reply: str, existing: Sequence[str]) -> tuple[list[str], list[str]]:
    """New action names in an augmentation reply (list items; "Name - why" keeps the name),
    and notes on what was left out (already on the list, repeated, not a name)."""
    have = {n.lower(): n for n in existing}
    names: list[str] = []
    notes: list[str] = []
    for line in reply.splitlines():
        m = _ITEM.match(line)
        if not m:
            continue
        text = m.group("text")
        bold = re.match(r"^\*\*(.+?)\*\*", text)
        name = bold.group(1) if bold else _SPLIT.split(text, maxsplit=1)[0]
        name = _strip_markup(name).rstrip(":.").strip()
        if not name or len(name) > 80 or name.endswith("?") or len(name.split()) > 8:
            notes.append(f"not read as an action name: {line.strip()[:120]!r}")
            continue
        if name.lower() in have:
            notes.append(f"{name!r} is already on the list as {have[name.lower()]!r}")
            continue
        if name.lower() in {n.lower() for n in names}:
            notes.append(f"{name!r} was suggested twice")
            continue
        names.append(name)
    return names, notes


def _mentions(text: str, names: Sequence[str]) -> list[str]:
    """Names mentioned in ``text`` (case-insensitive, whole words), longest first, so that
    "dunk" inside "tomahawk dunk" is not counted on its own."""
    low = text.lower()
    taken = [False] * len(low)
    found = []
    for name in sorted(names, key=len, reverse=True):
        pattern = re.compile(r"(?<![\w])" + re.escape(name.lower()) + r"(?![\w])")
        for m in pattern.finditer(low):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = [True] * (m.end() - m.start())
            if name not in found:
                found.append(name)
    return found


_DISTINCT = re.compile(
    r"\bnot\b[^.]*\bduplicates?\b|\bare (?:clearly |quite )?distinct\b|\bno (?:near-)?duplicates\b", re.I
)


def _general(group: Sequence[str]) -> list[str]:
    """Names whose words all appear in another name of the group (the general action)."""
    words = {n: set(re.findall(r"\w+", n.lower())) for n in group}
    return [n for n in group if any(o != n and words[n] < words[o] for o in group)]


@dataclass
class DuplicateGroup:
    group: list[str]
    drop: list[str]
    reason: str


def parse_duplicates(
    reply: str, names: Sequence[str], original: Sequence[str]
) -> tuple[list[DuplicateGroup], list[str]]:
    """Groups of near-duplicates named in a deduplication reply (a line or list item naming
    two or more actions of the list), with the drop proposal described in the module
    docstring; lines that say the names are *not* duplicates are skipped."""
    groups: list[DuplicateGroup] = []
    notes: list[str] = []
    seen: set[frozenset[str]] = set()
    for line in reply.splitlines():
        found = _mentions(line, names)
        if len(found) < 2:
            continue
        if _DISTINCT.search(line):
            notes.append(f"read as 'not duplicates': {line.strip()[:160]!r}")
            continue
        key = frozenset(found)
        if key in seen:
            continue
        seen.add(key)
        general = _general(found)
        if general and len(general) < len(found):
            drop = general
        else:
            new = [n for n in found if n not in original]
            drop = new if 0 < len(new) < len(found) else []
        groups.append(DuplicateGroup(found, drop, _strip_markup(line.strip())[:500]))
    return groups, notes


_DEF_START = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])?\s*(?P<name>[^:]{1,120}?)\s*:\s*(?P<text>.*)$")


def parse_definitions(reply: str, names: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``[ACTION NAME]: definition`` entries of a definition reply, matched to the list's names
    (exactly, ignoring case and Markdown); an entry may continue over following lines."""
    lookup = {n.lower(): n for n in names}
    out: dict[str, str] = {}
    notes: list[str] = []
    current: str | None = None
    for line in reply.splitlines():
        m = _DEF_START.match(line)
        if m:
            label = _strip_markup(m.group("name")).strip().rstrip(":").strip()
            name = lookup.get(label.lower())
            if name is not None:
                current = name
                text = _strip_markup(m.group("text")) if m.group("text").strip() else ""
                if name in out:
                    notes.append(f"{name!r} was defined twice; the last one is kept")
                out[name] = text
                continue
            if label and len(label.split()) <= 8 and not label.lower().startswith(("http", "note")):
                hint = did_you_mean(label, names)
                if hint:
                    notes.append(f"definition for {label!r}, not a name on the list{hint}")
                    current = None
                    continue
        if current is not None:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith(("#", "---")):
                current = None
                continue
            out[current] = (out[current] + " " + _strip_markup(stripped)).strip()
    for name in names:
        if name in out and not out[name]:
            del out[name]
            notes.append(f"{name!r} got an empty definition")
    return out, notes


# ----------------------------------------------------------------------------- the run


@dataclass
class DraftResult:
    domain: str
    added: list[str] = field(default_factory=list)
    duplicate_groups: int = 0
    definitions: int = 0
    notes: list[str] = field(default_factory=list)


def _ask(
    conn_factory: Callable[[], Any],
    client: ChatClient,
    params: dict[str, Any],
    domain: str,
    step: str,
    prompt: str,
) -> tuple[str, int]:
    messages = [{"role": "user", "content": prompt}]
    reply = client.complete(messages, params)
    with conn_factory() as conn:
        cur = conn.execute(
            "INSERT INTO draft_runs (domain, step, params, messages, reply, created) VALUES (?, ?, ?, ?, ?, ?)",
            (domain, step, json.dumps(params), json.dumps(messages), reply.content, now()),
        )
        run_id = int(cur.lastrowid)
    return reply.content, run_id


def _save_notes(conn: sqlite3.Connection, run_id: int, notes: list[str]) -> None:
    conn.execute("UPDATE draft_runs SET notes = ? WHERE id = ?", (json.dumps(notes), run_id))


def draft_domain(
    write: Callable[[], Any],
    client: ChatClient,
    params: dict[str, Any],
    domain: str,
    *,
    steps: Sequence[str] = STEPS,
    define: str = "missing",
) -> DraftResult:
    """Run the drafting steps for one domain and store their suggestions.

    ``write`` opens a write transaction on the store (``Store.write``): each request is made
    outside any transaction and its reply stored in its own, so the studio stays usable while
    a slow model thinks, and a failed request keeps what earlier steps stored.
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; choose from {', '.join(STEPS)}")
    if define not in ("missing", "all"):
        raise ValueError(f"define must be 'missing' or 'all', got {define!r}")
    with write() as conn:
        actions: list[ActionRow] = domain_actions(conn, domain)
        pending_adds = [
            json.loads(r["payload"])["name"]
            for r in conn.execute(
                "SELECT payload FROM suggestions WHERE domain = ? AND kind = 'add' AND status = 'pending'",
                (domain,),
            )
        ]
    if not actions:
        raise ValueError(f"no actions of domain {domain!r} in actions.csv")
    result = DraftResult(domain)
    original = [a.name for a in actions]
    category = actions[0].category
    new: list[str] = list(pending_adds)

    if "augment" in steps:
        reply, run_id = _ask(write, client, params, domain, "augment", augment_prompt(domain, original))
        names, notes = parse_suggestions(reply, original + pending_adds)
        with write() as conn:
            for name in names:
                sid = add_suggestion(
                    conn, domain, "add", {"name": name, "subdomain": "", "definition": ""}, run_id
                )
                if sid is not None:
                    result.added.append(name)
            _save_notes(conn, run_id, notes)
        new += [n for n in names if n not in new]
        result.notes += notes

    dropped: set[str] = set()
    if "dedupe" in steps:
        combined = original + new
        reply, run_id = _ask(write, client, params, domain, "dedupe", dedupe_prompt(domain, combined))
        groups, notes = parse_duplicates(reply, combined, original)
        with write() as conn:
            for g in groups:
                sid = add_suggestion(
                    conn, domain, "duplicate", {"group": g.group, "drop": g.drop, "reason": g.reason}, run_id
                )
                if sid is not None:
                    result.duplicate_groups += 1
                    dropped |= set(g.drop)
            _save_notes(conn, run_id, notes)
        result.notes += notes

    if "define" in steps:
        targets = [a.name for a in actions if define == "all" or not a.definition] + [
            n for n in new if n not in dropped
        ]
        if targets:
            # The paper gives every action of the domain at once (B.3) so that definitions can
            # name the differences between similar actions; only the targets become suggestions.
            listed = [n for n in original if n not in dropped] + [n for n in new if n not in dropped]
            reply, run_id = _ask(
                write, client, params, domain, "define", define_prompt(domain, category, listed)
            )
            definitions, notes = parse_definitions(reply, listed)
            missing = [n for n in targets if n not in definitions]
            if missing:
                notes.append(f"no definition in the reply for {missing}")
            with write() as conn:
                for name in targets:
                    if name not in definitions:
                        continue
                    if name in original:
                        if add_suggestion(
                            conn,
                            domain,
                            "definition",
                            {"action": name, "definition": definitions[name]},
                            run_id,
                        ):
                            result.definitions += 1
                        continue
                    # a new action: its definition travels with the addition
                    row = conn.execute(
                        "SELECT id, payload FROM suggestions WHERE domain = ? AND kind = 'add' AND status = 'pending'",
                        (domain,),
                    ).fetchall()
                    for r in row:
                        payload = json.loads(r["payload"])
                        if payload["name"] == name:
                            payload["definition"] = definitions[name]
                            conn.execute(
                                "UPDATE suggestions SET payload = ? WHERE id = ?",
                                (json.dumps(payload, sort_keys=True, ensure_ascii=False), r["id"]),
                            )
                            result.definitions += 1
                _save_notes(conn, run_id, notes)
            result.notes += notes
    return result
