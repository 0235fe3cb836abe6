"""The agent that runs inside helper pods: `python -m chaos_operator.agent netem|bandwidth|stress …`.

It imports nothing of the operator but the shared duration grammar, so it stays small and its
failure modes stay local. Pure modules: `procfs` (find a pod's process), `tc` (argv builders and
parsers), `stress` (stress-ng argv and output). Effectful: `runner`. Entry point: `cli`.
"""
