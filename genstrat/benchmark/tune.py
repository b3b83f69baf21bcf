"""`genstrat tune`: choose a trained model's sampling settings on a validation reference, not on the bench's test split.

A bench judges Fréchet distance against the held-out split; choosing a guidance scale or a temperature by that same
number would tune on the test set. ``tune`` draws each setting of a grid (``--vary temperature=0.9,1.0 --vary
guidance=1.2,1.5``, every combination) from one checkpoint, over conditions and sampling seeds of its own, and judges
the samples with the bench's judge against judge features of *training* objects (``validation_reference``). It also
reports where real held-out objects sit against that reference (``real_fd``), the scale a setting's distance is read
on. A setting overrides the options the checkpoint was saved with (those ``genstrat sample`` draws with). Each
(setting, seed) row is written to ``--out`` the moment it is measured; ``--resume`` keeps the rows already there that
were measured from the same checkpoint at the same n and passes (a stopped tune loses at most one row). The
temperature two-stage mask-predict defaults to over audio codes was chosen this way (docs/benchmarks.md, "Sampling
settings of two-stage mask-predict over audio codes").
"""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import torch

from genstrat.training.checkpoint import ensure_writable, read_json, write_json
from genstrat.errors import GenstratError
from genstrat.eval.frechet import frechet_distance
from genstrat.eval.judging import score
from genstrat.nn.judge import judge_outputs
from genstrat.strategies.base import check_option_value

VALIDATION_N = 1000  # training objects in the validation reference (fewer when the split is smaller)


def parse_vary(texts: list[str], options) -> list[dict]:
    """``["temperature=0.9,1.0", "guidance=1.2"]`` -> every combination as override dicts, checked against the
    strategy's ``options`` (a name it does not read, or a value of the wrong kind, is a one-line error)."""
    axes = {}
    for text in texts:
        name, sep, values = text.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise GenstratError(f"--vary takes NAME=V1,V2,... (e.g. temperature=0.9,1.0), got '{text}'")
        if name not in options:
            raise GenstratError(f"--vary {name}: this strategy has no such sampling option; it reads: "
                                f"{', '.join(options)}")
        axes[name] = [parse_value(name, v.strip(), options[name]) for v in values.split(",")]
        for value in axes[name]:
            check_option_value(name, value)
    return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


def parse_value(name: str, text: str, default):
    """A value in the kind of the option's default (bool: true/false; None defaults take numbers, or ``none``: the
    option left off, e.g. ``top_k=none,50``)."""
    if default is None and text.lower() == "none":
        return None
    if isinstance(default, str):  # a named choice (a sampler, a guidance ramp): checked against its choices
        from genstrat.strategies import all_options

        choices = all_options()[name].choices
        if choices and text not in choices:
            raise GenstratError(f"--vary {name}: '{text}' is not one of: {', '.join(choices)}")
        return text
    if isinstance(default, bool):
        if text.lower() not in ("true", "false"):
            raise GenstratError(f"--vary {name}: give true or false, got '{text}'")
        return text.lower() == "true"
    try:
        return int(text) if isinstance(default, int) or (default is None and text.isdigit()) else float(text)
    except ValueError:
        raise GenstratError(f"--vary {name}: '{text}' is not a number") from None


def check_judged(evaluator_class, data) -> None:
    """Tune reads Fréchet distance in a judge's features; a modality judged otherwise (text) is a one-line error."""
    if getattr(evaluator_class, "quality_key", None) != "fd":
        raise GenstratError(f"tune measures Fréchet distance in a judge's features, and {data.name} is judged "
                            f"otherwise (text: validity, answer frequencies or a reference model's perplexity)")


def validation_reference(evaluator, data, generator: torch.Generator) -> torch.Tensor:
    """Judge features of up to VALIDATION_N training objects, as the judge sees them (the bench's reference is the
    held-out split; this one is not)."""
    pick = torch.randperm(data.train_units.shape[0], generator=generator)[:VALIDATION_N]
    features, _ = judge_outputs(evaluator.judge, evaluator.view(data.train_units[pick]))
    return features


def tune(generator, data, evaluator, grid: list[dict], *, steps: int | None, n: int, seeds: list[int], batch: int,
         out: Path, checkpoint: str = "", resume: bool = False, progress=print) -> list[dict]:
    """Measure every (setting, seed) of ``grid`` on ``generator`` (a loaded checkpoint, read from ``checkpoint``);
    returns the rows, also written to ``out`` as they come."""
    out = ensure_writable(Path(out), "--out", is_file=True)
    kept = []
    if resume and out.is_file():
        earlier = read_json(out, "an earlier tune")
        if Path(earlier.get("checkpoint") or "").resolve() != Path(checkpoint).resolve():
            raise GenstratError(f"cannot resume {out}: it tuned {earlier.get('checkpoint')!r}, not {checkpoint!r}; "
                                f"give another --out")
        kept = earlier["rows"]
    validation = validation_reference(evaluator, data, torch.Generator().manual_seed(7))
    head = {"checkpoint": checkpoint, "real_fd": round(frechet_distance(evaluator.reference_features, validation), 3),
            "validation_n": int(validation.shape[0]), "defaults": generator.options.to_dict()}
    strategy, model, k = generator.strategy, generator.model, generator.strategy.steps_for(steps)
    device = next(model.parameters()).device
    rows = list(kept)
    for setting, seed in itertools.product(grid, seeds):
        if any(r["setting"] == setting and r["seed"] == seed and r["steps"] == k and r["n"] == n for r in kept):
            continue
        options = generator.options.merged(**setting)
        cond = data.conditions(n, torch.Generator().manual_seed(seed))
        draw = torch.Generator(device).manual_seed(seed + 1)
        start = time.perf_counter()
        units = torch.cat([strategy.generate(model, chunk.to(device), k, draw, options=options).units.cpu()
                           for chunk in cond.split(batch)])
        seconds = time.perf_counter() - start
        judged = score(evaluator.judge, evaluator.view(units), cond, validation)  # the bench's scoring, other reference
        row = {"setting": setting, "seed": seed, "steps": k, "n": n, "val_fd": judged["fd"],
               "val_fd_ci": judged["fd_ci"], "agree": judged["agree"], "agree_ci": judged["agree_ci"],
               "sample_seconds": round(seconds, 2)}
        rows.append(row)
        write_json(out, {**head, "rows": rows})
        progress(f"{json.dumps(setting)} seed={seed} steps={k}: val_fd={row['val_fd']:.4g} agree={row['agree']:.3f}")
    write_json(out, {**head, "rows": rows})
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """One line per setting: the mean validation Fréchet and agreement over its seeds."""
    by_setting = {}
    for r in rows:
        by_setting.setdefault(json.dumps(r["setting"], sort_keys=True), []).append(r)
    return [{"setting": json.loads(key), "seeds": len(group),
             "val_fd": round(sum(r["val_fd"] for r in group) / len(group), 3),
             "agree": round(sum(r["agree"] for r in group) / len(group), 4)} for key, group in by_setting.items()]
