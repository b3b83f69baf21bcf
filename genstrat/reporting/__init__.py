"""The report: sample grids, the quality-vs-latency plot and the markdown page."""
