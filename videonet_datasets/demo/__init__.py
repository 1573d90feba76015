"""``videonet demo``: the whole system in miniature on VideoNet-mini, on a CPU.

* :mod:`.pipeline` - the demo: every step by the project's own commands, resumable, with the
  headline table checked against the paper's finding.
* :mod:`.model` - the demo's tiny random Molmo2 (``make_tiny_molmo2`` + embedding re-scale).
* :mod:`.clips` - true-labelled clips rendered in memory from the synth planner (research).
* :mod:`.probe` - the learnability probe: train a tiny Molmo2 on true labels, measure it on the
  benchmark (``docs/demo_experiments.md`` records what it found).
"""
