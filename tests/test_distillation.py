"""Progressive distillation: the target is the one the paper derives, the rounds are checkpoints that sample in their
own step count without their teacher, a run resumes keeping its finished rounds, bad requests fail in one line, and
the bench measures every student with its teacher's cost on its row."""

import json
import subprocess

import pytest
import torch

from genstrat import api
from genstrat.training.checkpoint import read_tensors
from genstrat.cli import main
from genstrat.training.distillation import round_steps
from genstrat.errors import GenstratError
from genstrat.strategies.diffusion import make_scheduler
from genstrat.strategies.distilled import alpha_sigma, ddim_step, target_velocity, time_grid


def test_time_grids_nest_so_two_teacher_steps_land_where_one_student_step_does():
    for n in (1, 2, 4, 8):
        fine, coarse = time_grid(2 * n), time_grid(n)
        assert fine[::2] == coarse and coarse[0] == 999 and coarse[-1] == -1
        assert all(a > b for a, b in zip(fine, fine[1:]))


def test_one_student_step_with_the_target_velocity_lands_on_the_teachers_two_steps():
    """Algorithm 2's target: a DDIM step t -> t'' with v~ reproduces z_t'' exactly (for any two teacher steps)."""
    alphas = make_scheduler("ddpm").alphas_cumprod
    g = torch.Generator().manual_seed(0)
    for n in (1, 2, 8):
        fine = time_grid(2 * n)[::-1]
        for k in range(1, n + 1):
            t, mid, end = (torch.tensor([fine[j]] * 3) for j in (2 * k, 2 * k - 1, 2 * k - 2))
            z = torch.randn(3, 5, 4, generator=g)
            v1, v2 = (torch.randn(3, 5, 4, generator=g) * 0.3 for _ in range(2))
            z_mid, _ = ddim_step(z, v1, t, mid, alphas)
            z_end, _ = ddim_step(z_mid, v2, mid, end, alphas)
            v = target_velocity(z, z_end, t, end, alphas)
            alpha_t, sigma_t = alpha_sigma(alphas, t)
            alpha_e, sigma_e = alpha_sigma(alphas, end)
            x = alpha_t * z - sigma_t * v  # the unclipped DDIM step with the target
            landed = alpha_e * x + sigma_e / sigma_t * (z - alpha_t * x)
            assert torch.allclose(landed, z_end, atol=1e-4, rtol=1e-4)
            # x~ mixes the teacher's two clipped estimates with non-negative weights: it stays in [-1, 1], so the
            # student's own clipping at sampling never changes what it was taught
            assert x.abs().max() <= 1 + 1e-4


@pytest.mark.parametrize("t, prev", [(900, 800), (0, -1)])
def test_the_ddim_step_is_diffusers_ddim_step(t, prev):
    """Our DDIM step (eta = 0, x_0 clipped, the noise re-derived from it) is the one genstrat's DDIM sampler takes
    through diffusers, at an inner step and at the last one (to clean data, alpha = 1)."""
    scheduler = make_scheduler("ddim")
    scheduler.set_timesteps(10)  # leading spacing: 900, 800, ..., 0
    g = torch.Generator().manual_seed(1)
    z, v = torch.randn(2, 5, 4, generator=g), torch.randn(2, 5, 4, generator=g)
    theirs = scheduler.step(v, t, z).prev_sample
    ours, _ = ddim_step(z, v, torch.tensor([t, t]), torch.tensor([prev, prev]), scheduler.alphas_cumprod)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_round_steps_halve_and_refuse_what_halving_cannot_reach():
    assert round_steps(16, 1) == [8, 4, 2, 1] and round_steps(8, 2) == [4, 2] and round_steps(16, 3) == [8, 4]
    with pytest.raises(GenstratError, match="power of two"):
        round_steps(12, 1)
    with pytest.raises(GenstratError, match="at least twice"):
        round_steps(2, 2)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    folder = tmp_path_factory.mktemp("teacher")
    api.train("digits", "diffusion", folder, steps=30, size="tiny", batch_size=16, progress=False, precision="fp32")
    return folder


def students(teacher, out, **kw):
    return api.distill(teacher, out, teacher_steps=4, batch_size=8, precision="fp32", progress=False, **kw)


