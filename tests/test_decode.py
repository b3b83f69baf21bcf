"""Sequential decoding at a fixed shape (``nn/decode.py``, ``strategies/step_decoder.py``): the static step draws
what the eager cached loop draws, compiled or not, and ``auto`` compiles only once eager steps have cost a compile."""

import time

import pytest
import torch

from genstrat.nn import Backbone, BackboneConfig
from genstrat.nn import decode
from genstrat.nn.decode import CompiledStep, choices_of
from genstrat.data import load_dataset
from genstrat.training.model_io import build_model
from genstrat.nn.wavenet import WaveNet
from genstrat.strategies import get_strategy
from genstrat.units import PixelUnits


def transformer():
    torch.manual_seed(0)
    cfg = BackboneConfig(vocab_size=5, seq_len=24, num_classes=3, d_model=32, n_layers=2, n_heads=4, causal=True)
    return Backbone(cfg).eval()


def wavenet():
    torch.manual_seed(0)
    model = WaveNet(BackboneConfig(vocab_size=256, seq_len=300, num_classes=10, d_model=32, n_layers=2,
                                   network="wavenet")).eval()
    with torch.no_grad():  # weights large enough that the draws depend on the past
        for p in model.parameters():
            p.mul_(3)
    return model


def ar_over(model):
    return get_strategy("ar", PixelUnits(levels=model.cfg.vocab_size, channels=1, height=1, width=model.cfg.seq_len))


def draw(model, mode, guidance, seed=7, **options):
    strategy = ar_over(model)
    opts = strategy.sampling_defaults().merged(guidance=guidance, decode=mode, **options)
    cond = torch.tensor([0, 1, 2])
    return strategy.generate(model, cond, None, torch.Generator().manual_seed(seed), options=opts).units


@pytest.fixture
def uncompiled(monkeypatch):
    """``CompiledStep`` that runs the static step eagerly: its arithmetic and state, without inductor's minutes."""

    def run_eagerly(self, *args):
        self.compile_s = 0.0
        self.program, self.inputs, self.places = (lambda *a: (self.step(*a),)), list(args), \
            [(j, j) for j in range(len(args))]
        return self.step(*args)

    monkeypatch.setattr(CompiledStep, "compile", run_eagerly)


@pytest.mark.parametrize("network", [transformer, wavenet])
def test_the_static_step_draws_what_the_cached_loop_draws(network, uncompiled):
    model = network()
    for guidance, options in ((1.0, {}), (2.0, {"top_k": 4}), (1.0, {"temperature": 0.0})):
        eager = draw(model, "eager", guidance, **options)
        static = draw(model, "compiled", guidance, **options)
        assert torch.equal(eager, static), (guidance, options)
        assert len(set(eager.flatten().tolist())) > 2  # the draws vary: the test can tell two streams apart


def test_the_static_step_draws_what_the_loop_draws_over_codes_over_a_text_context_and_up_to_end(uncompiled):
    """Code tables folded into the step (two-stage AR over FSQ codes), a context window of text tokens as the
    condition (cond_slots > 1), rows that stop at END and carry PAD after it."""
    coded = Backbone(BackboneConfig(vocab_size=8, seq_len=10, num_classes=3, d_model=32, n_layers=2, n_heads=4,
                                    causal=True, code_levels=[2, 4])).eval()
    assert torch.equal(draw(coded, "eager", 1.5), draw(coded, "compiled", 1.5))

    context = Backbone(BackboneConfig(vocab_size=5, seq_len=12, num_classes=1, d_model=32, n_layers=2, n_heads=4,
                                      causal=True, context_len=3)).eval()
    strategy = ar_over(context)
    window = torch.randint(0, 5, (3, 3), generator=torch.Generator().manual_seed(1))
    units = [strategy.generate(context, window, None, torch.Generator().manual_seed(2),
                               options=strategy.sampling_defaults().merged(guidance=2.0, decode=mode)).units
             for mode in ("eager", "compiled")]
    assert torch.equal(*units)

    names = load_dataset("names")
    torch.manual_seed(0)
    strategy = get_strategy("ar", names.units)
    model = build_model(strategy, names.num_classes, size="tiny").eval()
    cond = torch.arange(12) % names.num_classes
    outs = [strategy.generate(model, cond, None, torch.Generator().manual_seed(3),
                              options=strategy.sampling_defaults().merged(decode=mode))
            for mode in ("eager", "compiled")]
    assert torch.equal(outs[0].units, outs[1].units) and outs[0].nfe == outs[1].nfe
    assert (outs[0].units == names.units.pad_id).any()  # some rows ended early: PAD after END


