"""Sequential decoding at a fixed shape, compiled where that pays.

An AR sampler makes one small network evaluation per unit. On a CPU at batch 1 such a step is dispatch-bound: the
eager loop spends ~1 ms a token of the ``small`` trunk calling ~180 operators for ~1.6 MFLOP of arithmetic. Compiled
once for its shapes, the whole step (embedding, every layer, the head, classifier-free guidance and the draw) becomes
one generated program (inductor's C++ with its own small-matrix kernels, weights folded in as constants), called
once a unit: the route transformers documents for fast generation (a static cache, then ``torch.compile``).

Three pieces:
- a **state** of fixed-shape tensors the step mutates in place (the network's ``decode_state``: the Transformer's
  per-layer keys and values over the whole sequence and the position as a tensor, attention computed over every
  slot with those after the position masked out, so about twice the eager loop's attention work on average; the
  WaveNet's per-layer queues and the time). A Python-int position would recompile every step.
- a **step** ``step(value, u, *state) -> next value`` (the network's ``decode_step``): pure tensor code, the same
  arithmetic as the eager loop, drawing with the uniforms ``u`` the eager draw would take from the generator
  (``sampling.draw_with_uniform``), so compiled and eager give the same units at a seed, up to floating-point order.
- a **choice**, per model, batch and options (``choice_for``): eager, or compiled. ``auto`` is a ski rental
  (Karlin et al. 1988): decode eagerly until the eager steps of this (model, shape, options) have cost as much as a
  compilation is expected to (the last one measured in this process, else ``COMPILE_ESTIMATE_S``), then compile and
  keep the compiled step only if its steps are at least ``SPEEDUP_NEEDED`` x faster, the way ``precision.py`` keeps
  bf16 only when it pays. When the estimate is right, that spends no more than twice what the better choice in
  hindsight would have; compiles of different steps here took 15-45 s, so read it as a rule of thumb.

The choices live on the model (``_decode_choices``, dropped by ``copy.deepcopy``), so they go when it goes. A weight
changed through ``.data`` (which does not bump a tensor's version) is not seen: load weights with
``load_state_dict`` or ``copy_`` under ``no_grad``, as genstrat's EMA swap does.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import torch

COMPILE_ESTIMATE_S = 30.0  # a first compile of a step on 2 CPU cores took 15-40 s here (docs/benchmarks.md)
SPEEDUP_NEEDED = 1.1
PROBE_STEPS = 16  # compiled steps timed before the compiled path is kept or rejected
CPU_OPTIONS = {
    "freezing": True,  # weights as constants: folded where the step derives matrices from them
    "max_autotune": True, "max_autotune_gemm_backends": "CPP,ATEN",  # C++ small-matrix kernels where they win
    "cpp_wrapper": True,  # the calls between kernels in C++, not Python
    "autotune_num_choices_displayed": 0, "max_autotune_report_choices_stats": False,
}
SERIAL_ROWS = 4  # up to this many rows a step's kernels run on one thread: a step is ~90 tiny kernels at batch 1, and
#                  2 threads' fork and join in each cost more than they share (WaveNet RTF 3.2 -> 2.3 here)
_measured_compile_s: list[float] = []


class CompiledStep:
    """A decode step compiled for its shapes (``torch.compile``, inductor). The first call goes through dynamo and
    compiles; later calls go straight to the generated program with the new tensors in their places: dynamo's
    per-call frame and guard checks cost ~100 us a step on a 2-core CPU, a third of a WaveNet step, and the
    choice's key (rows, device, threads, options, weights) already holds what they would check."""

    def __init__(self, step, device: torch.device):
        self.step, self.device = step, device
        self.program, self.inputs, self.places = None, None, None
        self.compile_s: float | None = None

    def __call__(self, *args):
        if self.program is None:
            return self.compile(*args)
        inputs = list(self.inputs)
        for place, arg in self.places:
            inputs[place] = args[arg]
        return self.program(*inputs)[0]

    def compile(self, *args):
        from torch._inductor.compile_fx import compile_fx

        captured = {}

        def backend(graph, example_inputs):
            program = compile_fx(graph, example_inputs)
            outputs = next(n for n in graph.graph.nodes if n.op == "output").args[0]
            captured.update(program=program, inputs=list(example_inputs), outputs=len(outputs))
            return program

        rows = args[0].shape[0]
        options = {**CPU_OPTIONS, "cpp.threads": 1 if rows <= SERIAL_ROWS else -1} if self.device.type == "cpu" else {}
        compiled = torch.compile(self.step, backend=backend if self.device.type == "cpu" else "inductor",
                                 fullgraph=True, dynamic=False)
        start = time.perf_counter()
        # every step function shares one code object, so each model, shape or set of options is a recompile of it
        with torch._inductor.config.patch(options), torch._dynamo.config.patch(recompile_limit=4096), \
                warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="TypedStorage is deprecated")  # inside inductor's autotuner
            out = compiled(*args)
        self.compile_s = time.perf_counter() - start
        _measured_compile_s.append(self.compile_s)
        inputs = captured.get("inputs", [])
        places = [(i, j) for i, e in enumerate(inputs) for j, a in enumerate(args) if e is a]
        mapped = {j for _, j in places}
        if captured.get("outputs") == 1 and len({i for i, _ in places}) == len(places) and \
                mapped == set(range(len(args))):
            for i, _ in places:
                inputs[i] = None  # this call's tensors: the next call puts its own there
            self.program, self.inputs, self.places = captured["program"], inputs, places
        else:  # not one output, or an argument not found (or found twice) among the graph's inputs: use dynamo
            self.program, self.inputs = (lambda *a: (compiled(*a),)), [None] * len(args)
            self.places = [(j, j) for j in range(len(args))]
        return out


