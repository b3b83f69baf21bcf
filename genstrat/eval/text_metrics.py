"""Exact checks on generated text: validity, mixing and frequency error on the probe;
diversity (distinct-n) on any text.

On the probe every condition c has valid answers A_c with true probabilities p(a | c):

- ``valid``: share of outputs that are exactly some a in A_c;
- ``mixed``: share that are not valid yet are made of parts of valid answers: the output has
  the length of some answer and each of its characters equals the character at the same
  position of some answer (two or more answers are needed, else it would be valid). This
  is the lecture's "演授": position 1 from one answer, position 2 from another;
- ``invalid`` = 1 - valid (mixed, plus anything else);
- ``tv``: total variation distance 1/2 sum_o |q(o | c) - p(o | c)| between generated output
  frequencies (invalid outputs included) and the true ones, averaged over conditions. A
  strategy that always answers the likeliest answer is valid but far in ``tv``. Finite n
  gives a noise floor; the bench's ``real`` row (held-out draws) shows it.

Each figure comes with its 95% bootstrap interval over the n outputs (``valid_ci``, ``mixed_ci``, ``tv_ci``;
``eval/spread.py``).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from genstrat.eval.spread import bootstrap_interval, mean_interval


def is_mixture(text: str, answers: list[str]) -> bool:
    """Not an answer, but position by position made of answers' characters, at an answer's length."""
    if text in answers or len(text) not in {len(a) for a in answers}:
        return False
    return all(any(len(a) > i and a[i] == ch for a in answers) for i, ch in enumerate(text))


def mean_tv(texts: list[str], labels: list[int], truth: list[dict[str, float]]) -> float:
    """Total variation distance between output and true answer frequencies, averaged over the conditions present."""
    by_condition: dict[int, list[str]] = {}
    for text, label in zip(texts, labels):
        by_condition.setdefault(label, []).append(text)
    tvs = []
    for label, outputs in by_condition.items():
        counts, answers = Counter(outputs), truth[label]
        keys = set(counts) | set(answers)
        tvs.append(0.5 * sum(abs(counts[k] / len(outputs) - answers.get(k, 0.0)) for k in keys))
    return sum(tvs) / len(tvs)


def probe_scores(texts: list[str], labels: list[int], truth: list[dict[str, float]], examples: int = 8) -> dict:
    valid = np.array([text in truth[label] for text, label in zip(texts, labels)], dtype=float)
    mixed = np.array([is_mixture(text, list(truth[label])) for text, label in zip(texts, labels)], dtype=float)
    shown = []  # the first mixed outputs, condition by condition
    order = sorted(range(len(texts)), key=lambda i: labels[i])  # stable: generation order within a condition
    for i in order:
        if mixed[i] and len(shown) < examples and (labels[i], texts[i]) not in shown:
            shown.append((labels[i], texts[i]))
    tv_ci = bootstrap_interval(lambda idx: mean_tv([texts[i] for i in idx], [labels[i] for i in idx], truth),
                               len(texts), centred=True)
    return {"valid": round(float(valid.mean()), 4), "valid_ci": mean_interval(valid),
            "mixed": round(float(mixed.mean()), 4), "mixed_ci": mean_interval(mixed),
            "invalid": round(float(1 - valid.mean()), 4),
            "tv": round(mean_tv(texts, labels, truth), 4), "tv_ci": tv_ci,
            "mixed_examples": [[label, text] for label, text in shown]}


def distinct_n(token_lists: list[list[int]], n: int) -> float:
    """Distinct n-grams over all outputs / all n-grams (Li et al. 2016, "distinct-n")."""
    grams = [tuple(ids[i:i + n]) for ids in token_lists for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
