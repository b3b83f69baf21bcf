"""One peer row measured exactly as the bench measures ours: same n, conditions, judge and timing (``measure``),
marked ``"peer": true``, its sample grid written and the row kept for a resumed bench."""

from __future__ import annotations


def measured_peer_row(job, store_key: str, evaluator, conditions, config, store, out, progress: bool,
                      **fields) -> dict:
    """Measure ``job`` (a ``benchmark.measure.Job`` whose strategy is a peer's), add ``fields``, keep it under
    ``store_key`` / ``job.row_name``; returns the row."""
    from tqdm.auto import tqdm

    from genstrat.benchmark.measure import measure

    row, units = measure(job, evaluator, conditions, throughput_batch=config.throughput_batch,
                         latency_repeats=config.latency_repeats, seed=config.seed)
    row.update(peer=True, n=len(conditions), **fields)
    row["grid"] = str(evaluator.show(units, conditions, out / "samples" / job.row_name).relative_to(out))
    store.keep(store_key, job.row_name, row)
    if progress:
        tqdm.write(f"{job.row_name:>36} {evaluator.quality_key}={row[evaluator.quality_key]:.4g}")
    return row
