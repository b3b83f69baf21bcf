"""Audio, the third modality: mu-law units, the spoken / fsdd / audiofolder datasets, and the bench on audio."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from genstrat.cli import main
from genstrat.data import load_dataset
from genstrat.errors import GenstratError
from genstrat.units import MuLawUnits, units_from_dict

FSDD = Path(__file__).resolve().parents[2] / "shared" / "data" / "fsdd"
SHORT = ["--seconds", "0.25", "--sample-rate", "4000"]


def test_mu_law_round_trip_and_companding():
    units = MuLawUnits(sample_rate=8000, samples=5)
    waves = torch.tensor([[-1.0, -0.01, 0.0, 0.01, 1.0]])
    codes = units.encode(waves)
    assert codes[0, 0] == 0 and codes[0, 4] == 255 and codes[0, 2] in (127, 128)
    assert codes[0, 1] + codes[0, 3] == 255 and codes[0, 3] - codes[0, 1] > 20  # quiet samples get many levels
    back = units.decode(codes)
    assert torch.allclose(back, waves, atol=0.002)
    assert units.decode(torch.tensor([[256, 256, 0, 255, 128]]))[0, :2].eq(0).all()  # MASK decodes to silence
    assert units_from_dict(units.to_dict()) == units and units.shape == (5,) and units.modality == "audio"


@pytest.fixture(scope="module")
def spoken():
    return load_dataset("spoken", sample_rate=4000, seconds=0.25)


def test_spoken_digits_are_rendered_with_held_out_voices(spoken):
    assert spoken.units.seq_len == 1000 and spoken.num_classes == 10
    assert spoken.train_units.shape == (1440, 1000) and spoken.test_units.shape == (360, 1000)
    assert spoken.train_labels.bincount().tolist() == [144] * 10
    waves = spoken.units.decode(spoken.train_units[:20].long())
    assert (waves.abs().amax(1) > 0.5).all()  # peak-normalised speech, not silence


@pytest.mark.skipif(not (FSDD / "free-spoken-digit-dataset-1.0.10.tar.gz").is_file(), reason="no FSDD archive here")
def test_fsdd_reads_the_archive_with_its_own_split():
    data = load_dataset("fsdd", data_dir=str(FSDD))
    assert data.train_units.shape == (2700, 8000) and data.test_units.shape == (300, 8000)
    assert data.test_labels.bincount().tolist() == [30] * 10


def test_fsdd_missing_is_one_clear_line(tmp_path):
    with pytest.raises(GenstratError, match="FSDD not found in"):
        load_dataset("fsdd", data_dir=str(tmp_path))


def test_audiofolder_resamples_mixes_and_fits(tmp_path):
    import soundfile

    rng = np.random.default_rng(0)
    for label in ("yes", "no"):
        (tmp_path / label).mkdir()
        for i in range(5):  # 16 kHz stereo, 0.3 s: mixed to mono, resampled to 4 kHz, padded to 0.5 s
            soundfile.write(tmp_path / label / f"{i}.wav", rng.uniform(-0.5, 0.5, (4800, 2)), 16000)
    data = load_dataset(f"audiofolder:{tmp_path}", sample_rate=4000, seconds=0.5)
    assert data.class_names == ["no", "yes"] and data.units.seq_len == 2000
    assert data.train_units.shape[0] + data.test_units.shape[0] == 10 and data.test_units.shape[0] == 2
    waves = data.units.decode(data.train_units.long())
    assert waves[:, :1150].abs().amax(1).min() > 0.5 and waves[:, 1250:].abs().max() < 1e-3  # sound, then silence
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.wav").write_text("not audio")
    (tmp_path / "broken" / "b.wav").write_text("not audio")
    with pytest.raises(GenstratError, match="cannot read audio"):
        load_dataset(f"audiofolder:{tmp_path}")


def test_bench_and_sample_on_spoken_digits(tmp_path, capsys):
    """Every strategy that lists audio trains, samples clips, is judged on log-mel spectrograms and timed in real-time
    factors; two-stage rows go through the codec, whose reconstruction row carries STOI, PESQ and code usage."""
    out = tmp_path / "bench"
    strategies = "ar,nar,mask-predict,diffusion,two-stage:ar,two-stage:mask-predict,two-stage:diffusion"
    assert main(["bench", "--data", "spoken", *SHORT, "--strategies", strategies, "--steps",
                 "2", "--train-steps", "2", "--ae-steps", "2", "--n", "20", "--judge-steps", "30", "--throughput-batch",
                 "10", "--latency-repeats", "1", "--size", "tiny", "--batch-size", "8", "--ae-batch-size", "8",
                 "--out", str(out),
                 "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    codec_rows = {r["strategy"]: r for r in rows if r["strategy"].startswith("reconstruction:")}
    assert set(codec_rows) == {"reconstruction:fsq", "reconstruction:continuous"}
    for r in codec_rows.values():
        assert 0 <= r["stoi"] <= 1 and 0 <= r["agree"] <= 1
        assert -0.5 <= r["pesq"] <= 4.5 if importlib.util.find_spec("pesq") else r["pesq"] is None
    assert codec_rows["reconstruction:fsq"]["codebook_size"] == 1000
    generated = [r for r in rows if r["strategy"] not in ("real", "independent") and r["strategy"] not in codec_rows]
    assert {r["strategy"] for r in generated} == set(strategies.split(","))
    for r in generated:
        assert r["rtf_b1"] > 0 and r["audio_s_per_s"] > 0 and 0 <= r["agree"] <= 1 and r["fd"] >= 0
        assert (out / r["grid"]).is_file() and (out / (r["grid"][:-4] + "-wav-0.wav")).is_file()
    assert next(r for r in generated if r["strategy"] == "ar")["nfe"] == 1000
    # mask-predict over audio codes samples at the temperature tune chose (images keep 1.0: test_two_stage.py)
    assert next(r for r in generated if r["strategy"] == "two-stage:mask-predict")["sampling"]["temperature"] == 0.9
    report = (out / "report.md").read_text()
    assert "RTF (batch 1)" in report and "Listen:" in report
    ckpt = out / "checkpoints" / "mask-predict"
    wav = str(tmp_path / "s.wav")
    assert main(["sample", str(ckpt), "--label", "7", "--n", "2", "--steps", "4", "--out", wav]) == 0
    assert (tmp_path / "s-0.wav").is_file() and (tmp_path / "s-1.wav").is_file() and (tmp_path / "s.png").is_file()
    assert main(["sample", str(out / "checkpoints" / "two-stage-ar"), "--label", "3", "--n", "1", "--out",
                 str(tmp_path / "t.wav")]) == 0 and (tmp_path / "t-0.wav").is_file()
    capsys.readouterr()
    assert main(["train", "--data", "spoken", *SHORT, "--strategy", "two-stage:ar", "--steps", "1", "--out",
                 str(tmp_path / "ts"), "--autoencoder", str(tmp_path / "none")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 1 and errors[0].startswith("genstrat: error:")


def test_wavenet_queues_give_the_teacher_forced_logits():
    """Fast WaveNet's per-layer queues (one sample at a time) compute what the whole-sequence pass computes."""
    from genstrat.nn import BackboneConfig
    from genstrat.nn.wavenet import WaveNet

    torch.manual_seed(0)
    model = WaveNet(BackboneConfig(vocab_size=256, seq_len=300, num_classes=10, d_model=32, n_layers=2,
                                   network="wavenet")).eval()
    assert max(model.dilations) == 512 and len(model.dilations) == 10
    tokens, cond = torch.randint(0, 256, (3, 300)), torch.tensor([1, 4, 10])
    with torch.no_grad():
        whole = model(tokens[:, :-1], cond)
        cache = model.new_cache(3)
        stepped = torch.cat([model(tokens[:, :0], cond, cache)] +
                            [model(tokens[:, t:t + 1], cond, cache) for t in range(299)], dim=1)
    assert whole.shape == (3, 300, 256) and torch.allclose(whole, stepped, atol=1e-4)


