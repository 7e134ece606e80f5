"""Long fuzz run of the readers: >= 1000 mutated inputs through `medseg info`, `medseg convert`
and the napari reader hook, each run in a forked child with time and memory limits.

Prints the table success / warning / clean error / unclear / traceback / hang / memory per entry
point (see ``tests/fuzz_harness.py`` for what each outcome means and how inputs are made), then
every run that was not a success, a warning or a clean refusal. Exit status 1 when there is any.

    .venv/bin/python benchmarks/fuzz_readers.py                 # 1000 inputs, seed 0, with a gzip bomb
    .venv/bin/python benchmarks/fuzz_readers.py --n 3000 --seed 7 --json runs.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fuzz_harness import main  # noqa: E402

if __name__ == "__main__":
    args = sys.argv[1:]
    defaults = {"--n": "1000", "--timeout": "60", "--memory-gib": "4"}
    for flag, value in defaults.items():
        if flag not in args:
            args += [flag, value]
    if "--big" not in args:
        args.append("--big")
    sys.exit(main(args))
