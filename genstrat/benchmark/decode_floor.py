"""`genstrat decode-floor`: every sequential sampler's batch-1 step against its compute floor, eager and compiled, with
transformers' decoding at its documented best beside ours.

A row's **floor** is what its step's arithmetic costs on this machine with no overhead at all: every matrix product,
convolution and attention product of one step is recorded with its shape (``ProductShapes``, a dispatch mode, as
training's FLOPs are counted in ``precision.step_gflop``), each shape is timed at its own arithmetic intensity in wide
products (``product_rate``: no per-call dispatch in its rate, only the arithmetic and the memory the shape needs), and
floor_s_b1 = sum over the step's products of flops / rate. Element-wise work (norms, activations, the draw) is not in
the floor: the floor is a lower bound. An AR step is counted at the middle of its sequence (attention is linear in the
position); a mask-predict pass and a diffusion step as their whole batch-1 generation over its NFE.

The measured **step** is a batch-1 generation's median seconds (after a warm-up; the compiled rows' warm-up compiles)
over its NFE. Speed does not depend on the weights, so every model here is the ``small`` trunk with its initial weights
(two-stage rows over an untrained auto-encoder of their kind, as ``genstrat throughput`` does); the Transformer's AR
rows sample at guidance 1 (the peer has no classifier-free guidance), every other row at its defaults.
"""

from __future__ import annotations

import platform

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from genstrat.benchmark.throughput import bound_strategy
from genstrat.data import load_dataset
from genstrat.eval.timing import median_seconds
from genstrat.training.model_io import build_model
from genstrat.nn.decode import choices_of
from genstrat.training.precision import cpu_flags
from genstrat.strategies.sampling import guided_logits


