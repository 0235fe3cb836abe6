"""The load worker: one pod of an experiment's indexed Job sending its share of the open-loop load
(docs/architecture.md, "Load workers")."""
