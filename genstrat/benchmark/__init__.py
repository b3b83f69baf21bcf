"""The bench: strategy x steps x dataset, trained on one budget, judged by one judge."""
