"""`python -m chaos_sandbox demo|up|down|status|serve` (serve is what `up` runs in the background)."""

from __future__ import annotations

import sys

from chaos_sandbox.background import main_sandbox, serve
from chaos_sandbox.demo import main_demo


def main(argv: list[str]) -> int:
    if argv[:1] == ["serve"]:
        return serve(argv[1:])
    if argv[:1] == ["demo"]:
        return main_demo(argv[1:])
    return main_sandbox(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
