"""Pure pod selection: selectors, pod facts, eligibility and the seeded choice of targets."""
