"""A strategy's name, read once: ``[distilled:][two-stage:]<registered strategy>``.

Every name a user writes is one of three compositions of a registered strategy (``ar``, ``next-scale``, ...):
itself; ``two-stage:<prior>``, the prior over a learned stage one's codes (which stage one is the prior's own
``Strategy.stage_one``: fsq codes, continuous latents, or next-scale's multi-scale token maps); and
``distilled:<teacher>``, a few-step student of a diffusion teacher (itself plain or two-stage). The rest of the code
asks the parsed ``Spec`` instead of matching prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass

TWO_STAGE = "two-stage:"
DISTILLED = "distilled:"


@dataclass(frozen=True)
class Spec:
    name: str        # as written (a bench row's series may follow after a space: "two-stage:diffusion ddim")
    base: str        # the registered strategy that generates (the prior, or the teacher's)
    two_stage: bool  # generates a stage one's codes and decodes them
    student: bool    # distilled from ``teacher``

    @property
    def teacher(self) -> str | None:
        """The teacher's name of a student (``distilled:two-stage:diffusion`` -> ``two-stage:diffusion``)."""
        return self.name.split(" ")[0].removeprefix(DISTILLED) if self.student else None


def parse_spec(name: str) -> Spec:
    """Split the prefixes off ``name`` (nothing is checked against the registry here)."""
    rest = name.split(" ")[0]
    student = rest.startswith(DISTILLED)
    rest = rest.removeprefix(DISTILLED)
    two_stage = rest.startswith(TWO_STAGE)
    return Spec(name=name, base=rest.removeprefix(TWO_STAGE), two_stage=two_stage, student=student)
