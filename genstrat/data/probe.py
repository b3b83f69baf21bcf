"""`probe`: the multi-modality probe, a tiny grammar whose every output can be checked exactly.

Each condition (a sentence start) admits a few whole answers with known probabilities, as in
the lecture's "Lee Hung-yi is" -> an actor / a professor. Answers differ in length and share
prefixes and letters at the same positions, so a generator that picks each character
independently (one-shot NAR) writes mixtures such as "a prctor" or "Perig": the lecture's
"演授", made countable. The training and test rows are drawn from these probabilities with a
fixed seed (20,000 train, 4,000 test); units are characters.
"""

from __future__ import annotations

import torch

from genstrat.data.dataset import TextData
from genstrat.data.options import reads
from genstrat.units.text import char_units

GRAMMAR: dict[str, dict[str, float]] = {
    "Lee is": {"an actor": 0.6, "a professor": 0.3, "a singer": 0.1},
    "Ann plays": {"the piano": 0.5, "the violin": 0.3, "tennis": 0.2},
    "Bob lives in": {"Paris": 0.5, "Perth": 0.3, "Prague": 0.2},
    "the sky is": {"blue": 0.7, "grey": 0.2, "bright red": 0.1},
    "Kim studies": {"math": 0.4, "music": 0.3, "medicine": 0.2, "maths and music": 0.1},
    "we meet at": {"noon": 0.5, "nine": 0.25, "half past nine": 0.25},
}
N_TRAIN, N_TEST = 20_000, 4_000


def draw(n: int, generator: torch.Generator) -> tuple[list[str], torch.Tensor]:
    """n (answer, label) pairs: a uniform condition, then an answer by its probability."""
    labels = torch.randint(len(GRAMMAR), (n,), generator=generator)
    answers = []
    tables = list(GRAMMAR.values())
    for label in labels.tolist():
        texts, probs = zip(*tables[label].items())
        answers.append(texts[int(torch.multinomial(torch.tensor(probs), 1, generator=generator))])
    return answers, labels


@reads()
def load() -> TextData:
    generator = torch.Generator().manual_seed(0)
    train_text, train_labels = draw(N_TRAIN, generator)
    test_text, test_labels = draw(N_TEST, generator)
    every_answer = [a for table in GRAMMAR.values() for a in table]
    units = char_units(every_answer, seq_len=max(map(len, every_answer)) + 1)
    return TextData(
        name="probe", units=units, class_names=list(GRAMMAR),
        train_units=units.encode(train_text).to(torch.uint8), train_labels=train_labels,
        test_units=units.encode(test_text).to(torch.uint8), test_labels=test_labels,
        spec={"name": "probe"}, truth=[dict(table) for table in GRAMMAR.values()],
    )
