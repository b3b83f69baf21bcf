"""What the audio judge makes of speech a generator has touched (issue 18): held-out clips, altered in known ways.

The codec's reconstructions reached STOI 0.72 yet only 0.18 judge agreement in the first fsdd bench. Either the
codec loses the words or the judge reads something else than the words. This script asks the judge about the
held-out clips themselves after alterations whose effect on intelligibility is known: a white noise floor at a
given level (dB below full scale), a gain change, a low-pass filter, and the clip's own STFT magnitude with its
phase rebuilt by Griffin-Lim (Griffin & Lim 1984; what a magnitude-only decoder would give), and two the judge
does not train on (a pink noise floor, a 0.3 s reverb). For each: agreement with the true digit (n = every held-out
clip) and STOI against the clean clip.

The first judge (absolute log-mel, clean clips only) is in ``docs/results/audio-judge-robustness-clean-judge.json``;
the judge of ``modalities/audio.py`` today (log-mel relative to each clip's peak, trained with
``eval/speech_alter.py``'s alterations) in ``docs/results/audio-judge-robustness.json``.

    python docs/experiments/audio_judge_robustness.py --data fsdd --data-dir ../shared/data/fsdd \\
        --out docs/results/audio-judge-robustness.json
"""

from __future__ import annotations

import argparse
import json
import platform

import torch

from genstrat.data import load_dataset
from genstrat.modalities.audio import AudioEvaluator, intelligibility
from genstrat.training.precision import cpu_flags


def alterations(waves: torch.Tensor, sample_rate: int, generator: torch.Generator) -> dict:
    """name -> altered waves (N, T) in [-1, 1]."""
    out = {"clean": waves}
    for db in (-70, -60, -50, -40, -30):
        noise = torch.randn(waves.shape, generator=generator) * 10 ** (db / 20)
        out[f"noise floor {db} dB"] = (waves + noise).clamp(-1, 1)
    out["gain -12 dB"] = waves * 10 ** (-12 / 20)
    # two alterations the judge never trains on (eval/speech_alter.py alters gain, band and white noise only)
    white = torch.randn(waves.shape, generator=generator)
    pink = torch.fft.irfft(torch.fft.rfft(white, dim=1) / torch.fft.rfftfreq(waves.shape[1]).clamp(min=1e-3).sqrt(),
                           n=waves.shape[1], dim=1)
    out["pink noise floor -40 dB (not trained on)"] = (waves + pink / pink.std() * 10 ** (-40 / 20)).clamp(-1, 1)
    decay = torch.exp(-torch.arange(int(0.3 * sample_rate)) / (0.3 * sample_rate / 6.9))  # RT60 0.3 s
    impulse = torch.randn(decay.shape, generator=generator) * decay
    impulse[0] = 1.0
    wet = torch.fft.irfft(torch.fft.rfft(waves, n=2 * waves.shape[1], dim=1)
                          * torch.fft.rfft(impulse, n=2 * waves.shape[1]), dim=1)[:, : waves.shape[1]]
    out["reverb RT60 0.3 s (not trained on)"] = (wet / wet.abs().amax(1, keepdim=True) * 0.95)
    spectrum = torch.fft.rfft(waves, dim=1)
    freqs = torch.fft.rfftfreq(waves.shape[1], 1 / sample_rate)
    out["low-pass 2 kHz"] = torch.fft.irfft(spectrum * (freqs <= 2000), n=waves.shape[1], dim=1)
    window = torch.hann_window(256)
    magnitude = torch.stft(waves, 256, 64, window=window, return_complex=True).abs()
    phase = torch.rand(magnitude.shape, generator=generator) * 2 * torch.pi
    for _ in range(32):  # Griffin-Lim: keep the magnitude, take the phase of the signal it implies
        rebuilt = torch.istft(torch.polar(magnitude, phase), 256, 64, window=window, length=waves.shape[1])
        phase = torch.stft(rebuilt, 256, 64, window=window, return_complex=True).angle()
    out["Griffin-Lim phase (32 iterations)"] = torch.istft(torch.polar(magnitude, phase), 256, 64, window=window,
                                                           length=waves.shape[1]).clamp(-1, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="fsdd")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--judge-steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/results/audio-judge-robustness.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = load_dataset(args.data, data_dir=args.data_dir)
    evaluator = AudioEvaluator(data, n=data.test_units.shape[0], seed=args.seed, judge_steps=args.judge_steps,
                               size="small", progress=True, device="cpu")
    waves, labels = data.units.decode(data.test_units.long()), data.test_labels.long()
    rows = []
    for name, altered in alterations(waves, data.units.sample_rate, torch.Generator().manual_seed(1)).items():
        units = data.units.encode(altered)
        scored = evaluator.score(units, labels)
        rows.append({"alteration": name, "agree": scored["agree"], "agree_ci": scored.get("agree_ci"),
                     "fd": scored["fd"], "stoi": intelligibility(waves, data.units.decode(units),
                                                                 data.units.sample_rate)["stoi"],
                     "n": int(labels.shape[0])})
        print(f"{name:36s} agree {rows[-1]['agree']:.3f}  fd {rows[-1]['fd']:9.1f}  stoi {rows[-1]['stoi']:.3f}")
    from genstrat.modalities.audio import JUDGE_VARIANT

    meta = {"data": args.data, "judge_test_accuracy": evaluator.meta["judge_test_accuracy"], "judge": JUDGE_VARIANT,
            "judge_steps": args.judge_steps, "cpu": platform.processor() or platform.machine(),
            "cpu_flags": cpu_flags()}
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
