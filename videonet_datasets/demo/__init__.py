"""``videonet demo``: the whole system in miniature on VideoNet-mini, on a CPU.

* :mod:`.pipeline` - the demo: every step by the project's own commands, resumable, with the
  headline table checked against the paper's finding.
* :mod:`.model` - the demo's tiny random Molmo2 (``make_tiny_molmo2`` + embedding re-scale).
* :mod:`.pretrain` - the generic motion pretraining that makes the tiny model a stand-in for a
  pretrained VLM.
* :mod:`.clips` - true-labelled clips rendered in memory from the synth planner (the pretraining's
  clips).

The research behind the demo (the learnability probe, the step-time profiler) lives outside the
package, in ``research/`` beside ``docs/demo_experiments.md``.
"""
