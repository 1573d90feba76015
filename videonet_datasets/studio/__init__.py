"""The annotation studio: the paper's human stages as one local web app (``videonet studio``).

The toolkit starts from an annotation directory; this is how one gets made.  The paper built
VideoNet with people and LLMs (§3.1-3.2, App. B): action lists drafted, de-duplicated and
defined with an LLM and reviewed by people; collectors gather seven candidate clips per action
from distinct videos; three raters verify each clip against the action's definition; weak
trims are re-trimmed beside well-trimmed examples; only then does a clip enter the benchmark.
Humans also answered the benchmark (Figure 5's human baseline).

Data flows one way, through one SQLite store (WAL) beside the annotations:

``actions.csv`` (+ drafted suggestions, accepted by a person) -> candidates (collect) ->
votes (verify) -> decisions -> re-trims -> ``clips.csv`` + ``votes.csv`` (export) ->
``videonet validate`` -> ``videonet build-benchmark`` -> human answers -> lmms-eval results.

Modules, one job each: :mod:`.db` (the store), :mod:`.settings`, :mod:`.people` (tokens,
roles, Prolific, CSRF), :mod:`.actions` (the action list and its history, suggestions),
:mod:`.drafting` (the paper's LLM prompts, Figures 7-9), :mod:`.media` (safe paths, frames,
browser copies, thumbnails), :mod:`.collect`, :mod:`.verify`, :mod:`.aggregate` (decision
rules, Fleiss' kappa, Wilson intervals), :mod:`.retrim`, :mod:`.export`, :mod:`.baseline`,
:mod:`.audit`, :mod:`.progress`, :mod:`.leases` (task reservations), :mod:`.jobs`
(downloads, browser copies), :mod:`.web` (the Flask app and the rules every request goes
through), its pages :mod:`.pages_work` (annotators), :mod:`.pages_admin`, :mod:`.pages_media`
with :mod:`.webcore` (what they share), and :mod:`.server`.
"""