def compile_estimate_s() -> float:
    """What the next compilation is expected to cost: the last one measured in this process, else the default."""
    return _measured_compile_s[-1] if _measured_compile_s else COMPILE_ESTIMATE_S


def weights_key(model: torch.nn.Module) -> tuple | None:
    """Changes whenever a weight does (a compiled step holds the weights it was compiled with); None where a
    weight's version cannot be read (an inference-mode tensor): then there is no compiled step to trust."""
    try:
        return tuple((p.data_ptr(), p._version) for p in model.parameters())
    except RuntimeError:
        return None


@dataclass
class Choice:
    """The decoding choice for one (model, rows, options): eager seconds spent so far, and what was decided."""

    eager_s: float = 0.0
    eager_steps: int = 0
    compiled: CompiledStep | None = None  # once made
    kept: bool | None = None              # None: undecided; True: compiled pays; False: eager
    reason: str = "not decided: eager so far"
    failed: bool = False                  # compiling raised: eager from then on
    compiled_seconds: list = field(default_factory=list)  # the probe's timed compiled steps
    probe: dict = field(default_factory=dict)

    def eager_step_s(self) -> float:
        return self.eager_s / max(self.eager_steps, 1)

    @property
    def compile_s(self) -> float | None:
        return None if self.compiled is None else self.compiled.compile_s


class ChoiceTable(dict):
    """A model's choices by key; a deep copy of the model (an EMA copy, a student made from its teacher) starts
    without them: compiled programs are not copied."""

    def __deepcopy__(self, memo):
        return ChoiceTable()


def choices_of(model) -> ChoiceTable:
    """The model's table of choices (made on first use)."""
    if "_decode_choices" not in model.__dict__:
        model.__dict__["_decode_choices"] = ChoiceTable()
    return model.__dict__["_decode_choices"]


def choice_key(model, rows: int, options) -> tuple | None:
    weights = weights_key(model)
    if weights is None:
        return None
    drawn = tuple(sorted((k, v) for k, v in options.items() if k != "decode"))
    return rows, str(next(model.parameters()).device), torch.get_num_threads(), drawn, weights


def choice_for(model, rows: int, options) -> Choice | None:
    """The choice for this model, rows and options (None: decode eagerly, the weights cannot be keyed)."""
    key = choice_key(model, rows, options)
    if key is None:
        return None
    table = choices_of(model)
    if key not in table:
        for stale in [k for k in table if k[-1] != key[-1]]:  # compiled with weights that have since changed
            del table[stale]
        table[key] = Choice()
    return table[key]


def compiled_for(model, rows: int, options) -> bool:
    """Whether this model's steps over ``rows`` rows with these options now run compiled (a kept compiled step)."""
    key = choice_key(model, rows, options)
    choice = choices_of(model).get(key) if key is not None and not model.training else None
    return bool(choice is not None and choice.kept)


def prepare_compiled(choice: Choice, model, guided: bool, draw) -> None:
    """Give the choice its compiled step (compiled, and timed, at its first call); ``draw(logits, u)`` draws."""
    if choice.compiled is None:
        choice.compiled = CompiledStep(model.decode_step(guided, draw), next(model.parameters()).device)
