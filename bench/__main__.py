"""``python -m bench [NAME [options...]]``: run one benchmark, or all of them.

``python -m bench`` runs every registered benchmark with its defaults (what
``make bench`` does); ``python -m bench sampler --help`` shows one benchmark's options.
"""

from __future__ import annotations

import importlib
import sys

# name -> module with ``main(argv: list[str]) -> int``
BENCHMARKS: dict[str, str] = {
    "sampler": "bench.sampler",
    "train_match": "bench.train_match",
    "finetune": "bench.finetune",
    "frame_cache": "bench.frame_cache",
    "explore": "bench.explore",
    "eval": "bench.eval",
}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip())
        print("benchmarks: " + ", ".join(BENCHMARKS))
        return 0
    if args and not args[0].startswith("-"):
        name, rest = args[0], args[1:]
        if name not in BENCHMARKS:
            print(f"unknown benchmark {name!r}; choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
            return 2
        return importlib.import_module(BENCHMARKS[name]).main(rest)
    status = 0
    for name, module in BENCHMARKS.items():
        print(f"=== bench {name} ===", flush=True)
        status |= importlib.import_module(module).main(list(args))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
