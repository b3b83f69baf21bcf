"""The shape of the code: a new strategy or dataset is a registration, the modality lives in one registry, no import
cycles, every output path is checked before work, and the Python API does what the command line does."""

import ast
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import genstrat
from genstrat.cli import main
from genstrat.data import DATASETS, load_dataset, register_dataset
from genstrat.data.dataset import ImageData
from genstrat.strategies import STRATEGIES, Strategy, register_strategy
from genstrat.strategies.base import Generation
from genstrat.strategies.sampling import guided_logits, sample_units

PACKAGE = Path(genstrat.__file__).parent
TINY = ["--size", "tiny", "--batch-size", "16", "--no-progress"]


class ReverseRaster(Strategy):
    """AR in reverse raster order (last unit first): p(x | c) = prod_i p(x_{L-1-i} | x_{>L-1-i}, c). Defined here,
    registered in one line, to show that a strategy needs no edit anywhere else."""

    name = "reverse-ar"
    causal = True
    modalities = ("image",)

    def steps_for(self, requested):
        return self.units.seq_len

    def loss(self, model, units, cond):
        flipped = units.flip(1)
        logits = model(flipped[:, :-1], cond)[:, model.cond_slots - 1:]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), flipped.reshape(-1))

    @torch.no_grad()
    def generate(self, model, cond, steps, generator, on_version=None, options=None):
        opts = options or self.sampling_defaults()
        units = torch.full((cond.shape[0], model.cfg.seq_len), model.mask_id, dtype=torch.long, device=cond.device)
        for i in range(model.cfg.seq_len):  # no cache: one full pass per unit, the plain way
            logits = guided_logits(model, units.flip(1)[:, :i], cond, opts.guidance)[:, -1]
            units[:, -1 - i], _ = sample_units(logits, opts, generator)
            if on_version is not None:
                on_version(i + 1, units.clone())
        return Generation(units=units, nfe=model.cfg.seq_len)


def first_five_digits(**options) -> ImageData:
    """A new dataset, defined here: scikit-learn's digits 0-4 only (five classes)."""
    digits = load_dataset("digits", **options)
    keep_train, keep_test = digits.train_labels < 5, digits.test_labels < 5
    return ImageData(name="digits-0-4", units=digits.units, class_names=digits.class_names[:5],
                     train_units=digits.train_units[keep_train], train_labels=digits.train_labels[keep_train],
                     test_units=digits.test_units[keep_test], test_labels=digits.test_labels[keep_test],
                     spec={"name": "digits-0-4", "levels": digits.units.vocab_size})


@pytest.fixture
def registered():
    register_strategy(ReverseRaster)
    register_dataset("digits-0-4", first_five_digits)
    yield
    STRATEGIES.pop("reverse-ar")
    DATASETS.pop("digits-0-4")


def run_everywhere(tmp_path, data, strategy, capsys):
    """train, sample, bench and report through the command line; returns the bench rows."""
    ckpt, bench = tmp_path / "ckpt", tmp_path / "bench"
    assert main(["train", "--data", data, "--strategy", strategy, "--steps", "3", "--out", str(ckpt), *TINY]) == 0
    assert main(["sample", str(ckpt), "--label", "2", "--n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").is_file() and "sequential network evaluations" in capsys.readouterr().out
    assert main(["bench", "--data", data, "--strategies", f"{strategy},nar", "--steps", "1", "--train-steps", "3",
                 "--n", "20", "--judge-steps", "50", "--throughput-batch", "10", "--out", str(bench), *TINY]) == 0
    assert main(["report", str(bench)]) == 0
    return json.loads((bench / "results.json").read_text()), (bench / "report.md").read_text()


def test_a_strategy_defined_here_runs_through_every_command(tmp_path, registered, capsys):
    rows, report = run_everywhere(tmp_path, "digits", "reverse-ar", capsys)
    mine = [r for r in rows if r["strategy"] == "reverse-ar"]
    assert len(mine) == 1 and mine[0]["nfe"] == 64 and 0 <= mine[0]["agree"] <= 1 and mine[0]["fd"] > 0
    assert "reverse-ar" in report


def test_a_dataset_defined_here_runs_through_every_command(tmp_path, registered, capsys):
    rows, report = run_everywhere(tmp_path, "digits-0-4", "ar", capsys)
    assert {r["data"] for r in rows} == {"digits-0-4"} and "digits-0-4" in report
    assert main(["sample", str(tmp_path / "ckpt"), "--label", "7"]) == 2  # it knows five labels, not ten
    assert "0..4" in capsys.readouterr().err


def test_no_modality_branches_outside_the_registry():
    """The image / text difference is decided in genstrat/modalities only: nowhere else asks which modality (or old
    ``kind``) it is handling."""
    branch = re.compile(r"\bon_text\b|\bkind\s*==|modality\s*[!=]=|[!=]=\s*[\"'](image|text|audio)[\"']")
    offenders = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
                 for path in PACKAGE.rglob("*.py") if "modalities" not in path.parts
                 for n, line in enumerate(path.read_text().splitlines(), 1) if branch.search(line)]
    assert offenders == []


