"""The VideoNet task suite for lmms-eval (0.7.3).

* ``tasks/videonet/`` - the task YAMLs (generated from :mod:`.catalog`) and their hooks;
  give ``tasks/`` to lmms-eval as ``--include_path``, or run ``videonet eval``.
* :mod:`.source` - the benchmark a run reads (``VIDEONET_DATA``: a built directory or a Hub id),
  checked when a task loads.
* :mod:`.presets` - the paper's per-model frame sampling.
* :mod:`.metrics` - scoring of one answer and the metric keys.
* :mod:`.models` - ``videonet_scripted`` (offline tests) and ``videonet_molmo2`` (Molmo2 through
  transformers), registered through the ``lmms_eval.models`` entry points.
"""
