"""`textfile:PATH`: any UTF-8 text file, as next-line generation with a context-window condition.

Every line of the file is a target; the condition is the ``context_len`` tokens that precede
it in the file (previous lines, newlines included; PAD-filled at the very start). A line too
long for the unit row is cut into pieces that each end with END. The last 10% of the lines
(a contiguous block, so no text leaks across the split) is held out. Defaults: a character
tokenizer over the file's own alphabet, a 64-character context and at most 63 characters
per target. ``shakespeare`` is the same reader with byte-level BPE.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import torch

from genstrat.data.dataset import TextData
from genstrat.data.options import reads
from genstrat.errors import GenstratError
from genstrat.units.text import PAD, bpe_units, char_units

TEST_FRACTION = 0.1


def read_text(path: Path) -> str:
    """A UTF-8 text file (gzipped when its name ends in .gz); clear errors otherwise."""
    if not path.is_file():
        raise GenstratError(f"text file {path} does not exist; pass textfile:PATH with a UTF-8 text file")
    try:
        raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, EOFError) as e:
        raise GenstratError(f"cannot read {path} ({e.__class__.__name__}: {e}); check the file") from None
    except UnicodeDecodeError as e:
        raise GenstratError(f"{path} is not UTF-8 text (bad byte at offset {e.start}); convert it to UTF-8") from None
    return text.replace("\r\n", "\n")


def line_corpus(name: str, text: str, spec: dict, tokenizer: str = "char", context_len: int = 64, seq_len: int = 64,
                bpe_vocab: int = 1024) -> TextData:
    lines = [line.rstrip() for line in text.split("\n")]
    if sum(1 for line in lines if line) < 20:
        raise GenstratError(f"{name}: found {sum(1 for line in lines if line)} non-empty lines; "
                            f"a text dataset needs at least 20")
    units = char_units(lines + ["\n"], seq_len) if tokenizer == "char" else bpe_units(lines, seq_len, bpe_vocab)
    newline = units.tokenize(["\n"])[0]
    stream, targets, starts, split_at = [], [], [], int(len(lines) * (1 - TEST_FRACTION))
    is_test = []
    for i, ids in enumerate(units.tokenize(lines)):
        for piece in range(0, len(ids), seq_len - 1):
            targets.append(ids[piece:piece + seq_len - 1])
            starts.append(len(stream) + piece)
            is_test.append(i >= split_at)
        stream += ids + newline
    stream = torch.tensor([PAD] * context_len + stream, dtype=torch.int16)
    starts = torch.tensor(starts)
    contexts = stream[starts[:, None] + torch.arange(context_len)[None]]  # the context_len tokens before each target
    rows = units.pack(targets).to(torch.int16)
    test = torch.tensor(is_test)
    return TextData(name=name, units=units, class_names=[], train_units=rows[~test], train_labels=contexts[~test],
                    test_units=rows[test], test_labels=contexts[test], spec=spec, context_len=context_len)


@reads()
def load(path: str) -> TextData:
    file = Path(path).expanduser()
    return line_corpus(f"textfile:{path}", read_text(file), spec={"name": f"textfile:{path}"})
