"""Stage ones shipped in the package: usable by name wherever a stage-one folder is accepted, hashes checked on
load, provenance recorded, damage refused in one line."""

import json
import shutil

import pytest

from genstrat.training.checkpoint import read_json
from genstrat.cli import main
from genstrat.errors import GenstratError
from genstrat.pretrained import PROVENANCE, SHIPPED_FILES, file_sha256, provenance, shipped, stage_one_folder, verify

CODEC = "speech-codec-8k"


def test_the_speech_codec_is_shipped_with_its_provenance_and_its_hashes_hold():
    assert CODEC in shipped()
    folder = stage_one_folder(CODEC)  # checks every hash
    record = provenance(CODEC)
    assert record["command"].startswith("genstrat train-autoencoder") and record["machine"]
    assert record["train_steps"] > 0 and set(record["sha256"]) == set(SHIPPED_FILES)
    assert all(file_sha256(folder / name) == record["sha256"][name] for name in SHIPPED_FILES)
    config = read_json(folder / "config.json", "config")
    assert config["autoencoder"]["type"] == "codec" and config["training"]["steps"] == record["train_steps"]
    # measured on speech it was not trained on: the held-out recordings of fsdd and eSpeak's held-out voices
    assert {"fsdd", "spoken"} <= {row["data"] for row in record["reconstruction"]}


def test_a_damaged_shipped_file_is_refused_in_one_line(tmp_path):
    copy = tmp_path / CODEC
    shutil.copytree(shipped()[CODEC], copy)
    verify(copy)  # intact
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(weights))
    with pytest.raises(GenstratError, match="damaged .*model.safetensors.*reinstall genstrat"):
        verify(copy)
    (copy / "model.safetensors").unlink()
    with pytest.raises(GenstratError, match="missing"):
        verify(copy)
    record = json.loads((copy / PROVENANCE).read_text())
    assert "sha256" in record


def test_an_unknown_name_lists_the_shipped_ones(capsys):
    with pytest.raises(GenstratError, match=f"no stage one named 'speech-codec-2k'.*{CODEC}"):
        stage_one_folder("speech-codec-2k")
    assert main(["bench", "--data", "spoken", "--strategies", "two-stage:nar", "--train-steps", "1",
                 "--autoencoder", "speech-codec-2k", "--out", "unused", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and CODEC in err[0]


def test_a_bench_and_a_prior_stand_on_the_shipped_codec_by_name(tmp_path):
    """The bench judges the shipped codec's reconstructions as its own row (given, not trained) and trains only the
    prior; `genstrat train` takes the same name and the checkpoint carries the codec."""
    out = tmp_path / "bench"
    assert main(["bench", "--data", "spoken", "--strategies", "two-stage:nar", "--steps", "1", "--train-steps", "2",
                 "--autoencoder", CODEC, "--size", "tiny", "--batch-size", "8", "--n", "20", "--judge-steps", "30",
                 "--throughput-batch", "10", "--latency-repeats", "1", "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    codec = next(r for r in rows if r["strategy"] == "reconstruction:fsq")
    assert codec["ae_given"].endswith(CODEC) and codec["ae_given_train_steps"] == provenance(CODEC)["train_steps"]
    assert any(r["strategy"] == "two-stage:nar" for r in rows)
    ckpt = tmp_path / "prior"
    assert main(["train", "--data", "spoken", "--strategy", "two-stage:ar", "--autoencoder", CODEC, "--steps", "1",
                 "--size", "tiny", "--batch-size", "4", "--out", str(ckpt), "--no-progress"]) == 0
    assert file_sha256(ckpt / "autoencoder" / "model.safetensors") == provenance(CODEC)["sha256"]["model.safetensors"]


def test_the_demo_s_trained_benches_are_shipped_with_their_provenance_and_load():
    """Each part of the demo loads its models from a shipped bench (``demo-<part>``): every file's hash holds, every
    strategy of the part has its checkpoint (a student its rounds), trained on the part's data, and each loads."""
    from genstrat.benchmark.trained import TrainedModels
    from genstrat.data import load_dataset
    from genstrat.demo import PARTS
    from genstrat.training.model_io import load_model

    assert {part.shipped for part in PARTS} <= set(shipped("bench"))
    for part in [p for p in PARTS if p.shipped in shipped("bench")]:
        record = provenance(part.shipped)
        assert record["command"].startswith("genstrat demo --from-scratch") and record["machine"]
        trained = TrainedModels(part.shipped)  # checks every hash
        data = load_dataset(part.data, **{k: v for k, v in part.settings.get("data_options", {}).items()})
        trained.check(data, part.strategies)
        for name in part.strategies:
            folder = trained.checkpoint(name)
            assert folder is not None, (part.folder, name)
            for model_folder in sorted(folder.glob("steps-*")) or [folder]:
                model, strategy, config = load_model(model_folder)
                assert config["training"]["steps"] > 0 and model.num_params() > 0
