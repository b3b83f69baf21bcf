"""How many bits a frame the speech codec needs: one FSQ codebook a frame, two, or twice the frames, at equal minutes.

Issue 18's codec bars (judge agreement of reconstructions >= 0.9, STOI >= 0.8) were missed by the one-codebook codec
(1,000 codes a frame at 125 frames a second, ~1.25 kbit/s: agreement 0.733, STOI 0.789 on FSDD after 6 minutes).
Each variant here is trained by ``genstrat train-autoencoder`` (``api.train_autoencoder``) for the same wall-clock
minutes and batch on the same clips, then its reconstructions of the held-out clips are judged by the bench's own
word-reading judge (agreement, Fréchet distance) and scored by STOI and PESQ, with code usage.

    python docs/experiments/codec_bits.py --data fsdd --data-dir ../shared/data/fsdd --minutes 6 --batch-size 32 \\
        --work runs/codec-bits --out docs/results/codec-bits.json
"""

from __future__ import annotations

import argparse
import json
import math
import platform
from pathlib import Path

import torch

from genstrat import api
from genstrat.training.precision import cpu_flags

VARIANTS = {  # name: (codebooks a frame, samples a frame)
    "1-codebook": (1, 64),  # the bench's codec so far: 125 frames a second
    "2-codebooks": (2, 64),
    "250-frames": (1, 32),  # one codebook, twice the frames (n_fft 128)
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="spoken")
    parser.add_argument("--data-dir")
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated names of VARIANTS")
    parser.add_argument("--work", required=True, help="folder for the codecs' checkpoints (resumable)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rows = []
    for name in args.variants.split(","):
        codebooks, hop = VARIANTS[name]
        folder = Path(args.work) / f"codebooks{codebooks}-hop{hop}"
        metrics = api.train_autoencoder(args.data, folder, minutes=args.minutes, factor=hop, codebooks=codebooks,
                                        batch_size=args.batch_size, seed=args.seed, progress=False,
                                        data_options={"data_dir": args.data_dir})
        cfg = metrics.pop("config")
        bits = cfg.codebooks * math.log2(cfg.codebook_size) * cfg.sample_rate / cfg.hop
        rows.append({"variant": name, "codebooks": codebooks, "hop": hop, "frames": cfg.frames,
                     "codes_per_clip": cfg.frames * cfg.codebooks, "kbit_per_s": round(bits / 1000, 3),
                     "minutes": args.minutes, **metrics})
        print(rows[-1], flush=True)
    result = {"data": args.data, "batch_size": args.batch_size, "cpu_flags": sorted(cpu_flags()),
              "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(), "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
