"""Text: units, datasets, the probe's exact metrics, length prediction, context conditions."""

import json

import pytest
import torch

from genstrat.cli import main
from genstrat.data import load_dataset
from genstrat.eval.text_metrics import distinct_n, is_mixture, probe_scores
from genstrat.training.model_io import build_model
from genstrat.strategies import get_strategy
from genstrat.training.loop import Budget, train
from genstrat.units.text import END, PAD, TextUnits, bpe_units, char_units


@pytest.fixture(scope="module")
def probe():
    return load_dataset("probe")


def test_char_units_round_trip_and_end_cut():
    units = char_units(["an actor", "a professor"], seq_len=12)
    rows = units.encode(["an actor", "a pro"])
    assert rows.shape == (2, 12) and rows[0, 8] == END and rows[0, 9:].eq(PAD).all()
    assert units.decode(rows) == ["an actor", "a pro"]
    assert units.lengths(rows).tolist() == [8, 5]
    junk = rows.clone()
    junk[1, 7] = units.char_ids["x"] if "x" in units.char_ids else units.char_ids["a"]  # after END: ignored
    junk[1, 1] = PAD  # a PAD inside the text is dropped
    assert units.decode(junk)[1] == "apro"
    assert torch.equal(units.canonical(junk)[1], units.encode(["apro"])[0])
    with pytest.raises(ValueError, match="does not fit"):
        units.encode(["a" * 12])
    with pytest.raises(ValueError, match="not in this tokenizer"):
        units.encode(["zebra"])
    assert TextUnits.from_dict(units.to_dict()).decode(rows) == ["an actor", "a pro"]


def test_bpe_units_round_trip():
    lines = ["To be, or not to be, that is the question:", "Whether 'tis nobler in the mind to suffer"] * 50
    units = bpe_units(lines, seq_len=40, vocab_size=300)
    assert units.vocab_size <= 300 and units.tokenize(["<pad>"])[0] != [PAD]
    rows = units.encode(lines[:2])
    assert units.decode(rows) == lines[:2]
    assert (units.lengths(rows) < len(lines[0])).all()  # merges happened
    again = TextUnits.from_dict(json.loads(json.dumps(units.to_dict())))
    assert again.decode(rows) == lines[:2]


def test_probe_rows_are_valid_answers_at_their_frequencies(probe):
    texts = probe.units.decode(probe.train_units)
    labels = probe.train_labels.tolist()
    assert all(t in probe.truth[c] for t, c in zip(texts, labels))
    for c, table in enumerate(probe.truth):
        assert abs(sum(table.values()) - 1) < 1e-9
        mine = [t for t, label in zip(texts, labels) if label == c]
        for answer, p in table.items():
            assert abs(mine.count(answer) / len(mine) - p) < 0.04


def test_mixture_and_probe_scores():
    answers = ["an actor", "a professor", "a singer"]
    assert is_mixture("a pinger", answers)          # 'a ' + letters from professor / singer at their positions
    assert not is_mixture("an actor", answers)      # valid
    assert not is_mixture("zzzzzzzz", answers)      # invalid, not made of answers
    assert not is_mixture("an act", answers)        # no answer has this length
    truth = [{"an actor": 0.5, "a singer": 0.5}]
    exact = probe_scores(["an actor", "a singer"] * 10, [0] * 20, truth)
    assert exact["valid"] == 1 and exact["mixed"] == 0 and exact["tv"] == 0
    always = probe_scores(["an actor"] * 20, [0] * 20, truth)
    assert always["valid"] == 1 and always["tv"] == 0.5  # valid but wrong frequencies
    mixed = probe_scores(["an anger", "an actor"], [0, 0], truth)
    assert mixed["mixed"] == 0.5 and mixed["invalid"] == 0.5 and mixed["mixed_examples"] == [[0, "an anger"]]
    assert distinct_n([[1, 2, 3], [1, 2, 4]], 2) == 3 / 4


def test_text_strategies_train_and_sample(probe):
    cond = torch.arange(6)
    for name in ("ar", "nar-end", "nar-length", "mask-predict", "latent"):
        torch.manual_seed(0)
        strategy = get_strategy(name, probe.units)
        model = build_model(strategy, probe.num_classes, size="tiny")
        batch, labels = probe.test_units[:256].long(), probe.test_labels[:256]
        with torch.no_grad():
            before = strategy.loss(model, batch, labels).item()
        train(strategy, model, probe, Budget(steps=40), batch_size=64, lr=5e-3, progress=False)
        with torch.no_grad():
            after = strategy.loss(model, batch, labels).item()
        assert after < 0.8 * before, (name, before, after)
        versions = []
        out = strategy.generate(model, cond, 4, torch.Generator().manual_seed(0),
                                on_version=lambda i, u: versions.append(u), options=strategy.sampling_defaults())
        units = out.units
        assert units.shape == (6, probe.units.seq_len) and (units < probe.units.vocab_size).all(), name
        assert versions and torch.equal(versions[-1], units), name
        if name == "ar":
            assert out.nfe <= probe.units.seq_len
            after_end = torch.arange(units.shape[1])[None] > probe.units.lengths(units)[:, None]
            assert units[after_end].eq(PAD).all()
        if name in ("nar-length", "mask-predict"):  # length first: END sits at the drawn length, inside the row
            assert out.nfe == (2 if name == "nar-length" else 5)
            lengths = probe.units.lengths(units)
            assert (lengths >= 1).all() and (lengths < probe.units.seq_len).all()