def module_imports(path: Path) -> set[str]:
    """The genstrat modules a file imports, at module level and inside functions alike (a function-level import
    hides a cycle from the interpreter, not from a reader)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("genstrat")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("genstrat"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_no_import_cycles():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {name: {m for m in module_imports(path) if m in modules and m != name} for name, path in modules.items()}
    state, cycles = {}, []

    def visit(name, trail):
        state[name] = "open"
        for nxt in graph[name]:
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[name] = "done"

    for name in modules:
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_every_network_stage_one_and_evaluator_answers_its_contract():
    """The typed contracts (``nn/contracts.py``, ``modalities/registry.Evaluator``) hold for every network genstrat
    builds and every registered modality's evaluator."""
    from genstrat.training.autoencoding import build_stage_one
    from genstrat.modalities import modality_of
    from genstrat.modalities.registry import MODALITIES, Evaluator
    from genstrat.nn import Backbone, BackboneConfig
    from genstrat.nn.codec import Codec, CodecConfig
    from genstrat.nn.contracts import FastStep, Network, StageOne
    from genstrat.nn.wavenet import WaveNet

    transformer = Backbone(BackboneConfig(vocab_size=5, seq_len=8, num_classes=3, d_model=16, n_layers=1, n_heads=2,
                                          causal=True))
    wavenet = WaveNet(BackboneConfig(vocab_size=256, seq_len=50, num_classes=3, d_model=32, n_layers=2,
                                     network="wavenet"))
    assert all(isinstance(net, Network) and isinstance(net, FastStep) for net in (transformer, wavenet))
    assert not isinstance(torch.nn.Linear(2, 2), Network)  # the check can fail
    digits = load_dataset("digits")
    stage_ones = [build_stage_one(modality_of(digits.units).stage_one(digits, kind))
                  for kind in ("fsq", "continuous", "multiscale")]
    assert all(isinstance(s, StageOne) for s in stage_ones + [Codec(CodecConfig(samples=800, sample_rate=8000))])
    asked = [name for name, member in vars(Evaluator).items() if callable(member) and not name.startswith("_")]
    for modality in MODALITIES.values():
        wanted = asked + (["reconstruction"] if modality.stage_one is not None else [])
        assert [m for m in wanted if not callable(getattr(modality.evaluator, m, None))] == [], modality.name


def layer_order() -> dict[str, int]:
    """docs/architecture.md's layer line: each top-level package or loose module of genstrat, or a module of a
    package whose files sit in several layers (``training.loop``) -> its layer, bottom 0."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    line = re.search(r"^Layers, bottom to top: `(.+)`$", text, re.M).group(1)
    return {name: i for i, group in enumerate(line.split("|")) for name in group.split()}


def layer_of(name: str, layers: dict[str, int]) -> int:
    """The layer of module ``name`` (``genstrat.training.loop``): its own entry in the line, else its package's. The
    package itself (``import genstrat``, ``from genstrat import api``) is the API's layer; a package of layered
    modules (``genstrat.training``, its docstring alone) is its lowest."""
    parts = name.split(".")
    if len(parts) > 2 and ".".join(parts[1:3]) in layers:
        return layers[".".join(parts[1:3])]
    if len(parts) > 1 and parts[1] not in layers:
        return min(v for k, v in layers.items() if k.split(".")[0] == parts[1])
    return layers[parts[1] if len(parts) > 1 else "api"]


def upward_imports(source: str, module: str, layers: dict[str, int]) -> list[str]:
    """Every import in ``source`` (module level or inside a function) of a genstrat module in a higher layer than
    ``module``'s."""
    mine, found = layer_of(module, layers), []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        found += [f"line {node.lineno}: {name}" for name in names
                  if name.split(".")[0] == "genstrat" and layer_of(name, layers) > mine]
    return found


