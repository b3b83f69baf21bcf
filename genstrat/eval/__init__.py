"""Metrics (judge agreement, Fréchet distance, diversity, likelihood) and timing."""
