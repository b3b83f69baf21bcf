import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genstrat.units import PixelUnits


@settings(max_examples=40, deadline=None)
@given(levels=st.integers(2, 256), channels=st.sampled_from([1, 3]), h=st.integers(1, 6), w=st.integers(1, 6),
       seed=st.integers(0, 1000))
def test_units_round_trip(levels, channels, h, w, seed):
    units = PixelUnits(levels, channels, h, w)
    g = torch.Generator().manual_seed(seed)
    u = torch.randint(0, levels, (3, units.seq_len), generator=g)
    images = units.decode(u)
    assert images.shape == (3, channels, h, w)
    assert images.min() >= 0 and images.max() <= 1
    assert torch.equal(units.encode(images), u)


def test_raster_order_channels_innermost():
    units = PixelUnits(levels=4, channels=3, height=2, width=2)
    image = torch.zeros(1, 3, 2, 2)
    image[0, 2, 0, 1] = 1.0  # blue channel of the top-right pixel
    u = units.encode(image)
    assert u.shape == (1, 12)
    assert u[0].tolist() == [0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0]


def test_digits_units(digits):
    assert digits.units.levels == 17 and digits.units.seq_len == 64
    assert digits.train_units.max() == 16 and digits.train_units.min() == 0
    assert len(digits.train_units) + len(digits.test_units) == 1797
    assert set(digits.test_labels.tolist()) == set(range(10))


def test_masked_units_decode_grey():
    units = PixelUnits(levels=8, channels=1, height=1, width=2)
    out = units.decode(torch.tensor([[8, 7]]))
    assert out.flatten().tolist() == [0.5, 1.0]