class ProductShapes(TorchDispatchMode):
    """Records (batch, m, k, n) of every matrix product the block runs: mm, addmm, bmm, baddbmm, a convolution as
    its (positions, inputs x kernel, outputs) product, CPU attention as its two products QK^T and PV."""

    def __init__(self):
        super().__init__()
        self.products: list[tuple[int, int, int, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        if name == "mm":
            self.products.append((1, args[0].shape[0], args[0].shape[1], args[1].shape[1]))
        elif name == "addmm":
            self.products.append((1, args[1].shape[0], args[1].shape[1], args[2].shape[1]))
        elif name == "bmm":
            self.products.append(tuple(args[0].shape) + (args[1].shape[2],))
        elif name == "baddbmm":
            self.products.append(tuple(args[1].shape) + (args[2].shape[2],))
        elif name == "convolution":
            weight = args[1]
            self.products.append((1, out.shape[0] * out[0, 0].numel(), weight[0].numel(), weight.shape[0]))
        elif name.startswith("_scaled_dot_product"):
            q, k = args[0], args[1]
            heads, queries, width, keys = q.shape[0] * q.shape[1], q.shape[2], q.shape[3], k.shape[2]
            self.products += [(heads, queries, width, keys), (heads, queries, keys, width)]
        return out


def product_rate(shape: tuple[int, int, int, int], weight_bytes: float = 2**20, calls: int = 20) -> float:
    """FLOP/s of a (m, k) @ (k, n) product (``batch`` of them) on this machine at its own arithmetic intensity and
    without per-call overhead: timed as one (m, k) @ (k, copies x batch x n) product whose right-hand side is about
    ``weight_bytes`` (1 MiB: one core's L2 here, where a step's weights live between steps), repeated. The same m
    and k, so the same FLOPs per weight read (a batch-1 step's products are matrix-vector products, bound by reading
    their weights), in calls large enough that dispatch is a few percent of them."""
    batch, m, k, n = shape
    flop = 2 * batch * m * k * n
    copies = max(1, int(weight_bytes // (4 * k * batch * n)))
    a, b = torch.randn(m, k), torch.randn(k, copies * batch * n)
    out = torch.empty(m, copies * batch * n)

    def run():
        for _ in range(calls):
            torch.mm(a, b, out=out)

    return flop * copies * calls / median_seconds(run, repeats=5, warmup=2)


def floor_seconds(products: list[tuple[int, int, int, int]], steps: int, rates: dict) -> tuple[float, float]:
    """(floor seconds, FLOPs) of one step, given the products of ``steps`` steps; ``rates`` caches shapes' rates."""
    seconds = flop = 0.0
    for shape in products:
        if shape not in rates:
            rates[shape] = product_rate(shape)
        f = 2 * shape[0] * shape[1] * shape[2] * shape[3]
        seconds, flop = seconds + f / rates[shape], flop + f
    return seconds / steps, flop / steps


def ar_step_products(model, rows: int, guidance: float, cond: torch.Tensor) -> list:
    """The products of one eager AR step in the middle of the sequence (the KV cache half full)."""
    with torch.no_grad():
        cache = model.new_cache(rows)
        guided_logits(model, cond[:, :0] if cond.dim() > 1 else torch.zeros(len(cond), 0, dtype=torch.long), cond,
                      guidance, cache)
        if hasattr(cache, "k"):  # a Transformer: attend over half the sequence
            cache.length = model.cond_slots + model.cfg.seq_len // 2
        token = torch.zeros(len(cond), 1, dtype=torch.long)
        with ProductShapes() as shapes:
            guided_logits(model, token, cond, guidance, cache)
    return shapes.products


def generation_products(strategy, model, cond, steps, options) -> tuple[list, int]:
    """The products of a whole batch-1 generation, and its NFE."""
    with torch.no_grad(), ProductShapes() as shapes:
        out = strategy.generate(model, cond, steps, torch.Generator().manual_seed(0), options=options)
    return shapes.products, out.nfe


RATES: dict = {}  # product shape -> FLOP/s, measured once a process


def step_floor(strategy, model, cond: torch.Tensor, steps, options) -> float | None:
    """Floor seconds (rounded) of one batch-1 network evaluation of a row's sampler (a two-stage row's prior; the
    decode to pixels or samples is not a step): AR at the middle of its sequence, any other sampler over its whole
    generation. None off the CPU: the rates here are the CPU's."""
    if next(model.parameters()).device.type != "cpu":
        return None
    return round(cpu_step_floor(strategy, model, cond.cpu(), steps, options), 7)


def cpu_step_floor(strategy, model, cond: torch.Tensor, steps, options) -> float:
    sampler = getattr(strategy, "prior", strategy)
    if sampler.name == "ar":
        rows = 1 if options.guidance == 1.0 else 2
        return floor_seconds(ar_step_products(model, rows, options.guidance, cond), 1, RATES)[0]
    eager = options.merged(decode="eager") if "decode" in options else options
    products, nfe = generation_products(sampler, model, cond, steps, eager)
    return floor_seconds(products, max(nfe, 1), RATES)[0]


def timed_generation(strategy, model, cond, steps, options, repeats: int) -> tuple[float, int, torch.Tensor]:
    """(median seconds of a generation after one warm-up, its NFE, the units of a seed-0 generation)."""
    out = {}

    def run():
        out["gen"] = strategy.generate(model, cond, steps, torch.Generator().manual_seed(0), options=options)

    seconds = median_seconds(run, repeats=repeats)
    return seconds, out["gen"].nfe, out["gen"].units


CASES = (  # (row label, dataset, strategy, steps, decode modes, extra batch sizes for tokens per second)
    ("pixels", "mnist", "ar", None, ("eager", "compiled"), (64,)),
    ("codes", "mnist", "two-stage:ar", None, ("eager", "compiled"), (64,)),
    ("text", "names", "ar", None, ("eager", "compiled"), ()),
    ("samples", "fsdd", "ar", None, ("eager", "compiled"), ()),
    ("codes", "mnist", "two-stage:mask-predict", 8, ("eager",), ()),
    ("pixels", "mnist", "diffusion", 20, ("eager",), ()),
    ("codec codes", "fsdd", "two-stage:mask-predict", 6, ("eager",), ()),  # the best two-stage audio row's sampler
)


def compile_seconds(model, batch: int) -> float:
    """What compiling this model's step for ``batch`` conditions cost (its choice's first compiled call)."""
    return sum(c.compile_s or 0 for key, c in choices_of(model).items() if key[0] in (batch, 2 * batch))


def decode_floor_rows(data_dirs: dict, repeats: int = 3, seed: int = 0, peer_rows=None,
                      progress: bool = True) -> list[dict]:
    """Every case's rows (one per decode mode), then ``peer_rows(model, repeats=, paths=, progress=)``'s over the
    pixel AR's model (``peers.gpt2_decoding.their_rows``: transformers' paths), when given."""
    rows, machine = [], {"cpu_flags": cpu_flags(), "machine": platform.machine(),
                                    "threads": torch.get_num_threads(), "torch": torch.__version__}
    pixel_ar = None
    for label, data_name, name, steps, modes, batches in CASES:
        data = load_dataset(data_name, data_dir=data_dirs.get(data_name))
        strategy = bound_strategy(name, data)
        torch.manual_seed(seed)
        model = build_model(strategy, data.num_classes, size="small", context_len=data.context_len).eval()
        sampler = getattr(strategy, "prior", strategy)  # a two-stage row's steps are its prior's
        sequential = sampler.name == "ar"
        defaults = strategy.sampling_defaults()
        transformer_ar = sequential and model.cfg.network == "transformer"
        options = defaults.merged(guidance=1.0) if transformer_ar else defaults
        cond = torch.zeros(1, dtype=torch.long)
        rows_b1 = 1 if options.guidance == 1.0 else 2
        if sequential:
            floor, flop = floor_seconds(ar_step_products(model, rows_b1, options.guidance, cond), 1, RATES)
        else:
            products, nfe = generation_products(sampler, model, cond, steps, options)
            floor, flop = floor_seconds(products, nfe, RATES)
        eager_units = {}
        for mode in modes:
            opts = options.merged(decode=mode) if sequential else options
            seconds, nfe, units = timed_generation(sampler, model, cond, steps, opts, repeats)
            latency = timed_generation(strategy, model, cond, steps, opts, repeats)[0] if sampler is not strategy \
                else seconds  # with the decode from codes to pixels or samples
            eager_units.setdefault(1, units)
            row = {"strategy": name, "units": label, "data": data.name, "decode": mode, "compiled": mode == "compiled",
                   "nfe_b1": nfe, "step_s_b1": round(seconds / nfe, 7), "floor_s_b1": round(floor, 7),
                   "step_over_floor": round(seconds / nfe / floor, 2), "step_gflop": round(flop / 1e9, 6),
                   "latency_b1_s": round(latency, 5), "guidance": options.guidance}
            clip_seconds = data.units.seq_len / data.units.sample_rate if hasattr(data.units, "sample_rate") else None
            if clip_seconds:
                row["rtf_b1"] = round(latency / clip_seconds, 4)
            else:  # an AR step writes one unit a row; other samplers' steps are passes over every unit
                row["tokens_per_s_b1" if sequential else "steps_per_s_b1"] = round(nfe / seconds, 1)
            if mode == "compiled":
                row.update(compile_s_b1=round(compile_seconds(model, 1), 1),
                           same_as_eager_b1=bool(torch.equal(units, eager_units[1])))
            for batch in batches:
                many = torch.arange(batch) % data.num_classes
                seconds_b, nfe_b, units_b = timed_generation(sampler, model, many, steps, opts, repeats)
                row[f"tokens_per_s_b{batch}"] = round(batch * nfe_b / seconds_b, 1)
                if mode == "eager":
                    eager_units[batch] = units_b
                else:
                    row[f"same_as_eager_b{batch}"] = bool(torch.equal(units_b, eager_units[batch]))
                    row[f"compile_s_b{batch}"] = round(compile_seconds(model, batch), 1)
            failed = [c.reason for c in choices_of(model).values() if c.failed]
            if mode == "compiled" and failed:  # it decoded eagerly: not a compiled row, and not in the bars
                row.update(decode="compiled (failed: eager)", compiled=False, reason=failed[0])
            rows.append({**row, **machine})
            if progress:
                print({k: v for k, v in row.items() if k not in machine}, flush=True)
        if (label, name) == ("pixels", "ar"):
            pixel_ar = (strategy, model, options)
    if peer_rows is not None and pixel_ar is not None:
        theirs = peer_rows(pixel_ar[1], repeats=repeats, paths=("dynamic", "static", "static+compile"),
                           progress=progress)
        rows += [{**r, "units": "pixels", "step_s_b1": round(1 / r["tokens_per_s_b1"], 7), **machine}
                 for r in theirs]
    return rows


def decode_floor_bars(rows: list[dict]) -> dict:
    """Issue 33's bars read off one run's rows: compiled pixel AR against its eager self and transformers' best path,
    the WaveNet's real-time factor, two-stage audio against it, and each sampler's best step against its floor."""
    ours = {(r["strategy"], r["units"], r["decode"]): r for r in rows if not r.get("peer")}
    peers = [r for r in rows if r.get("peer") and r.get("tokens_per_s_b1")]
    eager, compiled = ours.get(("ar", "pixels", "eager")), ours.get(("ar", "pixels", "compiled"))
    bars = {}
    if eager and compiled:
        bars["ar_b1_over_eager"] = round(compiled["tokens_per_s_b1"] / eager["tokens_per_s_b1"], 2)
        bars["ar_b1_over_eager_holds"] = bars["ar_b1_over_eager"] >= 3
    if compiled and peers:
        best = {b: max(peers, key=lambda r: r.get(f"tokens_per_s_b{b}", 0)) for b in (1, 64)}
        ours_b64 = max(eager["tokens_per_s_b64"], compiled["tokens_per_s_b64"])
        bars.update(transformers_best_b1=best[1]["decode"], transformers_best_b64=best[64]["decode"],
                    ar_b1_over_transformers_best=round(compiled["tokens_per_s_b1"] / best[1]["tokens_per_s_b1"], 2),
                    ar_b64_over_transformers_best=round(ours_b64 / best[64]["tokens_per_s_b64"], 2))
        bars["ar_b1_over_transformers_best_holds"] = bars["ar_b1_over_transformers_best"] >= 1.5
        bars["ar_b64_not_slower_holds"] = bars["ar_b64_over_transformers_best"] >= 1.0
    wavenet = ours.get(("ar", "samples", "compiled"))
    if wavenet:
        bars["wavenet_rtf_b1"] = wavenet["rtf_b1"]
        bars["wavenet_rtf_b1_holds"] = wavenet["rtf_b1"] <= 2
        eager_wavenet = ours.get(("ar", "samples", "eager"))
        two_stage = ours.get(("two-stage:mask-predict", "codec codes", "eager"))
        if two_stage:
            bars["two_stage_audio_rtf_b1"] = two_stage["rtf_b1"]
            bars["two_stage_audio_over_compiled_wavenet"] = round(wavenet["rtf_b1"] / two_stage["rtf_b1"], 1)
            if eager_wavenet:
                bars["two_stage_audio_over_eager_wavenet"] = round(eager_wavenet["rtf_b1"] / two_stage["rtf_b1"], 1)
    best_steps = {}
    for (name, units, _), r in ours.items():
        if (name, units) not in best_steps or r["step_s_b1"] < best_steps[(name, units)]["step_s_b1"]:
            best_steps[(name, units)] = r
    bars["step_over_floor"] = {f"{name} ({units}, {r['decode']})": r["step_over_floor"]
                               for (name, units), r in best_steps.items()}
    bars["every_step_within_10x_floor_holds"] = all(v <= 10 for v in bars["step_over_floor"].values())
    return bars