def test_every_import_goes_down_the_layers_written_in_the_architecture_page():
    layers = layer_order()
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    named = {name.split(".")[0] for name in layers}
    assert tops == named, f"in the code or the layer line, not both: {sorted(tops ^ named)}"
    for package in {name.split(".")[0] for name in layers if "." in name}:  # a layered package: every file named
        files = {f"{package}.{p.stem}" for p in (PACKAGE / package).glob("*.py") if p.stem != "__init__"}
        listed = {name for name in layers if name.startswith(package + ".")}
        assert files == listed, f"in {package}/ or the layer line, not both: {sorted(files ^ listed)}"
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts == ("genstrat", "__init__"):
            continue  # the package's face: it re-exports the API
        found = upward_imports(path.read_text(), ".".join(parts), layers)
        if found:
            offenders[str(path.relative_to(PACKAGE.parent))] = found
    assert offenders == {}


def test_the_layer_test_catches_a_function_level_import_that_goes_up():
    source = ("import torch\nfrom genstrat.units import PixelUnits\n\n"
              "def later():\n    from genstrat.benchmark.run import run\n")
    assert upward_imports(source, "genstrat.nn.backbone", layer_order()) == ["line 5: genstrat.benchmark.run"]
    assert upward_imports(source, "genstrat.cli", layer_order()) == []
    # inside a layered package too: the checkpoint files may not reach up to the loop that uses them
    inside = "def later():\n    from genstrat.training.loop import train\n"
    assert upward_imports(inside, "genstrat.training.checkpoint", layer_order()) == [
        "line 2: genstrat.training.loop"]
    assert upward_imports(inside, "genstrat.training.distillation", layer_order()) == []


@pytest.mark.parametrize("argv", [
    ["bench", "--data", "digits", "--strategies", "ar", "--train-steps", "1", "--out", "/proc/genstrat-x"],
    ["train", "--data", "digits", "--strategy", "ar", "--steps", "100000", "--out", "/proc/genstrat-x/ckpt"],
    ["train-autoencoder", "--data", "digits", "--steps", "100000", "--out", "/proc/genstrat-x/ae"],
])
def test_unwritable_outputs_fail_in_one_line_before_any_work(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("genstrat: error: cannot write --out /proc/genstrat-x") and err.count("\n") == 1


def test_sample_checks_its_output_before_loading(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "no-such-ckpt"), "--label", "1", "--out", "/proc/genstrat-x.png"]) == 2
    assert "cannot write --out /proc/genstrat-x.png" in capsys.readouterr().err


def test_python_api_end_to_end(tmp_path):
    summary = genstrat.train("digits", "mask-predict", tmp_path / "mp", steps=5, size="tiny", batch_size=16,
                             progress=False)
    assert summary["steps"] == 5
    generator = genstrat.load(tmp_path / "mp")
    out = genstrat.sample(generator, label=3, n=6, steps=4, versions=True, options={"guidance": 1.0})
    assert out.units.shape == (6, 64) and out.objects.shape == (6, 1, 8, 8) and out.nfe == 4 and len(out.versions) == 4
    again = genstrat.sample(tmp_path / "mp", label=3, n=6, steps=4, options={"guidance": 1.0})
    assert torch.equal(again.units, out.units)  # same seed, same samples
    with pytest.raises(genstrat.GenstratError, match="does not apply"):
        genstrat.sample(generator, label=3, options={"sampler": "ddim"})
    rows = genstrat.bench("digits", ["ar", "nar"], tmp_path / "bench", train_steps=3, steps=[1], n=20, size="tiny",
                          batch_size=16, judge_steps=50, throughput_batch=10, progress=False)
    assert {r["strategy"] for r in rows} == {"real", "independent", "ar", "nar"}
    assert genstrat.report(tmp_path / "bench").is_file()
    with pytest.raises(genstrat.GenstratError, match="unknown strategy"):
        genstrat.bench("digits", ["vqgan"], tmp_path / "b2", train_steps=1)


