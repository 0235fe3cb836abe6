"""One module per fault kind; each defines `FAULT`, its implementation (faults/registry.py finds them)."""
