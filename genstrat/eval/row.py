"""The bench's row: one measured configuration (a strategy at a step count and sampling setting, or a reference), as
``results.json`` holds it and the report, the summary, the plots and the demo's claims read it.

A row is a plain JSON object (it is written and read as one), typed here once: ``BenchRow`` names every field the
bench writes beside the modality's own figures. Those are declared by each modality (``Modality.columns``: Fréchet
and agreement for images, mixed and valid answers for text, STOI for audio; each with its ``<key>_ci``, the 95%
bootstrap interval of ``eval/spread.py``), and a strategy's sampling options (``sampler``, ``temperature``,
``guidance``, ...) are flattened into the row by their own names. ``tests/test_rows.py`` reads every row key the
report, the bench and the demo spell, and fails on one declared nowhere: a misspelt ``latency_b1`` cannot pass.
"""

from __future__ import annotations

from typing import TypedDict


class BenchRow(TypedDict, total=False):
    # what was measured
    strategy: str  # a strategy's name as benched, or "real", "independent", "reconstruction:<kind>", a peer's
    series: str  # the row's line in a plot: the strategy and its fixed sampling settings ("diffusion dpm-solver")
    steps: int  # the step count asked for (a sweep point)
    data: str
    n: int  # samples judged
    n_test: int  # held-out objects the references were drawn from
    grid: str  # the samples' picture (or text, or audio) file, relative to the bench folder
    sampling: dict  # every sampling option the row ran with
    # speed (benchmark/measure.py)
    nfe: int  # sequential network evaluations a sample took
    latency_b1_s: float  # one sample, batch 1, median of the timed repeats
    step_s_b1: float  # batch-1 latency per evaluation
    floor_s_b1: float  # that step's arithmetic alone on this machine (benchmark/decode_floor.py)
    compiled: bool  # the sequential step ran compiled (nn/decode.py)
    throughput_per_s: float  # samples a second at ``throughput_batch``
    throughput_batch: int
    # the model and its training (benchmark/run.py; a loaded one's, as it was trained: benchmark/trained.py)
    trained: str  # "here" (in this bench) or "loaded" (from --trained)
    loaded_from: str
    train_budget: dict | None
    train_steps: int
    train_seconds: float
    train_loss: float
    ema: float | None
    precision: str
    precision_reason: str
    updates_per_s: float
    step_gflop: float
    gflops_per_s: float
    params: int
    model_size: str
    nll_bits_per_unit: float  # the model's own likelihood of held-out data, where it has one
    nll_n: int
    # two-stage rows and their stage one's reconstruction rows (benchmark/stage_one.py)
    ae_quantizer: str
    ae_seconds: float
    ae_train_steps: int
    ae_given: str
    ae_given_seconds: float
    ae_given_train_steps: int
    ae_given_batch_size: int
    quantizer_seconds: float
    quantizer_steps: int
    base_train_steps: int
    code_perplexity: float
    codebook_size: int
    dead_codes: int
    # students (benchmark/students.py)
    teacher: str
    teacher_seconds: float
    distill_seconds: float
    teacher_train_steps: int
    round_updates: int
    teacher_steps: int
    # references and the evaluators' extras beside their figures
    judge_test_accuracy: float
    mixed_examples: list  # text: a few outputs that mixed two answers, shown in the report
    # peers (peers/): the library measured beside ours
    peer: str
    recipe: str


ROW_FIELDS = frozenset(BenchRow.__annotations__)

__all__ = ["BenchRow", "ROW_FIELDS"]
