"""Audio: judged by a CNN on log-mel spectrograms, written as WAV files and spectrogram images.

- The judge is the image judge's CNN (``nn/judge.py``) over log-mel spectrograms (``log_mel``: |STFT|^2 through a
  triangular mel filter bank, Davis & Mermelstein 1980; HTK's mel scale m = 2595 log10(1 + f / 700); in dB
  relative to the clip's loudest bin and floored 80 dB below it, as torchaudio's ``AmplitudeToDB(top_db=80)``
  does), trained on the real training split and on copies of it altered in ways that keep the word (gain, band
  limits, a noise floor: ``eval/speech_alter.py``), so that it reads the word and not the recording. Rows report
  agreement with the requested label, the Fréchet distance of its features to the held-out clips' (n stated),
  diversity, and, since audio has a length in seconds, the real-time factor at batch 1 (compute seconds per second
  of audio: above 1 is slower than real time) and seconds of audio generated per second at batch N. Reference
  rows: ``real`` (training clips) and ``independent`` (every sample drawn from its per-class marginal: the one-pass
  floor, heard as noise).
- Samples: a grid of spectrograms (one column per label) and the first clips as WAV files; versions: a spectrogram
  strip and the final clip.
- Stage one of two-stage rows is the learned codec (``nn/codec.py``). Its ``reconstruction:<kind>`` row scores held-out
  clips through it: judge agreement and Fréchet like samples, code usage, and STOI (Taal et al. 2011, ``pystoi``) and
  narrow-band PESQ (ITU-T P.862, ``pesq``) of the clips concatenated into one signal (a single short clip gives these
  measures too few frames), at 8 kHz for PESQ's narrow band.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from genstrat.eval.reconstruction import code_usage
from genstrat.eval.judging import fit_judge, judge_cache, real_images, score
from genstrat.eval.speech_alter import word_preserving
from genstrat.eval.references import independent_row, real_row
from genstrat.modalities.image import one_sample_versions
from genstrat.modalities.registry import Modality, register_modality
from genstrat.nn.judge import judge_outputs
from genstrat.media.grid import save_grid
from genstrat.media.versions import save_versions

N_FFT, HOP, MELS, TOP_DB, QUIET_DB = 256, 128, 40, 80.0, 40.0
WAVS_PER_ROW = 10
PESQ_SECONDS = 10
JUDGE_STRIDE = 2  # the judge's first convolution halves the 40 x 63 spectrogram (nn/judge.py)
ALTERED_COPIES = 2
JUDGE_VARIANT = "peak-relative-log-mel+word-preserving-alterations"  # part of the judge's cache key


def mel_filters(sample_rate: int, n_fft: int = N_FFT, mels: int = MELS) -> torch.Tensor:
    """(n_fft // 2 + 1, mels): triangular filters evenly spaced on the mel scale from 0 Hz to Nyquist."""
    to_mel = lambda f: 2595 * math.log10(1 + f / 700)  # noqa: E731
    edges_mel = torch.linspace(0, to_mel(sample_rate / 2), mels + 2)
    edges_hz = 700 * (10 ** (edges_mel / 2595) - 1)
    bins_hz = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1)[:, None]
    lower, centre, upper = edges_hz[:-2], edges_hz[1:-1], edges_hz[2:]
    rising = (bins_hz - lower) / (centre - lower)
    falling = (upper - bins_hz) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0)


