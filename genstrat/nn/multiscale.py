"""VAR's multi-scale residual quantizer over a trained stage one: token maps of growing size, one code table.

Tian et al. 2024 ("Visual Autoregressive Modeling: Scalable Image Generation via Next-Scale Prediction", sec. 3.2,
Algorithm 1) turn a latent grid f into K token maps r_1 .. r_K of growing size (VAR's ``patch_nums``; here
``scales``, coarsest first, the last one the full grid):

    for k = 1 .. K:
        r_k = Q(interpolate_area(f - f_hat, scale k))          one code table shared by every scale
        f_hat = f_hat + phi_k(upsample(lookup(r_k), full size))
    decode(f_hat)

where phi_k is a small convolution on the upsampled code vectors, mixed in as (1 - rho) h + rho conv(h) (VAR's
``quant_resi``, rho = 0.5). Each scale quantizes what the coarser ones left, so the maps go from the image's gist
(1 x 1) to its details; a prior that predicts them in that order is ``strategies/next_scale.py``.

**Over a frozen stage one.** VAR trains its multi-scale VQ-VAE end to end (and never released that code). Here the
quantizer is trained on top of a stage one that already exists (the image auto-encoder's 7 x 7 grid, or the codec's
frames in time), whose encoder and decoder stay frozen: the target f is the stage one's own quantized latent, the
values its decoder was trained on, and the loss is ||f_hat - f||^2 (plus the code table's commitment term). So
``two-stage:ar`` and ``two-stage:next-scale`` of one bench decode through one decoder (the "one codec" of a bench),
and training touches only the code table and the phi convolutions (encoder passes, no decoder pass).

**The finest map** (``finest``). In VAR it is one more residual. Measured on MNIST (docs/benchmarks.md, "next-scale
on MNIST"): a residual pyramid trained 45 s on top of the 3-minute auto-encoder reconstructed at judge Fréchet 51.9
where the auto-encoder's own codes read 7.9, and a prior can do no better than its stage one. The finest map is
therefore the base's own code at each position (its FSQ index, from the same 1,000 ids as the residual table: one
vocabulary for the prior): the coarser maps are VAR's residual pyramid, the versions a prior conditions on, and the
finest decodes exactly as the single-scale codes do, so ``reconstruction:multiscale`` equals ``reconstruction:fsq``,
and the quantizer costs tokens and seconds, not fidelity. ``finest="residual"`` keeps VAR's form.

**A checkerboard finest map** (``finest="checkerboard"``, the default). Drawn in one pass, the finest codes are
independent given the coarser maps, and on MNIST that pass was where next-scale lost to raster AR: given the true
coarser maps of 1,000 training digits, one pass at the finest map read Fréchet 9.6 against their reconstructions' 5.3
(docs/benchmarks.md, "Where next-scale loses"). So the finest grid comes in two maps, as learned image codecs split
theirs (He et al. 2021, "Checkerboard Context Model for Efficient Learned Image Compression"): the positions whose
coordinates sum to an even number, no two of them neighbours, then the rest, each of whose neighbours the first map
has drawn. Every position reads the 3 x 3 (over time, 3-frame) neighbourhood of f_hat around it (``scale_input``), so
the second half sees the codes drawn beside it. One pass more at the finest scale; the scales double
(``default_scales``) to pay for it. Four quarters by coordinate parity (7 passes on MNIST) read no lower than the
halves and were not kept (docs/benchmarks.md, "Three more tries at the one-pass draws").

**Coarser maps in halves too** (``split_from``). The same diagnostic put what was left at the 4 x 4 map: given the
true 2 x 2 map, drawing its 16 codes in one pass took Fréchet from 7.0 to 10.3. A residual map of at least
``split_from`` on a side comes in two checkerboard halves as well; the second half reads f_hat with the first half's
codes added (``enter``: phi_k of the half-drawn map, its undrawn codes zero vectors), through the same neighbourhood.
The codes and f_hat are the same pyramid; only the order they are drawn in changes, so one trained quantizer serves
every ``split_from``.

**The code table** is a vector quantizer from the maintained ``vector-quantize-pytorch`` (van den Oord et al. 2017;
EMA codebook updates, Razavi et al. 2019), with dead codes re-seeded from the batch (``threshold_ema_dead_code``):
DESIGN.md notes that codebook collapse at the smallest scales is VAR's reported trap.

Over time (audio), the same with 1-D maps: the codec's frames are area-averaged to 1, 4, 16, ... frames and upsampled
back linearly; over images bicubically, as VAR does.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from genstrat.errors import GenstratError
from genstrat.nn.base_stage_ones import build_from, config_from

FINEST = ("codes", "checkerboard", "residual")


def default_scales(sides: tuple[int, ...]) -> list[int]:
    """The scale schedule for a latent of ``sides``: over a 2-D grid the sides double from 2 x 2, then the grid's own
    (2, 4, 7 over MNIST's 7 x 7: with the 4 x 4 and finest maps in halves 5 passes, 69 slots); over frames in time
    they grow fourfold from 1 (1, 4, 16, 64, then a codec's 126: 6 passes).

    VAR grows its sides by ~1.6x from 1 x 1 (1, 2, 3, 5, 7 here). Measured on MNIST (docs/benchmarks.md, "MNIST, the
    third run"): 1, 2, 4, 7 with the checkerboard drew 5 passes at validation Fréchet 16.3 (two seeds, n = 1,000
    each) and 2, 4, 7 drew 4 passes at 12.2, both after ~2,400 updates; the 1 x 1 map's pass (one code, the gist the
    condition already carries) bought nothing there and cost 13.7 against 11.9 ms a sample at batch 1. Over speech,
    1, 2, 4, ..., 64, 126 took 8 passes and 31 ms a one-second clip at batch 1 (RTF 0.031); fourfold growth draws it
    in 6 (not re-measured without its 1-frame map)."""
    n, images = max(sides), len(sides) == 2
    ratio = 2.0 if images else 4.0
    scales = [min(n, 2)] if images else [1]
    while scales[-1] < n:
        scales.append(min(n, max(scales[-1] + 1, round(scales[-1] * ratio))))
    return scales


def default_split_from(sides: tuple[int, ...]) -> int:
    """The side from which a residual map comes in two halves: 4 over a 2-D grid (MNIST's 4 x 4 map: 5 passes with
    the finest map's halves), none over frames in time (0).

    Measured on MNIST (docs/benchmarks.md, "Coarser maps in halves"; one fsq stage one and one quantizer laid out three
    ways, each prior 5.6 minutes): the 4 x 4 map in halves read validation Fréchet 11.5 against 12.3 whole (four
    seeds, n = 1,000 each) and test 9.7 against 10.9, for a pass more (9.1 against 7.9 ms a sample at batch 1); the
    2 x 2 map in halves as well read 11.2 on validation but 11.7 on test, at 6 passes and 14.2 ms. Speech was not
    measured: its four residual maps in halves would take 10 passes."""
    return 4 if len(sides) == 2 else 0


@dataclass
class MultiScaleConfig:
    base: dict                      # the frozen stage one's config, its "type" included (autoencoder, codec)
    scales: list[int] = field(default_factory=list)  # each map's side (images) or frames (audio); last = the grid
    finest: str = "checkerboard"    # the last map: the base's own codes in one map ("codes") or in two interleaved
    #                                 halves ("checkerboard"), or VAR's last residual ("residual")
    codebook_size: int = 0          # the residual maps' code table; 0: as many codes as the base has (one vocabulary)
    split_from: int = 0             # residual maps of at least this side (frames) come in two checkerboard halves
    #                                 too (0: none; configs saved before the option read 0)
    rho: float = 0.5                # VAR's quant_resi: a scale adds (1 - rho) h + rho phi(h)
    lr: float = 1e-3                # the quantizer's learning rate (the phi convolutions)
    type: str = "multiscale"
    quantizer: str = "multiscale"

    def __post_init__(self):
        if not isinstance(self.base, dict) or self.base.get("quantizer", "fsq") != "fsq":
            raise GenstratError("a multi-scale quantizer goes over a stage one with fsq codes; train one with "
                                "genstrat train-autoencoder --quantizer fsq and pass it as --base")
        self.base_config = config_from(self.base)
        if getattr(self.base_config, "codebooks", 1) != 1:
            raise GenstratError("a multi-scale quantizer goes over one code a position; the base writes "
                                f"{self.base_config.codebooks} a frame (train it with --codebooks 1)")
        if self.finest not in FINEST:
            raise GenstratError(f"unknown finest map '{self.finest}'; choose one of: {', '.join(FINEST)}")
        self.codebook_size = self.codebook_size or self.base_config.codebook_size
        sides = self.sides
        self.scales = [int(s) for s in (self.scales or default_scales(sides))]
        if not self.scales or self.scales != sorted(set(self.scales)) or self.scales[0] < 1 \
                or self.scales[-1] != max(sides):
            raise GenstratError(f"scales {self.scales} must grow strictly from at least 1 up to the latent's "
                                f"{max(sides)}")
        if self.finest != "residual" and self.codebook_size != self.base_config.codebook_size:
            raise GenstratError(f"with the base's codes as the finest map the code table has its "
                                f"{self.base_config.codebook_size} codes (one vocabulary), not {self.codebook_size}")
        if self.split_from < 0 or (self.split_from and self.finest != "checkerboard"):
            raise GenstratError(f"split_from {self.split_from}: coarser maps come in halves with the checkerboard "
                                "finest map (its neighbourhood inputs), and the side is at least 1 (0: none)")
        if not 2 <= self.codebook_size <= 65536:
            raise GenstratError(f"a multi-scale code table needs 2 to 65,536 codes, got {self.codebook_size}")

    @property
    def sides(self) -> tuple[int, ...]:
        """The base latent's spatial sides: (h, w) of an image grid, (frames,) of a codec."""
        return tuple(self.base_config.latent_sides)

    @property
    def shapes(self) -> list[tuple[int, ...]]:
        """Each scale's map shape: a side of s over the grid's longest side, the other in proportion."""
        n = max(self.sides)
        return [tuple(max(1, round(s * side / n)) for side in self.sides) for s in self.scales]

    @property
    def lengths(self) -> list[int]:
        """Codes in each token map, coarsest first (with ``finest="checkerboard"`` the finest grid is two maps)."""
        return [len(positions) for _, positions in self.maps]

    @property
    def maps(self) -> list[tuple[int, list[int]]]:
        """The token maps in drawing order, each as (its scale, its positions in that scale's raster order): a scale
        whole in one map, or in two checkerboard halves (the finest with ``finest="checkerboard"``; a residual scale
        of at least ``split_from`` on a side as well)."""
        maps = []
        for k, shape in enumerate(self.shapes):
            finest = k == len(self.shapes) - 1 and self.finest != "residual"
            halved = self.finest == "checkerboard" and math.prod(shape) > 1 and (
                finest or (self.split_from and max(shape) >= self.split_from))
            maps += [(k, half) for half in self.checkerboard(shape)] if halved else [(k, list(range(math.prod(shape))))]
        return maps

    def checkerboard(self, shape: tuple[int, ...] | None = None) -> tuple[list[int], list[int]]:
        """A grid's positions (raster order; the finest grid by default) in two halves: those whose coordinates sum to
        an even number (no two of them neighbours), then the rest, each of which has only the first half as its
        neighbours (He et al. 2021, "Checkerboard Context Model for Efficient Learned Image Compression": anchors,
        then the rest)."""
        sides = self.sides if shape is None else shape
        coords = torch.cartesian_prod(*[torch.arange(n) for n in sides]).reshape(-1, len(sides))
        even = coords.sum(-1) % 2 == 0
        return even.nonzero().squeeze(1).tolist(), (~even).nonzero().squeeze(1).tolist()

    @property
    def input_channels(self) -> int:
        """What a position of a map reads of the coarser pyramid: its own f_hat vector, or (checkerboard) the 3 x 3
        (or 3-frame) neighbourhood of it, so that the second half sees the codes the first half drew beside it."""
        return self.code_channels * (3 ** len(self.sides) if self.finest == "checkerboard" else 1)

    @property
    def tokens(self) -> int:
        """Codes per object: every map, coarsest first (69 for 2, 4, 7 over 7 x 7: 4 + 16 + 25 + 24)."""
        return sum(self.lengths)

    @property
    def grid(self) -> tuple[int, int]:
        """Codes as a one-row grid of ``tokens`` (the prior reads the scales from ``shapes``)."""
        return 1, self.tokens

    @property
    def data_shape(self):
        return self.base_config.data_shape

    @property
    def code_channels(self) -> int:
        return self.base_config.code_channels

    def __getattr__(self, name):  # what the modality reads of its stage one (a codec's sample rate, frames, ...)
        if name.startswith("_") or name == "base_config":
            raise AttributeError(name)
        return getattr(self.base_config, name)

    def describe(self) -> str:
        return f"scales {','.join(map(str, self.scales))} over {self.base_config.describe()}"

    def to_dict(self) -> dict:
        values = asdict(self)
        return values

    @classmethod
    def from_dict(cls, d: dict) -> "MultiScaleConfig":
        return cls(**d)


def multiscale_over(base_cfg, scales=None, split_from=None, **options) -> MultiScaleConfig:
    """The config of a multi-scale quantizer over a stage one of config ``base_cfg`` (by default its scales and
    ``default_split_from``; a config saved before the option reads ``split_from`` 0)."""
    base = {**base_cfg.to_dict(), "type": getattr(base_cfg, "type", "autoencoder")}
    if split_from is None:
        checkerboard = options.get("finest", "checkerboard") == "checkerboard"
        split_from = default_split_from(tuple(config_from(base).latent_sides)) if checkerboard else 0
    return MultiScaleConfig(base=base, scales=list(scales or []), split_from=split_from, **options)


class Phi(nn.Module):
    """VAR's phi_k: h -> (1 - rho) h + rho conv3(h), on the upsampled code vectors of one scale."""

    def __init__(self, channels: int, dims: int, rho: float):
        super().__init__()
        self.conv = (nn.Conv2d if dims == 2 else nn.Conv1d)(channels, channels, 3, padding=1)
        self.rho = rho

    def forward(self, h):
        return (1 - self.rho) * h + self.rho * self.conv(h)


class MultiScale(nn.Module):
    """A frozen stage one (``base``) with VAR's residual quantizer over its latent; the stage-one contract
    (``to_codes``, ``from_codes``, ``loss``, ``decode``) over the concatenated token maps, coarsest first."""

    def __init__(self, cfg: MultiScaleConfig):
        super().__init__()
        from vector_quantize_pytorch import VectorQuantize

        self.cfg = cfg
        self.base = build_from(cfg.base_config).requires_grad_(False).eval()
        d, dims = cfg.code_channels, len(cfg.sides)
        self.codebook = VectorQuantize(dim=d, codebook_size=cfg.codebook_size, decay=0.99,
                                       threshold_ema_dead_code=2, commitment_weight=0.25)
        self.phi = nn.ModuleList(Phi(d, dims, cfg.rho) for _ in cfg.scales)
        self.upsample_mode = "bicubic" if dims == 2 else "linear"
        self.maps = cfg.maps  # built once: sampling reads them every pass
        self.map_scale = [scale for scale, _ in self.maps]
        self.offsets = [sum(cfg.lengths[:m]) for m in range(len(self.maps) + 1)]
        self.whole = [len(positions) == math.prod(cfg.shapes[scale]) for scale, positions in self.maps]

    def train(self, mode: bool = True):
        """Only the quantizer trains: the base stays in eval mode (its BatchNorm statistics fixed)."""
        super().train(mode)
        self.base.eval()
        return self

    def null_condition(self, cond: torch.Tensor) -> torch.Tensor:  # the training loop asks; a stage one ignores labels
        return cond

    def up(self, h: torch.Tensor) -> torch.Tensor:
        if tuple(h.shape[2:]) == self.cfg.sides:
            return h
        return F.interpolate(h, size=self.cfg.sides, mode=self.upsample_mode,
                             **({} if self.upsample_mode == "nearest" else {"align_corners": False}))

    def added(self, k: int, vectors: torch.Tensor) -> torch.Tensor:
        """Scale k's code vectors (N, n_k, d) -> its term of f_hat: phi_k(upsample(map)) (N, d, *sides)."""
        n, shape = vectors.shape[0], self.cfg.shapes[k]
        return self.phi[k](self.up(vectors.transpose(1, 2).reshape(n, -1, *shape)))

    def target(self, data: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The base's quantized latent f (N, d, *sides), what its decoder reads, and its codes (N, positions)."""
        with torch.no_grad():
            f, indices = self.base.latent(data, with_indices=True)
        return f.float(), indices.reshape(f.shape[0], -1).long()

    @property
    def residual_scales(self) -> int:
        """The scales quantized as residuals: all of them, or all but the finest when it holds the base's codes."""
        return len(self.cfg.scales) - (self.cfg.finest != "residual")

    def quantize(self, f: torch.Tensor, base_codes: torch.Tensor):
        """VAR Algorithm 1 over f (N, d, *sides) -> (f_hat of the residual scales, codes (N, tokens), commitment loss);
        with ``finest="codes"`` the last map is ``base_codes``, so the pyramid ends on the single-scale codes. Each
        scale's codes are laid out as its maps (``MultiScaleConfig.maps``: whole, or in two halves)."""
        f_hat, scale_codes, commitment = torch.zeros_like(f), [], f.new_zeros(())
        for k in range(self.residual_scales):
            shape = self.cfg.shapes[k]
            rest = f - f_hat
            down = rest if shape == self.cfg.sides else F.interpolate(rest, size=shape, mode="area")
            flat = down.flatten(2).transpose(1, 2)  # (N, n_k, d)
            if self.training:  # the library's call: EMA updates of the table, dead codes re-seeded
                vectors, indices, loss = self.codebook(flat)
            else:  # the same nearest code, without the library's per-call work (2.4x faster encoding here)
                table = self.codebook.codebook
                indices = torch.cdist(flat, table[None].expand(flat.shape[0], -1, -1)).argmin(-1)
                vectors, loss = F.embedding(indices, table), f.new_zeros(())
            f_hat = f_hat + self.added(k, vectors)
            scale_codes.append(indices)
            commitment = commitment + loss.sum()
        if self.cfg.finest != "residual":
            scale_codes.append(base_codes)
        codes = [scale_codes[scale] if whole else scale_codes[scale][:, positions]
                 for (scale, positions), whole in zip(self.maps, self.whole)]
        return f_hat, torch.cat(codes, 1), commitment

    def loss(self, data: torch.Tensor) -> torch.Tensor:
        """||f_hat - f||^2 over the base's latent (f_hat of the residual scales), plus the code table's commitment."""
        f, base_codes = self.target(data)
        f_hat, _, commitment = self.quantize(f, base_codes)
        return F.mse_loss(f_hat, f) + commitment

    def decode(self, f_hat: torch.Tensor) -> torch.Tensor:
        return self.base.decode(f_hat)

    @torch.no_grad()
    def to_codes(self, data: torch.Tensor) -> torch.Tensor:
        """Objects -> (N, tokens) codes, every scale's map in raster order, coarsest first."""
        return self.quantize(*self.target(data))[1].long()

    def empty(self, rows: int, device=None) -> torch.Tensor:
        """f_hat before any scale: zeros (rows, d, *sides)."""
        return torch.zeros(rows, self.cfg.code_channels, *self.cfg.sides, device=device)

    def add_scale(self, f_hat: torch.Tensor, k: int, grid: torch.Tensor) -> torch.Tensor:
        """f_hat + phi_k(upsample(lookup(r_k))) for scale k's codes ``grid`` (N, n_k, its raster order); ids outside the
        table (not drawn yet, or a MASK in an intermediate version) count as a zero vector, and a row whose whole map
        is still undrawn adds nothing (phi's bias included). The finest scale of base codes gives the latent itself
        where given."""
        if k >= self.residual_scales:  # the finest scale: the base's codes as its latent, f_hat where none is drawn
            return self.base_latent(grid, f_hat)
        valid = (grid >= 0) & (grid < self.cfg.codebook_size)
        table = self.codebook.codebook  # (V, d)
        vectors = F.embedding(torch.where(valid, grid.long(), 0), table) * valid[..., None]
        drawn = valid.any(1).view(-1, *[1] * (f_hat.dim() - 1))  # (N, 1, ...)
        return f_hat + self.added(k, vectors.to(f_hat.dtype)) * drawn

    def scale_grid(self, units: torch.Tensor, k: int) -> torch.Tensor:
        """Scale k's codes (N, n_k) in its raster order from the maps in ``units`` (the first maps, or every one):
        -1 where a map of the scale is not among them."""
        grid = units.new_full((units.shape[0], math.prod(self.cfg.shapes[k])), -1)
        for m, (scale, positions) in enumerate(self.maps):
            if scale == k and units.shape[1] >= self.offsets[m + 1]:
                grid[:, positions] = units[:, self.offsets[m]:self.offsets[m + 1]]
        return grid

    def enter(self, m: int, units: torch.Tensor, below: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Before drawing map m, from the codes ``units`` of the maps before it: (f_hat of the scales coarser than
        m's, what m's positions read). ``below`` is the first as it stood before map m - 1 (a pass adds at most one
        scale to it); the second adds the maps of m's own scale drawn before it (a checkerboard's first half)."""
        k = self.map_scale[m]
        if m and self.map_scale[m - 1] != k:  # a scale finished with the map before
            below = self.add_scale(below, self.map_scale[m - 1], self.scale_grid(units, self.map_scale[m - 1]))
        if m and self.map_scale[m - 1] == k:
            return below, self.add_scale(below, k, self.scale_grid(units, k))
        return below, below

    def base_latent(self, codes: torch.Tensor, f_hat: torch.Tensor) -> torch.Tensor:
        """The base's codes (N, positions) as its latent (N, d, *sides) (its FSQ grid values); a position without a
        valid code keeps f_hat's value."""
        n, sides = codes.shape[0], self.cfg.sides
        valid = (codes >= 0) & (codes < self.cfg.base_config.codebook_size)
        z = self.base.fsq.indices_to_codes(torch.where(valid, codes.long(), 0).reshape(n, *sides)).float()
        return torch.where(valid.reshape(n, 1, *sides), z, f_hat)

    def scale_input(self, f_hat: torch.Tensor, m: int) -> torch.Tensor:
        """What map m's positions read (VAR's ``idxBl_to_var_input``): f_hat (of the scales before it, ``enter``),
        area-averaged to its scale's shape, per position: (N, n_m, d), or with the checkerboard (N, n_m, 9d) over
        images and (N, n_m, 3d) over frames, each position's neighbourhood (``MultiScaleConfig.input_channels``)."""
        shape = self.cfg.shapes[self.map_scale[m]]
        down = f_hat if shape == self.cfg.sides else F.interpolate(f_hat, size=shape, mode="area")
        if self.cfg.finest == "checkerboard":  # each position's 3 x 3 (3-frame) neighbourhood, zeros past the edge
            flat = down.unsqueeze(2) if down.dim() == 3 else down
            kernel = (1, 3) if down.dim() == 3 else (3, 3)
            features = F.unfold(flat, kernel, padding=(0, 1) if down.dim() == 3 else 1).transpose(1, 2)
        else:
            features = down.flatten(2).transpose(1, 2)
        return features if self.whole[m] else features[:, self.maps[m][1]]

    def accumulated(self, units: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """f_hat from the codes of the first ``upto`` maps (all by default); a half-made pyramid decodes as its
        coarser scales (and the halves drawn of the next)."""
        units = units if upto is None else units[:, :self.offsets[upto]]
        f_hat = self.empty(units.shape[0], units.device)
        for k in range(len(self.cfg.scales)):
            f_hat = self.add_scale(f_hat, k, self.scale_grid(units, k))
        return f_hat

    def next_scale_inputs(self, units: torch.Tensor, upto: int | None = None) -> torch.Tensor:
        """Teacher forcing (VAR): every position's ``scale_input`` for the maps up to ``upto`` (all by default), from
        the codes ``units`` of the maps before: (N, their positions, d); the first map's positions read zeros (the
        condition alone starts the pyramid)."""
        upto = len(self.maps) if upto is None else upto
        below, inputs = self.empty(units.shape[0], units.device), []
        for m in range(upto):
            below, read = self.enter(m, units[:, :self.offsets[m]], below)
            inputs.append(self.scale_input(read, m))
        return torch.cat(inputs, 1)

    @torch.no_grad()
    def from_codes(self, units: torch.Tensor) -> torch.Tensor:
        """(N, tokens) codes -> objects through the base's decoder. When the finest map is the base's own codes and
        every one is drawn, the coarser scales do not change the latent (``base_latent`` replaces f_hat at every
        position), so they are not summed: the same objects, four fewer upsample-and-convolve steps on MNIST."""
        finest = self.scale_grid(units, len(self.cfg.scales) - 1)
        complete = self.residual_scales < len(self.cfg.scales) and bool(
            ((finest >= 0) & (finest < self.cfg.base_config.codebook_size)).all())
        f_hat = self.base_latent(finest, self.empty(units.shape[0], units.device)) if complete else \
            self.accumulated(units)
        return self.base.decode(f_hat).clamp(-1, 1)
