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
"""

from __future__ import annotations

from collections import Counter


def is_mixture(text: str, answers: list[str]) -> bool:
    """Not an answer, but position by position made of answers' characters, at an answer's length."""
    if text in answers or len(text) not in {len(a) for a in answers}:
        return False
    return all(any(len(a) > i and a[i] == ch for a in answers) for i, ch in enumerate(text))


def probe_scores(texts: list[str], labels: list[int], truth: list[dict[str, float]], examples: int = 8) -> dict:
    by_condition: dict[int, list[str]] = {}
    for text, label in zip(texts, labels):
        by_condition.setdefault(label, []).append(text)
    valid = mixed = 0
    tvs, shown = [], []
    for label, outputs in sorted(by_condition.items()):
        answers = truth[label]
        counts = Counter(outputs)
        valid += sum(counts[a] for a in answers)
        for text in outputs:
            if is_mixture(text, list(answers)):
                mixed += 1
                if len(shown) < examples and (label, text) not in shown:
                    shown.append((label, text))
        keys = set(counts) | set(answers)
        tvs.append(0.5 * sum(abs(counts[k] / len(outputs) - answers.get(k, 0.0)) for k in keys))
    n = len(texts)
    return {"valid": round(valid / n, 4), "mixed": round(mixed / n, 4), "invalid": round(1 - valid / n, 4),
            "tv": round(sum(tvs) / len(tvs), 4), "mixed_examples": [[label, text] for label, text in shown]}


def distinct_n(token_lists: list[list[int]], n: int) -> float:
    """Distinct n-grams over all outputs / all n-grams (Li et al. 2016, "distinct-n")."""
    grams = [tuple(ids[i:i + n]) for ids in token_lists for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
