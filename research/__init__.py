"""Research scripts behind ``docs/demo_experiments.md`` - not part of the installed package.

* ``python -m research.probe`` - the learnability probe: train a tiny random Molmo2 on true
  labels (clips rendered in memory by ``videonet_datasets.demo.clips``) and measure it on a
  built benchmark; one JSON line of measurements per configuration.
* ``python -m research.steptime`` - the step-time profiler of the tiny model (batch sizes,
  model sizes), which chose the demo's schedule.

Run them from the repository root, in the project's environment (``make install``).
"""
