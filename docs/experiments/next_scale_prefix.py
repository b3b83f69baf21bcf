"""Where does next-scale lose to raster AR? Give it the true first m maps, draw the rest, judge each completion.

    python docs/experiments/next_scale_prefix.py runs/next-scale-mnist-2/checkpoints/two-stage-next-scale \
        --out docs/results/next-scale-mnist-prefix.json

For m = 0 .. K (K token maps, coarsest first), 1,000 training digits (a fixed random pick) are encoded to their
multi-scale codes; the prior, sampled exactly as ``NextScale.generate`` samples (guidance ramped with the scale, the
finest maps at ``finest_temperature``), draws maps m+1 .. K given the true maps 1 .. m and the digit's label, and the
completions are judged like a bench row (Fréchet against the held-out split's judge features, agreement with the
label; 95% bootstrap intervals). m = 0 is plain sampling; m = K is the reconstructions themselves. The drop in
Fréchet from m to m+1 is what drawing map m+1 independently given the coarser ones costs. ``--set NAME=V`` overrides a
sampling option (the checkpoint's own options otherwise).
"""

from __future__ import annotations

import argparse
import json

import torch

from genstrat import api
from genstrat.data import load_from_spec
from genstrat.eval.judging import score
from genstrat.modalities import modality_of
from genstrat.strategies.base import SamplingOptions
from genstrat.strategies.next_scale import ramped_guidance
from genstrat.strategies.sampling import combine_guidance, sample_units


@torch.no_grad()
def complete(strategy, model, options, true: torch.Tensor, cond: torch.Tensor, given: int,
             generator: torch.Generator) -> torch.Tensor:
    """Codes whose first ``given`` maps are ``true``'s and whose others are drawn as ``NextScale.generate`` draws."""
    prior, quantizer = strategy.prior, strategy.autoencoder
    maps, guided = len(prior.lengths), options.guidance != 1.0
    rows = torch.cat([cond, model.null_condition(cond)]) if guided else cond
    cache, codes, below = model.new_cache(rows.shape[0]), true[:, :0], quantizer.empty(cond.shape[0])
    for k in range(maps):
        blank = torch.full((cond.shape[0], prior.lengths[k]), model.mask_id, dtype=torch.long)
        below, read = quantizer.enter(k, codes, below)
        ids = prior.slot_scale[prior.offsets[k]:prior.offsets[k + 1]]
        inputs = model.scale_in(quantizer.scale_input(read, k), ids)
        if guided:
            blank, inputs = torch.cat([blank, blank]), torch.cat([inputs, inputs])
        out = model(blank, rows, cache, slot_inputs=inputs)
        out = out[:, model.cond_slots:] if k == 0 else out
        if guided:
            ramp = options.guidance_ramp if "guidance_ramp" in options else "var"
            w = ramped_guidance(options.guidance, k, maps, ramp)
            out = combine_guidance(out, w) if w != 1.0 else out.chunk(2)[0]
        if k < given:
            drawn = true[:, prior.offsets[k]:prior.offsets[k + 1]]
        else:
            finest = quantizer.map_scale[k] >= quantizer.residual_scales
            drawn, _ = sample_units(out, SamplingOptions(options, temperature=options.finest_temperature)
                                    if finest and "finest_temperature" in options else options, generator)
        codes = torch.cat([codes, drawn], 1)
    return codes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--set", action="append", default=[], help="a sampling option, NAME=VALUE")
    parser.add_argument("--out")
    args = parser.parse_args()
    loaded = api.load(args.checkpoint)
    strategy, model = loaded.strategy, loaded.model
    overrides = {k: float(v) for k, v in (s.split("=", 1) for s in args.set)}
    options = loaded.options.merged(**overrides)
    data = load_from_spec(loaded.config["data"])
    evaluator = modality_of(data.units).evaluator(data, n=args.n, seed=0, judge_steps=2000, size="small",
                                                  progress=False, device=torch.device("cpu"))
    pick = torch.randperm(data.train_units.shape[0], generator=torch.Generator().manual_seed(3))[:args.n]
    cond = data.train_labels[pick].long()
    true = strategy.codes.encode(data.units.decode(data.train_units[pick].long())).long()
    rows = []
    for given in range(len(strategy.prior.lengths) + 1):
        generator = torch.Generator().manual_seed(11)
        codes = torch.cat([complete(strategy, model, options, t, c, given, generator)
                           for t, c in zip(true.split(250), cond.split(250))])
        judged = score(evaluator.judge, evaluator.view(strategy.to_pixels(codes)), cond, evaluator.reference_features)
        rows.append({"true_maps": given, "true_codes": strategy.prior.offsets[given], "fd": judged["fd"],
                     "fd_ci": judged["fd_ci"], "agree": judged["agree"], "agree_ci": judged["agree_ci"]})
        print(json.dumps(rows[-1]), flush=True)
    report = {"checkpoint": args.checkpoint, "n": args.n, "options": options.to_dict(),
              "map_lengths": strategy.prior.lengths, "rows": rows}
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