def test_a_switch_to_the_compiled_step_midway_keeps_the_units(uncompiled, monkeypatch):
    """``auto`` hands the eager cache over at whatever step the eager seconds reach the estimate."""
    first = draw(transformer(), "eager", 1.0)
    for switch_after in (1, 6, 15):
        model = transformer()
        options = ar_over(model).sampling_defaults().merged(guidance=1.0)
        choice = decode.choice_for(model, 3, options)  # the choice the generation below will use
        monkeypatch.setattr(decode, "compile_estimate_s",
                            lambda: 0.0 if choice.eager_steps >= switch_after else float("inf"))
        monkeypatch.setattr("genstrat.strategies.step_decoder.compile_estimate_s", decode.compile_estimate_s)
        assert torch.equal(draw(model, "auto", 1.0), first)
        assert choice.eager_steps == switch_after and choice.compiled is not None


def test_a_copied_model_starts_without_the_compiled_steps(uncompiled):
    import copy

    model = transformer()
    draw(model, "compiled", 1.0)
    assert choices_of(model) and not choices_of(copy.deepcopy(model))


@pytest.mark.parametrize("network", [transformer, wavenet])
def test_the_inductor_compiled_step_draws_what_the_eager_loop_draws(network):
    """One real compile per network (inductor's C++, ~15-40 s on 2 cores): the same units at a seed."""
    model = network()
    eager = draw(model, "eager", 1.5)
    compiled = draw(model, "compiled", 1.5)
    again = draw(model, "compiled", 1.5)  # the second call goes straight to the generated program
    assert torch.equal(eager, compiled) and torch.equal(eager, again)


def test_auto_compiles_once_eager_steps_cost_a_compile_and_keeps_it_only_when_faster(uncompiled, monkeypatch):
    model = transformer()
    monkeypatch.setattr(decode, "_measured_compile_s", [1e9])  # a compile that never pays
    first = draw(model, "auto", 1.0)
    choice = next(iter(choices_of(model).values()))
    assert choice.compiled is None and choice.eager_steps == model.cfg.seq_len - 1

    monkeypatch.setattr(decode, "_measured_compile_s", [0.0])  # a compile that pays at once
    assert torch.equal(draw(model, "auto", 1.0), first)  # compiled from the second step on: the same units
    assert choice.compiled is not None and choice.kept in (True, False)  # timed over its first 16 steps
    assert "compiled after" in choice.reason

    step = choice.compiled.step

    def slow(*args):  # a compiled step far slower than eager: rejected
        time.sleep(0.05)  # far slower than an eager step even on a busy machine
        return (step(*args),)

    choice.kept, choice.compiled_seconds, choice.compiled.program = None, [], slow
    draw(model, "auto", 1.0)
    assert choice.kept is False and "rejected" in choice.reason
    steps = choice.eager_steps
    assert torch.equal(draw(model, "auto", 1.0), first)  # rejected: eager again, the same units
    assert choice.eager_steps == steps + model.cfg.seq_len - 1