def test_students_are_checkpoints_that_sample_in_their_own_steps_without_the_teacher(teacher, tmp_path, capsys,
                                                                                     monkeypatch):
    import genstrat.strategies.distilled as distilled

    scales = []
    spy = distilled.guided_logits

    def recording(model, tokens, cond, guidance, **kw):
        scales.append(guidance)
        return spy(model, tokens, cond, guidance, **kw)

    monkeypatch.setattr(distilled, "guided_logits", recording)
    rounds = students(teacher, tmp_path / "s", steps=(2, 1), updates=6)
    # round one distils the teacher as it samples (its saved guidance, 1.2 for pixel diffusion), round two the
    # unguided first student: the precision probe and three updates each, two teacher calls a step
    assert set(scales[:len(scales) // 2]) == {1.2} and set(scales[len(scales) // 2:]) == {1.0}
    assert [r["student_steps"] for r in rounds] == [2, 1] and all(r["updates"] == 3 for r in rounds)
    for r in rounds:
        config = json.loads((tmp_path / "s" / f"steps-{r['student_steps']}" / "config.json").read_text())
        assert config["strategy"] == "distilled:diffusion"
        record = config["distillation"]
        assert record["student_steps"] == r["student_steps"] and record["teacher_seconds"] > 0
        assert record["distill_seconds"] == r["distill_seconds"] > 0
        # the student's file holds the student alone: the same tensors as the teacher's network
        assert read_tensors(teacher / "model.safetensors", "w").keys() == \
            read_tensors(tmp_path / "s" / f"steps-{r['student_steps']}" / "model.safetensors", "w").keys()
    # the second round learns from the first: its weights moved away from its teacher's
    a = read_tensors(tmp_path / "s" / "steps-2" / "model.safetensors", "w")
    b = read_tensors(tmp_path / "s" / "steps-1" / "model.safetensors", "w")
    assert any(not torch.equal(a[k], b[k]) for k in a)
    out = api.sample(tmp_path / "s" / "steps-1", label=3, n=4)
    assert out.nfe == 1 and out.units.shape == (4, 64)
    assert api.sample(tmp_path / "s" / "steps-2", label=3, n=4).nfe == 2
    assert main(["sample", str(tmp_path / "s" / "steps-2"), "--label", "1", "--n", "4",
                 "--out", str(tmp_path / "grid.png")]) == 0 and (tmp_path / "grid.png").is_file()
    # a student has no guidance left to set: guidance was distilled into it
    assert main(["sample", str(tmp_path / "s" / "steps-2"), "--label", "1", "--guidance", "2"]) == 2
    assert "does not apply" in capsys.readouterr().err


def test_a_resumed_distillation_keeps_its_finished_rounds(teacher, tmp_path):
    """Stopped after its first round and resumed, the run ends with the weights of an uninterrupted one."""
    whole = tmp_path / "whole"
    students(teacher, whole, steps=(2, 1), updates=6)
    stopped = tmp_path / "stopped"
    students(teacher, stopped, steps=(2,), updates=3)  # the first round alone: as a run killed after it
    first = read_tensors(stopped / "steps-2" / "model.safetensors", "w")
    before = json.loads((stopped / "steps-2" / "config.json").read_text())["training"]
    students(teacher, stopped, steps=(2, 1), updates=6, resume=True)
    after = json.loads((stopped / "steps-2" / "config.json").read_text())["training"]
    assert (after["steps"], after["seconds"]) == (before["steps"], before["seconds"]), "the round trained again"
    assert all(torch.equal(first[k], v) for k, v in read_tensors(stopped / "steps-2" / "model.safetensors", "w")
               .items())
    for n in (2, 1):
        a = read_tensors(whole / f"steps-{n}" / "model.safetensors", "w")
        b = read_tensors(stopped / f"steps-{n}" / "model.safetensors", "w")
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_bad_distillation_requests_fail_in_one_line(teacher, tmp_path, capsys):
    ar = tmp_path / "ar"
    api.train("digits", "ar", ar, steps=2, size="tiny", batch_size=8, progress=False, precision="fp32")
    cases = [
        (["distill", str(ar), "--updates", "8", "--out", str(tmp_path / "x")], "diffusion teacher"),
        (["distill", str(tmp_path / "none"), "--updates", "8", "--out", str(tmp_path / "x")], "does not exist"),
        (["distill", str(teacher), "--steps", "3", "--updates", "8", "--out", str(tmp_path / "x")],
         "not reached by halving"),
        (["distill", str(teacher), "--teacher-steps", "12", "--updates", "8", "--out", str(tmp_path / "x")],
         "power of two"),
        (["distill", str(teacher), "--teacher-steps", "2048", "--updates", "8", "--out", str(tmp_path / "x")],
         "finer than"),
        (["bench", "--data", "digits", "--strategies", "diffusion,distilled:diffusion", "--train-steps", "2",
          "--teacher-steps", "12", "--out", str(tmp_path / "z")], "power of two"),
        (["distill", str(teacher), "--steps", "2,1", "--teacher-steps", "4", "--updates", "1",
          "--out", str(tmp_path / "x")], "cannot be shared"),
        (["train", "--data", "digits", "--strategy", "distilled:diffusion", "--steps", "2", "--out",
          str(tmp_path / "y")], "genstrat distill"),
        (["bench", "--data", "digits", "--strategies", "distilled:diffusion", "--train-steps", "2", "--out",
          str(tmp_path / "z")], "list diffusion before it"),
        (["bench", "--data", "digits", "--strategies", "ar,distilled:ar", "--train-steps", "2", "--out",
          str(tmp_path / "z")], "no diffusion teacher"),
    ]
    for argv, message in cases:
        assert main(argv + ["--no-progress"]) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1 and "Traceback" not in err, (argv, err)


def test_bench_measures_each_student_with_its_teachers_cost(tmp_path):
    out = tmp_path / "bench"
    rows = api.bench("digits", ["diffusion", "distilled:diffusion"], out, train_steps=20, steps=(1, 4), n=40,
                     size="tiny", batch_size=16, judge_steps=30, progress=False, distill_budget=None,
                     teacher_steps=8, precision="fp32")
    students_rows = [r for r in rows if r["strategy"] == "distilled:diffusion"]
    assert [r["steps"] for r in students_rows] == [4, 2, 1] and [r["nfe"] for r in students_rows] == [4, 2, 1]
    teacher_row = next(r for r in rows if r["strategy"] == "diffusion")
    for r in students_rows:
        assert r["teacher_seconds"] == pytest.approx(teacher_row["train_seconds"], abs=0.01)
        assert r["train_seconds"] == pytest.approx(r["teacher_seconds"] + r["distill_seconds"], abs=0.02)
        assert "fd" in r and "agree" in r
    assert [r["distill_seconds"] for r in students_rows] == sorted(r["distill_seconds"] for r in students_rows)
    # resumed with the same settings, nothing is trained or measured again
    kept = {f: f.stat().st_mtime_ns for f in (out / "rows").rglob("*.json") if "distilled" in str(f)}
    kept.update({f: f.stat().st_mtime_ns for f in (out / "checkpoints").rglob("*.safetensors")})
    again = api.bench("digits", ["diffusion", "distilled:diffusion"], out, train_steps=20, steps=(1, 4), n=40,
                      size="tiny", batch_size=16, judge_steps=30, progress=False, teacher_steps=8, precision="fp32",
                      resume=True)
    assert [r["fd"] for r in again if r["strategy"] == "distilled:diffusion"] == [r["fd"] for r in students_rows]
    assert len(kept) >= 6 and all(f.stat().st_mtime_ns == t for f, t in kept.items()), "a kept file was rewritten"
    assert "distilled:diffusion" in (out / "report.md").read_text()


def test_a_two_stage_teacher_distils_into_a_student_over_its_latents(tmp_path):
    """distilled:two-stage:diffusion: the student works over the auto-encoder's latents, carries the decoder in its
    checkpoint, and samples pixels."""
    ae = tmp_path / "ae"
    api.train_autoencoder("digits", ae, quantizer="continuous", steps=3, judge_steps=10, progress=False)
    teacher = tmp_path / "teacher"
    api.train("digits", "two-stage:diffusion", teacher, steps=4, autoencoder=ae, size="tiny", batch_size=8,
              progress=False, precision="fp32")
    rounds = api.distill(teacher, tmp_path / "s", steps=(1,), teacher_steps=2, updates=2, batch_size=8,
                         precision="fp32", progress=False)
    folder = tmp_path / "s" / "steps-1"
    assert rounds[0]["folder"] == str(folder) and (folder / "autoencoder" / "model.safetensors").is_file()
    out = api.sample(folder, label=2, n=3)
    assert out.nfe == 1 and out.units.shape == (3, 64) and out.objects.shape == (3, 1, 8, 8)


def test_a_distillation_killed_mid_round_resumes_bit_for_bit(teacher, tmp_path):
    """SIGKILLed at a random moment inside its second round and resumed, the run ends with the weights of an
    uninterrupted one (the round's state: student, optimizer, weight average, generators)."""
    import sys

    from conftest import kill_mid_training

    argv = [sys.executable, "-m", "genstrat", "distill", str(teacher), "--steps", "2,1", "--teacher-steps", "4",
            "--updates", "240", "--batch-size", "8", "--precision", "fp32", "--ema", "0.99",
            "--save-every-steps", "10", "--no-progress"]
    subprocess.run(argv + ["--out", str(tmp_path / "whole")], check=True, capture_output=True)
    killed = tmp_path / "killed"
    kill_mid_training(argv, killed / "steps-1", 120, out_arg=killed)
    subprocess.run(argv + ["--out", str(killed), "--resume"], check=True, capture_output=True)
    for n in (2, 1):
        a = read_tensors(tmp_path / "whole" / f"steps-{n}" / "model.safetensors", "w")
        b = read_tensors(killed / f"steps-{n}" / "model.safetensors", "w")
        assert all(torch.equal(a[k], b[k]) for k in a), n