def test_codec_learns_to_reconstruct_speech(spoken):
    """A hundred updates of the STFT-domain codec lower its loss; codes are one a frame and decode to clips."""
    from genstrat.training.autoencoding import build_stage_one, fit_autoencoder
    from genstrat.modalities.audio import codec_config
    from genstrat.training.loop import Budget

    cfg = codec_config(spoken, "fsq", factor=32, hidden=32, blocks=1)
    assert cfg.frames == 1000 // 32 + 1 and cfg.n_fft == 128 and cfg.codebooks == 1
    torch.manual_seed(0)
    untrained = build_stage_one(cfg).eval()
    codec, _ = fit_autoencoder(spoken, cfg, Budget(steps=100), None, batch_size=16, progress=False)
    waves = spoken.units.decode(spoken.test_units[:16].long())
    with torch.no_grad():
        assert codec.loss(waves).item() < 0.8 * untrained.loss(waves).item()
    waves = waves[:4]
    codes = codec.to_codes(waves)
    assert codes.shape == (4, cfg.frames) and int(codes.max()) < 1000
    assert codec.from_codes(codes).shape == (4, 1000)


def test_a_two_codebook_codec_writes_a_frames_codes_side_by_side(spoken, tmp_path, capsys):
    """Grouped FSQ: two codes a frame, frame-major in the code row; they decode to what the latent decodes to, a code
    not yet written (MASK) decodes as the latent's centre, and the prior's unit space counts both."""
    from genstrat.training.autoencoding import build_stage_one
    from genstrat.modalities.audio import codec_config
    from genstrat.units.codes import CodeUnits

    cfg = codec_config(spoken, "fsq", factor=32, hidden=32, blocks=1, codebooks=2)
    assert cfg.code_channels == 8 and "2 codes each" in cfg.describe()
    codec = build_stage_one(cfg).eval()
    waves = spoken.units.decode(spoken.test_units[:3].long())
    codes = codec.to_codes(waves)
    with torch.no_grad():
        _, indices = codec.latent(waves, with_indices=True)
        whole = codec.decode(codec.latent(waves)).clamp(-1, 1)
    assert codes.shape == (3, 2 * cfg.frames) and torch.equal(codes[:, 1::2], indices[..., 1].long())
    assert torch.allclose(codec.from_codes(codes), whole, atol=1e-5)
    masked = codes.clone()
    masked[:, 1::2] = cfg.codebook_size  # every frame's second code still MASK
    half = codec.from_codes(masked)
    assert torch.isfinite(half).all() and not torch.allclose(half, whole, atol=1e-3)
    assert CodeUnits.of(codec).seq_len == 2 * cfg.frames
    assert main(["train-autoencoder", "--data", "digits", "--codebooks", "2", "--steps", "1", "--out",
                 str(tmp_path / "ae")]) == 2
    assert "--codebooks" in capsys.readouterr().err


