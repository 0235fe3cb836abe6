"""Pure analysis of measured phases: recovery, checks, grade, score and verdict."""
