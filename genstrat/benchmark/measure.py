"""Measure one bench row: sample n objects, judge them, time batch 1 and batch N, describe the row.

Quality is the modality evaluator's (images: agreement, Fréchet distance, diversity; text: validity or reference
perplexity). NFE is the sampler's own count of sequential network evaluations; batch-1 latency is the median of
repeats; throughput is the median over the n / N batches that produced the quality samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from genstrat.benchmark.decode_floor import step_floor
from genstrat.eval.timing import median_seconds
from genstrat.nn.decode import compiled_for
from genstrat.strategies import SamplingOptions, Strategy, SweepPoint

LATENCY_FILL_S = 1.0  # a row's batch-1 calls are repeated for about this long (at most 4x --latency-repeats): a
#                       fast sampler's median of five moved by up to ~80% between processes


@dataclass
class Job:
    """One row to measure: a trained model, its strategy, the sweep point and the options it samples with."""

    strategy: Strategy
    model: torch.nn.Module
    point: SweepPoint
    options: SamplingOptions
    row_name: str


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that wall-clock timings include it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def sample_all(strategy, model, labels: torch.Tensor, steps: int, options, batch: int, seed: int):
    """Generate one sample per condition in batches; returns (units on the CPU, NFE, seconds per batch)."""
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    units, seconds, nfe = [], [], 0
    for chunk in labels.split(batch):
        start = time.perf_counter()
        out = strategy.generate(model, chunk.to(device), steps, generator, options=options)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
        units.append(out.units.cpu())
        nfe = out.nfe
    return torch.cat(units), nfe, seconds


def measure(
    job: Job, evaluator, conditions: torch.Tensor, *, throughput_batch: int, latency_repeats: int, seed: int
) -> tuple[dict, torch.Tensor]:
    """The measured part of a row (NFE, latency, throughput, quality) and the samples it judged."""
    strategy, model, k, options = job.strategy, job.model, job.point.steps, job.options
    device = next(model.parameters()).device
    units, nfe, batch_seconds = sample_all(strategy, model, conditions, k, options, throughput_batch, seed + 1)
    quality = evaluator.score(units, conditions)
    one = conditions[:1].to(device)
    single_nfe = []

    def single():
        single_nfe.append(strategy.generate(model, one, k, torch.Generator(device).manual_seed(0), options=options).nfe)
        synchronize(device)

    latency = median_seconds(single, repeats=latency_repeats, fill_s=LATENCY_FILL_S, most=4 * latency_repeats)
    rows_b1 = 1 if options.get("guidance", 1.0) == 1.0 else 2
    batches = conditions.split(throughput_batch)
    full = [s for s, b in zip(batch_seconds, batches) if len(b) == throughput_batch] or batch_seconds
    throughput = throughput_batch / sorted(full)[len(full) // 2]
    row = {
        "strategy": strategy.name,
        **job.point.overrides,
        "series": job.point.series,
        "steps": k,
        "nfe": nfe,
        "latency_b1_s": round(latency, 5),
        "step_s_b1": round(latency / max(single_nfe[-1], 1), 7),  # batch-1 latency per evaluation (decode included)
        "floor_s_b1": step_floor(strategy, model, one, k, options),  # its arithmetic alone (decode_floor.py)
        "compiled": compiled_for(model, rows_b1, options),
        "throughput_per_s": round(throughput, 2),
        "throughput_batch": throughput_batch,
        **evaluator.timing_fields(latency, throughput),
        **quality,
    }
    return row, units
