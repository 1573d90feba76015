"""lmms-eval task YAMLs of the VideoNet suite (pass this directory as ``--include_path``)."""
