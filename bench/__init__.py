"""Speed and memory benchmarks of the VideoNet toolkit (``python -m bench``).

Each benchmark is a module in this package with ``main(argv) -> int``; register it in
:data:`bench.__main__.BENCHMARKS`.  Results go to ``bench/results/`` (git-ignored).
"""