def test_train_autoencoder_lr_reaches_the_codec(tmp_path, monkeypatch):
    """The codec carries its own learning rate (its config, saved with it); a given ``--lr`` replaces it, and without
    one each stage one keeps its own (the codec's 1e-3, the image auto-encoder's 2e-3)."""
    import genstrat.training.autoencoding as autoencoding
    from genstrat import api

    seen = []

    def stop_before_training(data, cfg, budget, out, **options):
        seen.append((cfg, options))
        raise InterruptedError

    monkeypatch.setattr(autoencoding, "fit_autoencoder", stop_before_training)
    options = dict(steps=1, data_options={"sample_rate": 4000, "seconds": 0.25})
    for lr in (5e-4, None):
        with pytest.raises(InterruptedError):
            api.train_autoencoder("spoken", tmp_path / "codec", lr=lr, **options)
    assert [cfg.lr for cfg, _ in seen] == [5e-4, 1e-3]
    with pytest.raises(InterruptedError):
        api.train_autoencoder("digits", tmp_path / "ae", steps=1)
    assert "lr" not in seen[-1][1]  # fit_autoencoder's own default (2e-3) for images


def test_judge_view_ignores_level_and_alterations_keep_shape():
    """The judge's log-mel is relative to each clip's peak (a -12 dB gain leaves it unchanged above the floor), a
    near-silent clip stays dark rather than amplified, and the word-preserving alterations are seeded, bounded and
    actually alter the clip."""
    from genstrat.eval.speech_alter import word_preserving
    from genstrat.modalities.audio import log_mel

    t = torch.arange(8000) / 8000
    noise = torch.randn(2, 8000, generator=torch.Generator().manual_seed(0))
    waves = (torch.stack([0.3 * torch.exp(-3 * t), 0.2 * (t < 0.5)]) * noise).clamp(-1, 1)
    loud, quiet = log_mel(waves, 8000), log_mel(waves * 10 ** (-12 / 20), 8000)
    above_floor = (loud > 0.2) & (quiet > 0.2)
    assert above_floor.float().mean() > 0.5 and torch.allclose(loud[above_floor], quiet[above_floor], atol=1e-3)
    assert loud.amax() == pytest.approx(1.0) and log_mel(waves * 1e-4, 8000).amax() < 0.7
    first = word_preserving(waves, 8000, torch.Generator().manual_seed(3))
    again = word_preserving(waves, 8000, torch.Generator().manual_seed(3))
    assert first.shape == waves.shape and torch.equal(first, again) and first.abs().max() <= 1
    assert not torch.allclose(first, waves, atol=1e-3)


def test_a_wavenet_batch_that_cannot_fit_fails_before_training(tmp_path, capsys):
    """Sample-level AR's WaveNet says what a training step holds; a batch over the machine's memory is one line with
    the largest batch that fits, from `train` and from `bench`, before any step."""
    from genstrat.training.memory import check_fits
    from genstrat.nn import BackboneConfig
    from genstrat.nn.wavenet import WaveNet

    model = WaveNet(BackboneConfig(vocab_size=256, seq_len=8000, num_classes=10, d_model=128, n_layers=4,
                                   network="wavenet"))
    assert 25 * 2 ** 30 < model.activation_bytes(128) < 40 * 2 ** 30  # 128 one-second clips: the demo's OOM kill
    check_fits(model, 32, "cpu", available=24 * 2 ** 30)
    with pytest.raises(GenstratError, match=r"use --batch-size (\d+) or less"):
        check_fits(model, 128, "cpu", available=24 * 2 ** 30)
    for command in (["train", "--strategy", "ar", "--steps", "1", "--out", str(tmp_path / "t")],
                    ["bench", "--strategies", "nar,ar", "--train-steps", "1", "--out", str(tmp_path / "b")]):
        capsys.readouterr()
        assert main([command[0], "--data", "spoken", *SHORT, *command[1:], "--batch-size", "1000000"]) == 2
        errors = capsys.readouterr().err.splitlines()
        assert len(errors) == 1 and "--batch-size" in errors[0] and "GB" in errors[0]
    assert not (tmp_path / "t" / "model.safetensors").exists() and not (tmp_path / "b" / "checkpoints").exists()
