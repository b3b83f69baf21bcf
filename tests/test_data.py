import gzip
import json
import struct

import numpy as np
import pytest
from PIL import Image

from genstrat.cli import main
from genstrat.data import load_dataset
from genstrat.errors import GenstratError


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def fake_mnist(folder, n_train=30, n_test=10):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte.gz", rng.integers(0, 256, (n_train, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (n_test, 28, 28)))
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, n_test))
    return folder


def test_mnist_reads_idx_files(tmp_path):
    data = load_dataset("mnist", data_dir=str(fake_mnist(tmp_path / "m")))
    assert data.train_units.shape == (30, 784) and data.test_units.shape == (10, 784)
    assert data.units.levels == 8 and int(data.train_units.max()) <= 7


def test_mnist_accepts_parent_folder(tmp_path):
    fake_mnist(tmp_path / "mnist")
    assert load_dataset("mnist", data_dir=str(tmp_path)).train_units.shape[0] == 30


def test_mnist_truncated_file_is_a_clear_error(tmp_path):
    folder = fake_mnist(tmp_path / "m")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28)))
    raw = gzip.open(folder / "t10k-images-idx3-ubyte.gz").read()
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(raw[:500])
    with pytest.raises(GenstratError, match="truncated"):
        load_dataset("mnist", data_dir=str(folder))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(GenstratError, match="gzip"):
        load_dataset("mnist", data_dir=str(folder))


def make_folder(root, classes=("cats", "dogs"), per_class=5, mode="RGB", size=(20, 16)):
    rng = np.random.default_rng(1)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
            Image.fromarray(rng.integers(0, 256, shape).astype(np.uint8), mode=mode).save(
                root / c / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def test_imagefolder_grey_and_colour(tmp_path):
    root = make_folder(tmp_path / "imgs")
    grey = load_dataset(f"imagefolder:{root}", image_size=12)
    assert grey.class_names == ["cats", "dogs"] and grey.units.shape == (1, 12, 12)
    assert len(grey.train_units) + len(grey.test_units) == 10 and len(grey.test_units) == 2
    colour = load_dataset(f"imagefolder:{root}", image_size=6, channels=3, levels=4)
    assert colour.units.seq_len == 108 and int(colour.train_units.max()) <= 3


def test_imagefolder_works_with_train_and_sample(tmp_path):
    root = make_folder(tmp_path / "imgs", mode="L")
    ckpt = tmp_path / "ckpt"
    assert main(["train", "--data", f"imagefolder:{root}", "--image-size", "8", "--strategy", "mask-predict",
                 "--steps", "2", "--size", "tiny", "--out", str(ckpt), "--no-progress"]) == 0
    assert main(["sample", str(ckpt), "--label", "1", "--n", "2", "--out", str(tmp_path / "s.png")]) == 0


def test_imagefolder_errors(tmp_path):
    with pytest.raises(GenstratError, match="does not exist"):
        load_dataset(f"imagefolder:{tmp_path / 'nope'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenstratError, match="no class sub-folders"):
        load_dataset(f"imagefolder:{tmp_path / 'empty'}")
    root = make_folder(tmp_path / "bad")
    (root / "cats" / "broken.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(GenstratError, match="broken.png"):
        load_dataset(f"imagefolder:{root}")
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    with pytest.raises(GenstratError, match="no PNG or JPEG"):
        load_dataset(f"imagefolder:{tmp_path / 'noimg'}")


def test_a_data_option_is_one_declaration_in_its_loader(monkeypatch, tmp_path, capsys):
    """A loader that declares a new option gets its flag on every command that reads data, with the datasets that
    read it in its help; the value reaches the loader, is recorded in the checkpoint's data spec and read back from
    it; a value out of range, or the option on a dataset that does not read it, is one line before any work."""
    import genstrat.data as data_registry
    from genstrat.cli import build_parser
    from genstrat.data import digits, load_from_spec
    from genstrat.data.options import DataOption, reads

    stride = DataOption("stride", int, "keep every n-th training image", low=1, high=10)  # the one declaration

    @reads(stride)
    def load(stride=None):
        data = digits.load()
        data.train_units, data.train_labels = data.train_units[::stride or 1], data.train_labels[::stride or 1]
        data.spec = {"name": "strided", "stride": stride}
        return data

    monkeypatch.setitem(data_registry.DATASETS, "strided", load)
    helps = {a.dest: a.help for a in build_parser()._subparsers._group_actions[0].choices["bench"]._actions}
    assert helps["stride"] == "strided: keep every n-th training image"
    out = tmp_path / "ckpt"
    assert main(["train", "--data", "strided", "--stride", "3", "--strategy", "nar", "--steps", "1", "--size", "tiny",
                 "--batch-size", "4", "--out", str(out), "--no-progress"]) == 0
    spec = json.loads((out / "config.json").read_text())["data"]
    assert spec["stride"] == 3 and len(load_from_spec(spec).train_units) == len(digits.load().train_units[::3])
    capsys.readouterr()
    for argv, message in ((["--data", "strided", "--stride", "20"], "--stride must be between 1 and 10, got 20"),
                          (["--data", "digits", "--stride", "2"], "digits does not read --stride (it takes --levels)")):
        assert main(["train", *argv, "--strategy", "nar", "--steps", "1", "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0]
        assert not (tmp_path / "x" / "config.json").exists()


def test_the_command_line_writes_no_data_or_training_option_by_hand():
    """build_parser and its helpers name no data option and no training option: their flags come from the loaders'
    declarations and from TrainingOptions."""
    import dataclasses
    import inspect

    import genstrat.cli as cli
    from genstrat.data import data_options
    from genstrat.training.options import TrainingOptions

    source = inspect.getsource(cli)
    flags = [o.flag for o, _ in data_options().values()]
    flags += ["--" + f.name.replace("_", "-") for f in dataclasses.fields(TrainingOptions)]
    written = [flag for flag in flags if f'"{flag}"' in source or f"'{flag}'" in source]
    assert not written, f"written by hand in cli.py: {written}"
    assert len(flags) >= 12