def test_judges_are_cached_outside_the_bench_folder_by_fingerprint(tmp_path, monkeypatch):
    """A second bench folder on the same data reuses the judge trained for the first, and says so."""
    monkeypatch.setenv("GENSTRAT_CACHE", str(tmp_path / "cache"))
    settings = dict(train_steps=2, steps=[1], n=20, size="tiny", batch_size=16, judge_steps=30, throughput_batch=10,
                    progress=False)
    genstrat.bench("digits", ["nar"], tmp_path / "one", **settings)
    genstrat.bench("digits", ["nar"], tmp_path / "two", **settings)
    first, second = (json.loads((tmp_path / d / "meta.json").read_text())["judge_cost"] for d in ("one", "two"))
    assert first["cached"] is False and second["cached"] is True and first["steps"] == 30
    assert len(list((tmp_path / "cache" / "judges").iterdir())) == 1
    assert not (tmp_path / "one" / "judge").exists()
    assert "Judge cost: reused from the cache" in (tmp_path / "two" / "report.md").read_text()


def test_units_declare_their_geometry_and_patches_work_in_one_dimension():
    from genstrat.units import UnitSpace
    from genstrat.units.patches import from_slots, patch_options, to_slots

    digits, probe = load_dataset("digits").units, load_dataset("probe").units
    assert isinstance(digits, UnitSpace) and isinstance(probe, UnitSpace)
    assert digits.shape == (1, 8, 8) and probe.shape == (probe.seq_len,) and not probe.patchable
    assert patch_options(probe) == {}

    class Samples:  # a row of 64 audio-like samples: (T,)
        shape, patchable = (64,), True

    assert patch_options(Samples()) == {"patch": 2, "layout": (1, 64)}
    x = torch.arange(2 * 64).view(2, 64)
    slots = to_slots(x, (1, 64), 4)
    assert slots.shape == (2, 16, 4) and torch.equal(slots[0, 1], torch.tensor([4, 5, 6, 7]))
    assert torch.equal(from_slots(slots, (1, 64), 4), x)


def test_checkpoints_and_bench_folders_from_before_the_reshape_still_read(tmp_path, capsys):
    """A checkpoint whose backbone config still names the parts the trunk used to own (``posterior``,
    ``length_classes``) and the patch layout ``image`` loads and samples; a bench folder whose bench.json predates
    ``format`` still reports, and a resume of it is refused in one line."""
    ckpt = tmp_path / "latent"
    genstrat.train("digits", "latent", ckpt, steps=2, size="tiny", batch_size=8, progress=False)
    config = json.loads((ckpt / "config.json").read_text())
    backbone = config["backbone"]
    backbone.update(posterior=True, length_classes=0, image=backbone.pop("layout"))
    (ckpt / "config.json").write_text(json.dumps(config))
    assert genstrat.sample(ckpt, label=1, n=2).units.shape == (2, 64)

    bench = tmp_path / "bench"
    genstrat.bench("digits", ["nar"], bench, train_steps=2, steps=[1], n=20, size="tiny", batch_size=16,
                   judge_steps=30, throughput_batch=10, progress=False)
    settings = json.loads((bench / "bench.json").read_text())
    settings.pop("format")
    (bench / "bench.json").write_text(json.dumps(settings))
    meta = json.loads((bench / "meta.json").read_text())
    meta["kind"] = meta.pop("modality")  # meta.json named the modality "kind" before
    (bench / "meta.json").write_text(json.dumps(meta))
    assert main(["report", str(bench)]) == 0
    assert main(["bench", "--data", "digits", "--strategies", "nar", "--train-steps", "2", "--out", str(bench),
                 "--resume"]) == 2
    err = capsys.readouterr().err
    assert "written by an earlier genstrat" in err and err.count("\n") == 1
