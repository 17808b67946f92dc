"""The warehouse floor: pick-task pages for workers, their thresholds and timers."""
