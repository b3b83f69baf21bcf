"""`shakespeare`: Shakespeare's works as next-line generation with a context-window condition.

Read from ``--data-dir`` (or ``$GENSTRAT_DATA``, or its ``shakespeare/`` sub-folder): any
``*.txt.gz`` or ``*.txt`` file there (e.g. ``../shared/data/shakespeare``, 42 works, 5 MB);
otherwise the usual tiny-Shakespeare file (Karpathy's char-rnn ``input.txt``, 1.1 MB) is
downloaded into the cache when online. Units: byte-level BPE with 1,024 tokens trained on
the text; the condition is the 32 tokens before each line; a line is at most 23 tokens
(longer ones are cut into pieces). See ``textfile.py`` for the reader.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from genstrat.data.dataset import TextData
from genstrat.data.options import DATA_DIR, reads
from genstrat.data.textfile import line_corpus, read_text
from genstrat.errors import GenstratError

TINY_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
CACHE = Path(os.environ.get("GENSTRAT_CACHE", Path.home() / ".cache" / "genstrat")) / "shakespeare"


def find_file(data_dir: str | None) -> Path:
    root = data_dir or os.environ.get("GENSTRAT_DATA")
    folders = ([Path(root), Path(root) / "shakespeare"] if root else []) + [CACHE]
    for folder in folders:
        found = sorted(folder.glob("*.txt.gz")) + sorted(folder.glob("*.txt")) if folder.is_dir() else []
        if found:
            return found[0]
    if root and not Path(root).exists():
        raise GenstratError(f"data folder {root} does not exist; pass --data-dir pointing at a folder with "
                            f"the Shakespeare text (e.g. ../shared/data/shakespeare)")
    try:
        CACHE.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(TINY_URL, timeout=20) as response:
            payload = response.read()
        tmp = CACHE / "input.txt.part"
        tmp.write_bytes(payload)
        os.replace(tmp, CACHE / "input.txt")
        return CACHE / "input.txt"
    except OSError as e:
        where = ", ".join(str(f) for f in folders)
        raise GenstratError(f"no Shakespeare text found (looked in {where}) and the download failed ({e}); "
                            f"pass --data-dir ../shared/data/shakespeare") from None


@reads(DATA_DIR)
def load(data_dir: str | None = None) -> TextData:
    file = find_file(data_dir)
    return line_corpus("shakespeare", read_text(file),
                       spec={"name": "shakespeare", "data_dir": str(file.parent.resolve())},
                       tokenizer="bpe", context_len=32, seq_len=24, bpe_vocab=1024)
