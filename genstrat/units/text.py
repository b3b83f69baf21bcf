"""Text as units: characters or BPE tokens, with PAD and END (MASK is the backbone's own id).

A text of ``n`` tokens becomes a row of ``seq_len`` units: the tokens, one END, then PAD to
the end (so ``n <= seq_len - 1``). Ids 0 and 1 are PAD and END in every vocabulary; the
backbone adds MASK as id ``vocab_size``. Two tokenizers:

- ``char``: one unit per character of a fixed alphabet (char-RNN, Karpathy 2015; nanoGPT's
  Shakespeare-char).
- ``bpe``: byte-level BPE (Sennrich et al. 2016; GPT-2's byte-level variant), trained with
  Hugging Face ``tokenizers``. Its JSON travels inside ``to_dict`` so a checkpoint decodes
  exactly as it was trained.

``decode`` cuts at the first END and drops PAD: the "fixed length, cut at END" reading the
lecture gives for one-shot NAR text. Undecided positions (MASK, in intermediate versions)
show as ``_``.
"""

from __future__ import annotations

from functools import cached_property

import torch

PAD, END = 0, 1
SPECIALS = ["<pad>", "<end>"]
MASK_SHOWN = "_"


class TextUnits:
    """Rows of text tokens, END, then PAD: shape (seq_len,), variable length, not patchable."""

    modality = "text"
    variable_length = True
    patchable = False  # a row ends anywhere: neighbouring units are not a fixed block
    pad_id, end_id = PAD, END

    def __init__(self, tokenizer: str, seq_len: int, alphabet: str = "", bpe_json: str | None = None):
        if tokenizer not in ("char", "bpe"):
            raise ValueError(f"unknown tokenizer '{tokenizer}'; choose char or bpe")
        if tokenizer == "bpe" and not bpe_json:
            raise ValueError("a bpe tokenizer needs its trained JSON")
        if seq_len < 2:
            raise ValueError(f"text seq_len must be at least 2 (one token and END), got {seq_len}")
        self.tokenizer, self.seq_len, self.alphabet, self.bpe_json = tokenizer, int(seq_len), alphabet, bpe_json
        self.char_ids = {c: i + len(SPECIALS) for i, c in enumerate(alphabet)}

    @cached_property
    def bpe(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.bpe_json)
        tokenizer.encode_special_tokens = True  # "<pad>" typed in a text is text, never the PAD id
        return tokenizer

    @property
    def shape(self) -> tuple[int]:
        return (self.seq_len,)

    @property
    def vocab_size(self) -> int:
        return len(SPECIALS) + len(self.alphabet) if self.tokenizer == "char" else self.bpe.get_vocab_size()

    # --- tokens <-> strings ----------------------------------------------------------------
    def tokenize(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text (no END, no padding); characters outside the alphabet are an error."""
        if self.tokenizer == "bpe":
            return [e.ids for e in self.bpe.encode_batch(list(texts), add_special_tokens=False)]
        out = []
        for text in texts:
            try:
                out.append([self.char_ids[c] for c in text])
            except KeyError as e:
                raise ValueError(f"character {e.args[0]!r} is not in this tokenizer's alphabet") from None
        return out

    def detokenize(self, ids: list[int]) -> str:
        size = self.vocab_size
        if self.tokenizer == "bpe":  # runs of real tokens decoded together; MASK shown as _
            pieces, run = [], []
            for i in ids + [size]:
                if len(SPECIALS) <= i < size:
                    run.append(i)
                    continue
                if run:
                    pieces.append(self.bpe.decode(run, skip_special_tokens=True))
                    run = []
                if i == size:
                    pieces.append(MASK_SHOWN)
            return "".join(pieces[:-1])
        return "".join(self.alphabet[i - len(SPECIALS)] if len(SPECIALS) <= i < size
                       else (MASK_SHOWN if i == size else "")
                       for i in ids)

    # --- rows of units ---------------------------------------------------------------------
    def pack(self, token_lists: list[list[int]]) -> torch.Tensor:
        """Token lists -> (N, seq_len) long units: tokens, END, PAD..."""
        rows = torch.full((len(token_lists), self.seq_len), PAD, dtype=torch.long)
        for i, ids in enumerate(token_lists):
            if len(ids) > self.seq_len - 1:
                raise ValueError(f"a text of {len(ids)} tokens does not fit {self.seq_len} units (tokens + END)")
            rows[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            rows[i, len(ids)] = END
        return rows

    def encode(self, texts: list[str]) -> torch.Tensor:
        return self.pack(self.tokenize(texts))

    def token_lists(self, units: torch.Tensor) -> list[list[int]]:
        """Each row's ids before its first END (all of them if it has none), PAD dropped; MASK kept."""
        out = []
        for row in units.long().tolist():
            cut = row.index(END) if END in row else len(row)
            out.append([i for i in row[:cut] if i != PAD])
        return out

    def decode(self, units: torch.Tensor) -> list[str]:
        """(N, L) units -> N strings, cut at the first END (the lecture's fixed-length NAR reading)."""
        return [self.detokenize(ids) for ids in self.token_lists(units)]

    def lengths(self, units: torch.Tensor) -> torch.Tensor:
        """Tokens before the first END in each row (seq_len when there is none)."""
        is_end = units == END
        return torch.where(is_end.any(1), is_end.float().argmax(1), torch.full_like(units[:, 0], self.seq_len))

    def canonical(self, units: torch.Tensor) -> torch.Tensor:
        """Each row rewritten as exactly what ``decode`` reads: its tokens before the first END with
        PAD dropped, then END and PAD (no END when the row had none and is full)."""
        rows = torch.full_like(units, PAD)
        for i, ids in enumerate(self.token_lists(units)):
            rows[i, : len(ids)] = torch.tensor(ids, dtype=units.dtype)
            if len(ids) < self.seq_len:
                rows[i, len(ids)] = END
        return rows

    # --- persistence -----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"type": "text", "kind": self.tokenizer, "seq_len": self.seq_len, "alphabet": self.alphabet,
                "bpe_json": self.bpe_json}

    @classmethod
    def from_dict(cls, d: dict) -> "TextUnits":
        return cls(tokenizer=d["kind"], seq_len=int(d["seq_len"]), alphabet=d.get("alphabet", ""),
                   bpe_json=d.get("bpe_json"))


def char_units(texts: list[str], seq_len: int) -> TextUnits:
    """A character tokenizer whose alphabet is every character of ``texts`` (sorted)."""
    return TextUnits("char", seq_len, alphabet="".join(sorted(set("".join(texts)))))


def bpe_units(texts: list[str], seq_len: int, vocab_size: int) -> TextUnits:
    """Byte-level BPE trained on ``texts`` with Hugging Face ``tokenizers`` (PAD = 0, END = 1)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return TextUnits("bpe", seq_len, bpe_json=tokenizer.to_str())