def test_nar_length_canvas_marks_the_length(probe):
    from genstrat.strategies.lengths import length_canvas

    strategy = get_strategy("nar-length", probe.units)
    model = build_model(strategy, probe.num_classes, size="tiny")
    canvas = length_canvas(model, probe.units, torch.tensor([3, 0]))
    assert canvas[0, :3].eq(model.mask_id).all() and canvas[0, 3] == END and canvas[0, 4:].eq(PAD).all()
    assert canvas[1, 0] == END


def test_image_only_strategies_refuse_text(probe):
    from genstrat.errors import GenstratError

    for name in ("coarse-to-fine", "diffusion"):
        with pytest.raises(GenstratError, match="not text"):
            get_strategy(name, probe.units)
    with pytest.raises(GenstratError, match="not image"):
        get_strategy("nar-length", load_dataset("digits").units)


def test_names_dataset():
    data = load_dataset("names")
    assert data.class_names == ["male", "female", "surname"]
    texts = data.units.decode(data.train_units[:50])
    assert all(t and t[0].isupper() for t in texts)
    assert set(data.train_labels.tolist()) == {0, 1, 2}


@pytest.fixture
def text_file(tmp_path):
    lines = [f"line number {i} says {'ab' * (i % 5 + 1)}" for i in range(60)]
    path = tmp_path / "poem.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, lines


def test_textfile_contexts_precede_their_lines(text_file):
    path, lines = text_file
    data = load_dataset(f"textfile:{path}")
    assert data.context_len == 64 and data.train_labels.shape[1] == 64
    texts = data.units.decode(data.train_units.long())
    assert texts[:3] == lines[:3]
    context = data.units.decode(data.train_labels[5:6].long())[0]
    assert context.endswith(lines[4] + "\n") and lines[3] in context
    assert data.test_units.shape[0] == 6  # the last 10% of lines, a contiguous block
    assert data.units.decode(data.test_units.long())[-1] == lines[-1]


def test_context_backbone_cache_equals_recompute():
    from genstrat.nn import Backbone, BackboneConfig

    model = Backbone(BackboneConfig(vocab_size=7, seq_len=9, num_classes=0, d_model=32, n_layers=2, n_heads=4,
                                    context_len=5)).eval()
    cond = torch.randint(0, 8, (3, 5))
    x = torch.randint(0, 7, (3, 8))
    full = model(x, cond)
    assert full.shape == (3, 6 + 8, 7)
    cache = model.new_cache(3)
    pieces = [model(x[:, :0], cond, cache)] + [model(x[:, i:i + 1], cond, cache) for i in range(8)]
    assert torch.allclose(torch.cat(pieces, 1), full, atol=1e-5)
    other = cond.clone()
    other[:, 0] = (other[:, 0] + 1) % 7
    assert not torch.allclose(model(x, other), full, atol=1e-4)  # the context is seen


def test_text_bench_and_sample_cli(tmp_path, text_file, capsys):
    path, _ = text_file
    out = tmp_path / "bench"
    assert main(["bench", "--data", "probe", "--strategies", "ar,nar-end,nar-length,mask-predict,latent",
                 "--steps", "1,2", "--train-steps", "3", "--size", "tiny", "--batch-size", "16", "--n", "60",
                 "--throughput-batch", "20", "--out", str(out), "--no-progress"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert {(r["strategy"], r.get("steps")) for r in rows} >= {("real", None), ("independent", None), ("ar", 16),
                                                                ("nar-end", 1), ("nar-length", 1), ("mask-predict", 1),
                                                                ("mask-predict", 2), ("latent", 1)}
    real = next(r for r in rows if r["strategy"] == "real")
    assert real["valid"] == 1 and real["mixed"] == 0
    independent = next(r for r in rows if r["strategy"] == "independent")
    assert independent["mixed"] > 0.2 and independent["valid"] < 0.5
    for r in rows:
        assert {"valid", "mixed", "tv", "invalid"} <= set(r) and 0 <= r["tv"] <= 1
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "## Mixed outputs" in report and "TV distance" in report
    out2 = tmp_path / "bench2"
    assert main(["bench", "--data", f"textfile:{path}", "--strategies", "ar,mask-predict", "--steps", "2",
                 "--train-steps", "3", "--size", "tiny", "--batch-size", "16", "--n", "20", "--judge-steps", "5",
                 "--throughput-batch", "10", "--out", str(out2), "--no-progress"]) == 0
    rows = json.loads((out2 / "results.json").read_text())
    assert all(r["ppl_ref"] > 1 for r in rows) and "bits_per_char" in next(r for r in rows if r["strategy"] == "ar")
    ckpt = out2 / "checkpoints" / "ar"
    capsys.readouterr()
    assert main(["sample", str(ckpt), "--prompt", "line number 3", "--n", "2", "--no-progress"]) == 0
    assert "samples for prompt" in capsys.readouterr().out
    assert main(["sample", str(ckpt), "--n", "2"]) == 2
    assert "--prompt" in capsys.readouterr().err
    assert main(["sample", str(out / "checkpoints" / "latent"), "--label", "0", "--n", "3",
                 "--out", str(tmp_path / "s.txt")]) == 0
    assert len((tmp_path / "s.txt").read_text().splitlines()) == 3


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe bad bytes", "not UTF-8"),
    (b"one line only\n", "at least 20"),
])
def test_textfile_bad_input(tmp_path, capsys, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    assert main(["train", "--data", f"textfile:{path}", "--strategy", "ar", "--steps", "1",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert main(["train", "--data", f"textfile:{tmp_path / 'missing.txt'}", "--strategy", "ar", "--steps", "1",
                 "--out", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
