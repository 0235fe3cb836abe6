"""What tests of several tiers share: fakes of the operator's ports, waits, kubectl, manifests, workloads, the chart,
the operator process. A test imports these, never another `test_*.py` file (docs/testing.md)."""
