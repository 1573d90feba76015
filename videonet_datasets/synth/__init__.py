"""VideoNet-mini: a synthetic world in the project's annotation format.

``generate_world(out_dir, config)`` writes an annotation directory (actions, hard
negatives, 5 clips per action) whose actions are defined purely by the *motion* of a
rendered actor, plus narrated "web videos" with their ground truth for the
training-data pipeline.  Modules, one job each:

``taxonomy``   what a taxonomy is, its check, definitions and hard negatives
``world``      the default taxonomy: domains, actions, motion programs
``coarse``     the coarse taxonomy (actions told apart by direction of travel)
``taxonomies`` the registry of taxonomies (``--taxonomy``)
``motion``     motion programs -> actor trajectories
``plan``       seeded planning of the benchmark clips (render specs, clips.csv rows)
``web``        seeded planning of the narrated web videos and their noise
``render``     numpy renderer (backgrounds, actor, hard cuts)
``narration``  espeak-ng speech, placement, mixing, AAC muxing
``writer``     the CSV / JSONL / JSON tables
``generate``   the orchestration: process pool, resume, summary
"""

from videonet_datasets.synth.config import PRESETS, SynthConfig, preset
from videonet_datasets.synth.generate import SynthError, SynthSummary, generate_world

__all__ = ["PRESETS", "SynthConfig", "SynthError", "SynthSummary", "generate_world", "preset"]
