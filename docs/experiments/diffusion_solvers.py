"""Re-sample a bench's pixel-diffusion checkpoint with other 20-step high-order solvers and judge them with the
bench's own judge, conditions and ``sample_all`` (the experiment behind docs/benchmarks.md, "pixel diffusion
trained again").

    .venv/bin/python docs/experiments/diffusion_solvers.py runs/mnist-diff 1000 1,2,3 sde3:20 sa:20 ddpm:200

Each job is SAMPLER:STEPS; a sampler is one of genstrat's own (ddpm, ddim, dpm-solver, dpm-solver-sde) or a variant
below. One JSON line per job and sampling seed (the bench samples its rows with seed 1). Variants, all diffusers
schedulers on the training schedule with the predicted x_0 clipped to [-1, 1] as genstrat's samplers do:
- ``ode3`` / ``sde3``: DPM-Solver++(3M), the ODE and its SDE form (Lu et al. 2022, third-order multistep);
- ``sa`` / ``sa34``: SA-Solver (Xue et al. 2023), stochastic Adams predictor-corrector, orders 2/2 and 3/4, with
  diffusers' default noise (tau = 1 for t in [200, 800], 0 outside); ``safull``: orders 2/2 with tau = 1 throughout.
Not part of the package: a bench would need a sampler to win before it joined ``diffusion.SAMPLERS``.
"""

import json
import os
import sys
import time
from pathlib import Path

import torch
from diffusers import DPMSolverMultistepScheduler, SASolverScheduler

import genstrat.strategies.diffusion as diffusion
from genstrat.benchmark.measure import sample_all
from genstrat.training.checkpoint import read_json
from genstrat.data import load_dataset
from genstrat.modalities import modality_of
from genstrat.training.model_io import load_model

own = diffusion.make_scheduler
SA_ORDERS = {"sa": (2, 2), "sa34": (3, 4), "safull": (2, 2)}


def make_scheduler(name, prediction=diffusion.PREDICTION):
    common = dict(num_train_timesteps=diffusion.TRAIN_STEPS, beta_schedule="squaredcos_cap_v2",
                  prediction_type=prediction, thresholding=True, sample_max_value=1.0)
    if name in ("ode3", "sde3"):
        kind = "dpmsolver++" if name == "ode3" else "sde-dpmsolver++"
        return DPMSolverMultistepScheduler(**common, algorithm_type=kind, solver_order=3)
    if name in SA_ORDERS:
        predictor, corrector = SA_ORDERS[name]
        noise = {"tau_func": lambda t: 1} if name == "safull" else {}
        return SASolverScheduler(**common, predictor_order=predictor, corrector_order=corrector, **noise)
    return own(name, prediction)


def main(folder, n, seeds, *jobs):
    diffusion.make_scheduler = make_scheduler  # generate() looks it up at call time
    folder, n = Path(folder), int(n)
    settings = read_json(folder / "bench.json", "bench settings")["settings"]
    data = load_dataset(settings["data"]["name"], data_dir=os.environ.get("GENSTRAT_DATA", "../shared/data/mnist"),
                        levels=settings["data"].get("levels"))
    seed = settings["seed"]
    evaluator_class = modality_of(data.units).evaluator
    evaluator = evaluator_class(data, n=n, seed=seed, judge_steps=settings["judge_steps"], size=settings["size"],
                                progress=False, device=torch.device("cpu"))
    model, strategy, _ = load_model(folder / "checkpoints" / "diffusion")
    conditions = data.conditions(n, torch.Generator().manual_seed(seed + 2))  # the bench's conditions
    for job in jobs:
        sampler, steps = job.split(":")
        for s in map(int, seeds.split(",")):
            start = time.time()
            options = strategy.sampling_defaults().merged(sampler=sampler)
            units, nfe, _ = sample_all(strategy, model, conditions, int(steps), options, 100, s)
            quality = evaluator.score(units, conditions)
            print(json.dumps({"sampler": sampler, "steps": int(steps), "nfe": nfe, "sampling_seed": s, "n": n,
                              **quality, "seconds": round(time.time() - start)}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
