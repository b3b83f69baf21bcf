"""Samples as files people open: PNG grids (``grid.py``), version strips and GIFs (``versions.py``). Below the
modalities, which write their samples with them, and the reports, which link them."""
