"""The few-steps issue's bars, read off one bench's results (teachers and their distilled students), printed and
written as JSON: nothing here is typed in by hand.

    python docs/experiments/few_steps_bars.py runs/few-steps-mnist/results.json \
        --out docs/results/few-steps-mnist-bars.json

For each ``distilled:<teacher>`` strategy: its teacher's best row at <= 20 steps and the teacher's own 1-step rows,
then each student row against them (the Fréchet ratios, agreement, and the costs it carries).
"""

from __future__ import annotations

import argparse
import json

MAX_TEACHER_STEPS = 20


def student_bars(rows: list[dict], student: str) -> dict:
    teacher = student.removeprefix("distilled:")
    own = [r for r in rows if r["strategy"] == teacher and r["nfe"] <= MAX_TEACHER_STEPS]
    best = min(own, key=lambda r: r["fd"])
    one_step = [r for r in own if r["nfe"] == 1]
    teacher_one = min(one_step, key=lambda r: r["fd"]) if one_step else None
    students = sorted((r for r in rows if r["strategy"] == student), key=lambda r: r["nfe"])
    out = {
        "teacher": teacher,
        "teacher_best_row": f"{best['series']} {best['steps']}", "teacher_best_fd": best["fd"],
        "teacher_best_fd_ci": best.get("fd_ci"), "teacher_best_agree": best["agree"],
        "teacher_one_step_row": teacher_one and teacher_one["series"],
        "teacher_one_step_fd": teacher_one and teacher_one["fd"],
        "students": [],
    }
    for r in students:
        out["students"].append({
            "nfe": r["nfe"], "fd": r["fd"], "fd_ci": r.get("fd_ci"), "agree": r["agree"],
            "latency_b1_s": r["latency_b1_s"], "teacher_seconds": r.get("teacher_seconds"),
            "distill_seconds": r.get("distill_seconds"), "distill_updates": r.get("train_steps"),
            "fd_over_teacher_best": round(r["fd"] / best["fd"], 3),
            "fd_over_teacher_one_step": teacher_one and round(r["fd"] / teacher_one["fd"], 4),
        })
    two = [s for s in out["students"] if s["nfe"] <= 2]
    one = [s for s in out["students"] if s["nfe"] == 1]
    out["bar_nfe_le_2_fd_le_2x_teacher_best_and_agree_0.9"] = any(
        s["fd"] <= 2 * best["fd"] and s["agree"] >= 0.9 for s in two)
    out["bar_nfe_1_fd_le_0.1x_teacher_one_step"] = bool(teacher_one) and any(
        s["fd"] <= 0.1 * teacher_one["fd"] for s in one)
    out["bar_rows_carry_costs"] = all(s["teacher_seconds"] is not None and s["distill_seconds"] is not None
                                      for s in out["students"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--out")
    args = parser.parse_args()
    with open(args.results) as f:
        rows = json.load(f)
    names = sorted({r["strategy"] for r in rows if r["strategy"].startswith("distilled:")})
    report = {"run": args.results, **{name: student_bars(rows, name) for name in names}}
    report["any_student_meets_nfe_le_2_bar"] = any(report[n]["bar_nfe_le_2_fd_le_2x_teacher_best_and_agree_0.9"]
                                                   for n in names)
    report["any_student_meets_nfe_1_bar"] = any(report[n]["bar_nfe_1_fd_le_0.1x_teacher_one_step"] for n in names)
    print(json.dumps(report, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
