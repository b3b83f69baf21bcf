"""genstrat: generation strategies on one backbone, one data pipeline and one judge."""

__version__ = "0.1.0"
