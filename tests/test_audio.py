"""Audio, the third modality: mu-law units, the spoken / fsdd / audiofolder datasets, and the bench on audio."""

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
    """Every one-stage strategy that lists audio trains, samples clips, is judged on log-mel spectrograms and timed
    in real-time factors; two-stage audio has no codec yet and says so in one line."""
    out = tmp_path / "bench"
    assert main(["bench", "--data", "spoken", *SHORT, "--strategies", "ar,nar,mask-predict,diffusion", "--steps",
                 "2", "--train-steps", "2", "--n", "20", "--judge-steps", "30", "--throughput-batch", "10", "--size",
                 "tiny", "--batch-size", "8", "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    generated = [r for r in rows if r["strategy"] not in ("real", "independent")]
    assert {r["strategy"] for r in generated} == {"ar", "nar", "mask-predict", "diffusion"}
    for r in generated:
        assert r["rtf_b1"] > 0 and r["audio_s_per_s"] > 0 and 0 <= r["agree"] <= 1 and r["fd"] >= 0
        assert (out / r["grid"]).is_file() and (out / (r["grid"][:-4] + "-wav-0.wav")).is_file()
    assert next(r for r in generated if r["strategy"] == "ar")["nfe"] == 1000
    report = (out / "report.md").read_text()
    assert "RTF (batch 1)" in report and "Listen:" in report
    ckpt = out / "checkpoints" / "mask-predict"
    wav = str(tmp_path / "s.wav")
    assert main(["sample", str(ckpt), "--label", "7", "--n", "2", "--steps", "4", "--out", wav]) == 0
    assert (tmp_path / "s-0.wav").is_file() and (tmp_path / "s-1.wav").is_file() and (tmp_path / "s.png").is_file()
    capsys.readouterr()
    assert main(["train", "--data", "spoken", *SHORT, "--strategy", "two-stage:ar", "--steps", "1", "--out",
                 str(tmp_path / "ts"), "--autoencoder", str(tmp_path / "none")]) == 2
    assert main(["bench", "--data", "spoken", *SHORT, "--strategies", "two-stage:ar", "--train-steps", "1", "--out",
                 str(tmp_path / "ts")]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2 and all(e.startswith("genstrat: error:") for e in errors)