def test_product_shapes_records_each_product_and_the_floor_adds_their_times():
    from genstrat.benchmark.decode_floor import ProductShapes, floor_seconds

    linear, conv = torch.nn.Linear(8, 6), torch.nn.Conv1d(4, 5, 2)
    q, k = torch.randn(1, 2, 1, 3), torch.randn(1, 2, 7, 3)
    with ProductShapes() as shapes:
        linear(torch.randn(2, 8))
        conv(torch.randn(3, 4, 10))
        torch.nn.functional.scaled_dot_product_attention(q, k, k)
    assert shapes.products == [(1, 2, 8, 6), (1, 27, 8, 5), (2, 1, 3, 7), (2, 1, 7, 3)]
    rates = {shape: 1e9 for shape in shapes.products}  # given rates: nothing is timed
    seconds, flop = floor_seconds(shapes.products, 2, rates)
    total = 2 * (2 * 8 * 6 + 27 * 8 * 5 + 2 * 3 * 7 + 2 * 7 * 3)
    assert flop == total / 2 and abs(seconds - total / 2 / 1e9) < 1e-15


def test_decode_floor_refuses_a_missing_data_folder_in_one_line(tmp_path, capsys):
    from genstrat.cli import main

    assert main(["decode-floor", "--mnist-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "f.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genstrat: error: --mnist-dir") and "\n" not in err


def test_the_bars_are_read_off_the_rows():
    from genstrat.benchmark.decode_floor import decode_floor_bars

    row = lambda name, units, mode, step, floor, **kw: {  # noqa: E731
        "strategy": name, "units": units, "decode": mode, "step_s_b1": step, "step_over_floor": step / floor, **kw}
    rows = [row("ar", "pixels", "eager", 1e-3, 1e-4, tokens_per_s_b1=1000, tokens_per_s_b64=7000),
            row("ar", "pixels", "compiled", 2e-4, 1e-4, tokens_per_s_b1=5000, tokens_per_s_b64=4000),
            row("ar", "samples", "eager", 2e-3, 1e-4, rtf_b1=16.0),
            row("ar", "samples", "compiled", 2e-4, 1e-4, rtf_b1=1.6),
            row("two-stage:mask-predict", "codec codes", "eager", 1e-2, 5e-3, rtf_b1=0.08),
            {"strategy": "transformers:gpt2", "peer": True, "decode": "dynamic", "tokens_per_s_b1": 500,
             "tokens_per_s_b64": 3000},
            {"strategy": "transformers:gpt2", "peer": True, "decode": "static+compile", "tokens_per_s_b1": 900,
             "tokens_per_s_b64": 3500}]
    bars = decode_floor_bars(rows)
    assert bars["ar_b1_over_eager"] == 5.0 and bars["ar_b1_over_eager_holds"]
    assert bars["transformers_best_b1"] == "static+compile" and bars["ar_b1_over_transformers_best"] == 5.56
    assert bars["ar_b64_over_transformers_best"] == 2.0 and bars["ar_b64_not_slower_holds"]  # ours: the faster path
    assert bars["wavenet_rtf_b1_holds"] and bars["two_stage_audio_over_compiled_wavenet"] == 20.0
    assert bars["two_stage_audio_over_eager_wavenet"] == 200.0
    assert bars["step_over_floor"] == {"ar (pixels, compiled)": 2.0, "ar (samples, compiled)": 2.0,
                                       "two-stage:mask-predict (codec codes, eager)": 2.0}
    assert bars["every_step_within_10x_floor_holds"]


def test_a_step_that_cannot_compile_decodes_eagerly_and_says_so_once(monkeypatch, capsys):
    model = transformer()
    eager = draw(model, "eager", 1.0)

    def fails(self, *args):
        raise RuntimeError("no C++ compiler found\nmore lines")

    monkeypatch.setattr(CompiledStep, "compile", fails)
    assert torch.equal(draw(model, "compiled", 1.0), eager) and torch.equal(draw(model, "compiled", 1.0), eager)
    err = capsys.readouterr().err
    assert err.count("genstrat: decode: compiling the step failed (RuntimeError: no C++ compiler found)") == 1
