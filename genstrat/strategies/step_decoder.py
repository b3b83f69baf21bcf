"""The steps of AR sampling after the first: eager network calls with the cache, or the network's compiled step.

The first evaluation (the condition slots) always runs eagerly and fills the cache. Each later step either calls the
network on the one new unit (``guided_logits``, ``sample_units``), or, once the ``decode`` option says so, hands
the cache to the network's fixed-shape state and calls its compiled step (``nn/decode.py``), which draws with the
same uniforms from the same generator: the units are the eager loop's, up to floating-point order.
"""

from __future__ import annotations

import sys
import time

import torch

from genstrat.nn.contracts import FastStep
from genstrat.nn.decode import PROBE_STEPS, SPEEDUP_NEEDED, choice_for, compile_estimate_s, prepare_compiled
from genstrat.strategies.sampling import combine_guidance, draw_units, guided_logits, sample_units


class StepDecoder:
    """One generation's steps; the choice between eager and compiled is shared by every generation of the same
    model, rows and options (``nn/decode.choice_for``)."""

    def __init__(self, model, rows: int, options):
        self.model, self.options = model, options
        self.mode = options.get("decode", "eager")
        static = self.mode != "eager" and not model.training and isinstance(model, FastStep)
        self.choice = choice_for(model, rows, options) if static else None
        self.state = None  # the network's fixed-shape state, once the compiled step runs

    def wants_compiled(self) -> bool:
        choice = self.choice
        if choice is None or choice.failed:
            return False
        if self.mode == "compiled":
            return True
        if choice.kept is not None:
            return choice.kept
        if choice.compiled is not None:  # compiled, still being timed
            return True
        return choice.eager_s >= compile_estimate_s()  # auto: the eager steps have cost what a compile would

    def next_values(self, i: int, value: torch.Tensor, cond: torch.Tensor, cache, generator) -> torch.Tensor:
        """The units of position ``i`` (B,), given those of position i - 1 (at i = 0, an empty (B, 0) feed)."""
        opts = self.options
        if i > 0 and self.state is None and self.wants_compiled():
            return self.compiled_values(i, value, cond, cache, generator)
        if self.state is None:
            start = time.perf_counter()
            logits = guided_logits(self.model, value[:, None] if i else value, cond, opts.guidance, cache)[:, -1]
            values, _ = sample_units(logits, opts, generator)
            if i > 0 and self.choice is not None:
                self.choice.eager_s += time.perf_counter() - start
                self.choice.eager_steps += 1
            return values
        return self.compiled_values(i, value, cond, cache, generator)

    def compiled_values(self, i: int, value: torch.Tensor, cond: torch.Tensor, cache, generator) -> torch.Tensor:
        opts, choice = self.options, self.choice
        compiling = choice.compile_s is None
        before = generator.get_state() if compiling else None  # to give the uniform back if the compile fails
        try:
            if self.state is None:  # from the eager cache at step i: the state, and the step (compiled at its call)
                self.state = self.model.decode_state(cache)
                prepare_compiled(choice, self.model, opts.guidance != 1.0,
                                 lambda logits, u: draw_units(combine_guidance(logits, opts.guidance), opts, u))
            if opts.temperature > 0:  # the one uniform per row the eager draw takes (sampling.draw_categorical)
                u = torch.rand(value.shape[0], 1, generator=generator, device=value.device, dtype=torch.float32)
            else:
                u = torch.zeros(value.shape[0], 1, device=value.device)
            start = time.perf_counter()
            values = choice.compiled(value, u, *self.state)
        except Exception as e:  # noqa: BLE001 - no C++ compiler, an unsupported op or config: eager, said once
            if not compiling:
                raise
            lines = str(e).strip().splitlines() or [repr(e)]
            choice.failed, choice.kept, choice.compiled, self.state = True, False, None, None
            choice.reason = f"compiling the step failed ({type(e).__name__}: {lines[0][:200]})"
            print(f"genstrat: decode: {choice.reason}; decoding eagerly", file=sys.stderr)
            generator.set_state(before)
            return self.next_values(i, value, cond, cache, generator)
        if not compiling:  # the compiling call's time is the compile's, not a step's
            self.probe(time.perf_counter() - start)
        return values

    def probe(self, seconds: float) -> None:
        """``auto``: after PROBE_STEPS compiled steps (the compiling call excluded), keep the compiled step only if
        it is SPEEDUP_NEEDED x faster than the eager steps were."""
        choice = self.choice
        if choice.kept is not None:
            return
        choice.compiled_seconds.append(seconds)
        if len(choice.compiled_seconds) < PROBE_STEPS:
            return
        compiled = sum(choice.compiled_seconds) / len(choice.compiled_seconds)
        choice.probe = {"compiled_step_s": compiled, "eager_step_s": choice.eager_step_s() or None}
        if self.mode == "compiled" or not choice.eager_steps:
            choice.kept, choice.reason = True, f"asked for compiled ({compiled * 1e6:.0f} us a step)"
            return
        eager = choice.eager_step_s()
        choice.kept = eager >= SPEEDUP_NEEDED * compiled
        verdict = "kept" if choice.kept else "rejected"
        choice.reason = (f"compiled after {choice.eager_s:.1f} s of eager steps (compile {choice.compile_s:.1f} s), "
                         f"{verdict}: {compiled * 1e6:.0f} us a step against eager {eager * 1e6:.0f} us")
