"""`python -m search.keys cnn1d`: every key a model reads, its default, what it allows.

Any of them can be fixed or searched in a space file; nothing else can.
"""

from __future__ import annotations

import argparse
import sys

from trainables import loop, models


def table(model: str) -> str:
    rows = [("key", "default", "allowed", "meaning"), *loop.schema(model).table()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True))
        + "  " + row[3] for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search.keys",
                                     description="List the keys a model reads.")
    parser.add_argument("model", help=f"one of {models.names()}")
    args = parser.parse_args(argv)
    if args.model not in models.names():
        print(f"error: model {args.model!r} is not one of {models.names()}",
              file=sys.stderr)
        return 2
    print(table(args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
