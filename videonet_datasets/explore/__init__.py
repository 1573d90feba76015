"""``videonet explore``: a static, self-contained site to look at every answer of one or more runs.

* :mod:`.answers` - the per-question answers of every run (lmms-eval samples, authors' result files);
* :mod:`.data` - the questions joined with every model's answer, scored by :mod:`videonet_datasets.scoring`,
  the per-domain / per-k tables of :mod:`videonet_datasets.report`, run-vs-run differences;
* :mod:`.media` - poster frames (the project's frame sampler) and links to (or copies of) the clips;
* :mod:`.leaderboard` - per-category / per-domain / per-action accuracy as CSV, Markdown and a 🤗 dataset folder;
* :mod:`.site` - writes the folder: ``index.html`` + ``app.js`` + ``style.css`` + the data as JavaScript
  (a page opened from disk may not ``fetch`` files, but it may load scripts).
"""

from __future__ import annotations

from videonet_datasets.explore.site import SiteSummary, build_site

__all__ = ["SiteSummary", "build_site"]
