"""Which network for sample-level audio AR: the Transformer trunk with a KV cache, or a WaveNet with queues?

Issue 18 asks to measure both at equal minutes and keep the better. Each network is trained by the ordinary loop
(``training.train``, the `ar` strategy's loss, unchanged) for the same wall-clock minutes on the same clips, then
scored on held-out clips by its own negative log-likelihood (bits per sample, the quantity both minimise) and timed
generating one clip at batch 1 (real-time factor = compute seconds per second of audio).

    python docs/experiments/sample_ar_network.py --data fsdd --data-dir ../shared/data/fsdd --minutes 4 \\
        --batch-size 16 --out docs/results/sample-ar-network.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from genstrat.data import load_dataset
from genstrat.training.model_io import SIZES, assemble
from genstrat.nn import BackboneConfig
from genstrat.training.precision import cpu_flags
from genstrat.strategies import get_strategy
from genstrat.training.loop import Budget, train


def measure(network: str, data, args) -> dict:
    strategy = get_strategy("ar", data.units)
    d, layers, heads = SIZES[args.size]
    cfg = BackboneConfig(vocab_size=data.units.vocab_size, seq_len=data.units.seq_len, num_classes=data.num_classes,
                         d_model=d, n_layers=layers, n_heads=heads, network=network)
    torch.manual_seed(args.seed)
    model = assemble(strategy, cfg)
    summary = train(strategy, model, data, Budget(minutes=args.minutes), batch_size=args.batch_size, seed=args.seed,
                    desc=f"ar ({network})", precision="fp32")
    model.eval()
    test = data.test_units[: args.n_test].long(), data.test_labels[: args.n_test].long()
    bits = strategy.bits_per_unit(model, *test, batch_size=4)
    generator = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    strategy.generate(model, torch.tensor([3]), None, generator)
    seconds = time.perf_counter() - start
    return {"network": network, "params": sum(p.numel() for p in model.parameters()), "updates": summary["steps"],
            "minutes": args.minutes, "updates_per_s": summary["updates_per_s"], "test_bits_per_sample": round(bits, 4),
            "n_test": test[0].shape[0], "latency_b1_s": round(seconds, 2),
            "rtf_b1": round(seconds / data.units.seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="spoken")
    parser.add_argument("--data-dir")
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", default="small", choices=list(SIZES))
    parser.add_argument("--n-test", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data = load_dataset(args.data, data_dir=args.data_dir)
    rows = [measure(network, data, args) for network in ("wavenet", "transformer")]
    result = {"data": args.data, "seconds": data.units.seconds, "sample_rate": data.units.sample_rate,
              "batch_size": args.batch_size, "size": args.size, "cpu_flags": sorted(cpu_flags()),
              "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(), "rows": rows}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
