"""The agent that runs inside helper pods: `python -m chaos_operator.agent MODE …` (the modes are one table,
`modes.MODES`: netem, bandwidth, loss, corrupt, duplicate, partition, stress).

It imports nothing of the operator but the shared duration grammar, so it stays small and its
failure modes stay local. Pure modules: `modes` (the table, the parser, the plan), `procfs` (find a pod's
process), `tc` (qdisc argv builders and parsers), `scope` (scoped layouts, ingress, the owner marker), `stress`
(stress-ng argv and output). Effectful: `shaper` (tc/ip on a pod's namespace), `runner`. Entry point: `cli`.
"""