def log_mel(waves: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """(N, T) waves in [-1, 1] -> (N, 1, MELS, frames) log-mel spectrograms scaled to [0, 1], the low frequencies at
    the bottom row. 1 is the clip's own loudest mel bin and 0 is TOP_DB below it: the level a clip was recorded or
    generated at is not read as part of the word (an absolute full-scale reference made a -12 dB gain, STOI 0.999,
    halve the judge's agreement; ``docs/results/audio-judge-robustness-clean-judge.json``). A clip whose loudest
    bin is quieter than QUIET_DB below full scale keeps that ceiling, so near-silence is shown and judged as quiet,
    not amplified."""
    window = torch.hann_window(N_FFT)
    spectrum = torch.stft(waves.float(), N_FFT, HOP, window=window, return_complex=True).abs() ** 2
    mel = torch.einsum("nft,fm->nmt", spectrum, mel_filters(sample_rate))
    reference = (window.sum() / 2) ** 2  # a full-scale sine's power in its bin
    db = 10 * torch.log10(mel.clamp(min=1e-10) / reference)
    ceiling = db.amax(dim=(1, 2), keepdim=True).clamp(min=-QUIET_DB)
    return ((db - ceiling + TOP_DB) / TOP_DB).clamp(0, 1).flip(1)[:, None]


class AudioEvaluator:
    quality_key, quality_label = "fd", "Fréchet distance (judge features on log-mel; lower is better)"
    default_n = 500

    def __init__(self, data, n: int, seed: int, judge_steps: int, size: str, progress: bool, device,
                 limit_minutes: float | None = None):
        self.data, self.n, self.units = data, n, data.units
        self.judge, accuracy, cost = fit_judge(data, steps=judge_steps, seed=seed, progress=progress, view=self.view,
                                               cache=judge_cache(data, judge_steps, seed, JUDGE_STRIDE, JUDGE_VARIANT),
                                               stride=JUDGE_STRIDE, augment=self.altered_views, variant=JUDGE_VARIANT)
        test_images, _ = real_images(data, "test", self.view)
        self.reference_features, _ = judge_outputs(self.judge, test_images)
        self.meta = {"judge_test_accuracy": accuracy, "n_test": int(test_images.shape[0]), "judge_cost": cost,
                     "sample_rate": self.units.sample_rate, "seconds": self.units.seconds}

    def view(self, units: torch.Tensor) -> torch.Tensor:
        """What the judge sees of a clip: its log-mel spectrogram."""
        return log_mel(self.units.decode(units), self.units.sample_rate)

    def altered_views(self, units: torch.Tensor, labels: torch.Tensor, generator: torch.Generator):
        """ALTERED_COPIES copies of the training clips, each altered in ways that keep the word (``eval/speech_alter``),
        as the judge sees them, for it to train on beside the clean ones."""
        waves = self.units.decode(units.long())
        copies = [self.view(self.units.encode(word_preserving(waves, self.units.sample_rate, generator)))
                  for _ in range(ALTERED_COPIES)]
        return torch.cat(copies), labels.repeat(ALTERED_COPIES)

    def reference_rows(self, generator: torch.Generator) -> list[dict]:
        real = real_row(self.data, self.judge, self.reference_features, self.n, generator, self.view)
        return [{**real, "judge_test_accuracy": round(self.meta["judge_test_accuracy"], 4)},
                independent_row(self.data, self.judge, self.reference_features, self.n, generator, self.view)]

    def reconstruction(self, codec, generator: torch.Generator) -> dict:
        """The codec's reconstructions of n held-out clips, judged like samples (two-stage's floor), with STOI / PESQ
        of the clips joined end to end against the originals and the code usage."""
        codec = codec.eval().to("cpu")
        pick = torch.randperm(self.data.test_units.shape[0], generator=generator)[: self.n]
        units, labels = self.data.test_units[pick].long(), self.data.test_labels[pick].long()
        codes = torch.cat([codec.to_codes(chunk) for chunk in self.units.decode(units).split(250)])
        rebuilt = self.units.encode(torch.cat([codec.from_codes(chunk) for chunk in codes.split(250)]))
        row = {**intelligibility(self.units.decode(units), self.units.decode(rebuilt), self.units.sample_rate),
               **self.score(rebuilt, labels)}
        return {**row, **code_usage(codes, codec.cfg.codebook_size), "n": len(pick)}  # at most the held-out clips

    def score(self, units: torch.Tensor, cond: torch.Tensor) -> dict:
        return score(self.judge, self.view(units), cond, self.reference_features)

    def timing_fields(self, latency_b1_s: float, throughput_per_s: float) -> dict:
        """Real-time factor at batch 1 (compute seconds per second of audio) and audio seconds made per second."""
        seconds = self.units.seconds
        return {"rtf_b1": round(latency_b1_s / seconds, 4), "audio_s_per_s": round(throughput_per_s * seconds, 3)}

    def own_likelihood(self, strategy, model, device) -> dict:
        if not hasattr(strategy, "bits_per_unit"):
            return {}
        # on the first n held-out clips (at most the row's n): a sample-level pass over a clip is the cost of
        # 8,000 AR steps' worth of convolutions, and 360 clips took three minutes of the demo
        units, labels = self.data.test_units[: self.n].to(device), self.data.test_labels[: self.n].to(device)
        return {"nll_bits_per_unit": round(strategy.bits_per_unit(model, units, labels, batch_size=50), 4),
                "nll_n": int(units.shape[0])}

    def show(self, units: torch.Tensor, cond: torch.Tensor, path: Path) -> Path:
        """A spectrogram grid (8 per label) and the first WAVS_PER_ROW clips as WAV files beside it."""
        write_wavs(self.units, units[:WAVS_PER_ROW], path.with_name(path.name + "-wav"))
        shown = self.view(units[: self.data.num_classes * 8])
        return save_grid(shown, path.with_name(path.name + ".png"), columns=self.data.num_classes)

    def versions(self, strategy, model, options, path: Path, seed: int) -> Path:
        device = next(model.parameters()).device
        cond = torch.tensor([min(3, self.data.num_classes - 1)], device=device)
        frames = one_sample_versions(strategy, model, cond, options, seed)
        strip, _ = save_versions([self.view(v) for v in frames], path.with_suffix(".png"))
        write_wavs(self.units, frames[-1], path.with_name(path.name + "-final"))
        return strip


def intelligibility(clean: torch.Tensor, rebuilt: torch.Tensor, sample_rate: int) -> dict:
    """STOI (0..1) of ``rebuilt`` against ``clean`` (each (N, T)) joined into one signal, and narrow-band PESQ MOS-LQO
    (-0.5..4.5) averaged over PESQ_SECONDS-long runs of joined clips (P.862 is specified for 8-20 s signals; the
    ``pesq`` extension crashes on minutes of audio), at 8 kHz (resampled when the clips are not)."""
    from pystoi import stoi

    clean_np, rebuilt_np = clean.double().numpy(), rebuilt.double().numpy()
    row = {"stoi": round(float(stoi(clean_np.ravel(), rebuilt_np.ravel(), sample_rate, extended=False)), 4)}
    try:
        from pesq import pesq
    except ImportError:  # the pesq package is built from source; without a compiler it is not installed
        return {**row, "pesq": None}
    if sample_rate != 8000:
        from scipy.signal import resample_poly

        g = math.gcd(8000, sample_rate)
        clean_np, rebuilt_np = (resample_poly(x, 8000 // g, sample_rate // g, axis=1) for x in (clean_np, rebuilt_np))
    per_run = max(1, round(PESQ_SECONDS * 8000 / clean_np.shape[1]))
    scores = [pesq(8000, clean_np[i:i + per_run].ravel(), rebuilt_np[i:i + per_run].ravel(), "nb")
              for i in range(0, len(clean_np), per_run)]
    return {**row, "pesq": round(float(sum(scores) / len(scores)), 3)}


def codec_config(data, quantizer: str = "fsq", factor: int | None = None, **options):
    """Stage one of two-stage audio rows: the codec sized to the data's clips (``factor`` = samples per code frame,
    the STFT hop; n_fft = 4 hops), one FSQ codebook a frame unless ``codebooks`` says otherwise. Measured on FSDD
    (``docs/benchmarks.md``, "how many bits a frame"): two codebooks reconstruct better at equal codec minutes
    (Fréchet 38 vs 59), but a prior then writes twice the codes, makes half the updates in the same minutes, and
    every two-stage row of a 9-minute bench got worse (one-pass NAR agreement 0.754 -> 0.490); one it stays."""
    from genstrat.nn.codec import CodecConfig
    from genstrat.nn.multiscale import multiscale_over

    if quantizer == "multiscale":  # VAR's token maps in time over an fsq codec (nn/multiscale.py)
        return multiscale_over(codec_config(data, "fsq", factor, **options))
    hop = factor or 64
    return CodecConfig(samples=data.units.samples, sample_rate=data.units.sample_rate, hop=hop, n_fft=4 * hop,
                       quantizer=quantizer, **options)


def write_wavs(units_space, units: torch.Tensor, stem: Path) -> list[Path]:
    """One 16-bit WAV file per clip: stem-0.wav, stem-1.wav, ..."""
    import soundfile

    stem.parent.mkdir(parents=True, exist_ok=True)
    waves = units_space.decode(units.cpu()).numpy()
    paths = [stem.with_name(f"{stem.name}-{i}.wav") for i in range(len(waves))]
    for wave, path in zip(waves, paths):
        soundfile.write(path, wave, units_space.sample_rate, subtype="PCM_16")
    return paths


def write_samples(units_space, units: torch.Tensor, path: Path) -> Path:
    write_wavs(units_space, units, path.with_suffix(""))
    return save_grid(log_mel(units_space.decode(units), units_space.sample_rate), path.with_suffix(".png"),
                     columns=min(len(units), 8))


def print_samples(units_space, units: torch.Tensor, versions: list, out: str | None) -> list[str]:
    """`genstrat sample` on audio: WAV files OUT-0.wav, OUT-1.wav, ... and a spectrogram grid OUT.png."""
    path = Path(out or "samples.wav")
    grid = write_samples(units_space, units, path)
    lines = [f"-> {path.with_suffix('')}-0.wav .. -{len(units) - 1}.wav and {grid}"]
    if versions:
        strip, gif = save_versions([log_mel(units_space.decode(v[:1]), units_space.sample_rate) for v in versions],
                                   path.with_suffix(".png"))
        lines.append(f"versions 1..{len(versions)}: {strip} and {gif}")
    return lines


def report_intro(rows: list[dict], meta: dict) -> list[str]:
    return [f"Judge (a CNN on log-mel spectrograms) test accuracy: {meta['judge_test_accuracy']:.4f}. Fréchet "
            f"distances use n = {meta['n']} clips of {meta['seconds']:g} s at {meta['sample_rate']} Hz against the "
            f"{rows[0]['n_test']} held-out clips. `rtf_b1` = compute seconds per second of audio at batch 1.",
            "",
            "Reference rows: `real` = real training clips vs held-out; `independent` = every sample drawn "
            "independently from its per-class marginal (what one-shot NAR tends to: noise)."]


def report_samples(rows: list[dict], generated: list[dict], meta: dict, out: Path, series) -> list[str]:
    text = []
    if meta.get("versions"):
        text += ["## Versions", "", "One clip per strategy, every version's log-mel spectrogram (long chains "
                 "thinned to 16); the final clip's WAV lies beside the strip.", ""]
        for name, strip in meta["versions"].items():
            text += [f"**{name}**", "", f"![{name} versions]({strip})", ""]
    text += ["## Samples", "", "Log-mel spectrograms, one column per requested label; the first clips as WAV files.",
             ""]
    for r in generated:
        wavs = Path(r["grid"]).with_suffix("")
        links = ", ".join(f"[{i}]({wavs}-wav-{i}.wav)" for i in range(WAVS_PER_ROW))
        text += [f"### {series(r)}, {r['steps']} steps (NFE {r['nfe']})", "",
                 f"![{series(r)} {r['steps']}]({r['grid']})", "", f"Listen: {links}", ""]
    return text


COLUMNS = [("steps", "steps"), ("nfe", "NFE"), ("latency_b1_s", "batch-1 latency (s)"),
           ("step_s_b1", "step, batch 1 (s)"), ("floor_s_b1", "its floor (s)"), ("rtf_b1", "RTF (batch 1)"),
           ("audio_s_per_s", "audio s / s"), ("agree", "agreement"), ("fd", "Fréchet"), ("diversity", "diversity"),
           ("nll_bits_per_unit", "NLL (bits/sample)"), ("stoi", "STOI"), ("pesq", "PESQ (nb)"),
           ("code_perplexity", "code perplexity"), ("dead_codes", "dead codes"), ("ae_seconds", "codec s")]

AUDIO = register_modality(Modality(name="audio", evaluator=AudioEvaluator, columns=COLUMNS, write_samples=write_samples,
                                   print_samples=print_samples, report_intro=report_intro,
                                   report_samples=report_samples, stage_one=codec_config,
                                   quality_keys=("fd",)))
