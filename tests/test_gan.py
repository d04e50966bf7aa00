"""adain_lesson.gan: the theory of Goodfellow et al. (2014) checked numerically, and a GAN that learns."""

from __future__ import annotations

import math

import pytest
import torch

from adain_lesson import gan
from adain_lesson.errors import UserError

X = torch.linspace(-12, 12, 6001, dtype=torch.float64)  # wide enough that every density integrates to 1
DX = float(X[1] - X[0])


def _normal(x: torch.Tensor, m: float, s: float) -> torch.Tensor:
    return torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))


def test_optimal_discriminator_matches_the_pointwise_numeric_optimum() -> None:
    x = X[::8]
    p_data, p_g = gan.MIXTURE_1D.pdf(x), _normal(x, 0.5, 1.0)
    formula = gan.optimal_discriminator(p_data, p_g)
    numeric = gan.numeric_optimal_discriminator(p_data, p_g, resolution=20001)
    keep = (p_data + p_g) > 1e-6  # where both vanish, every D is optimal
    assert (formula[keep] - numeric[keep]).abs().max() < 1e-3
    assert torch.all((formula >= 0) & (formula <= 1))
    # where the generator puts no mass, D* is 1 (and 1/2 where p_data = p_g)
    assert gan.optimal_discriminator(torch.tensor([1.0, 0.3]), torch.tensor([0.0, 0.3])).tolist() == [1.0, 0.5]


def test_a_trained_discriminator_approaches_d_star() -> None:
    gen = torch.Generator().manual_seed(0)
    D = gan.make_discriminator(1, hidden=32, seed=3)
    opt = torch.optim.Adam(D.parameters(), lr=3e-3)
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny MLP: one thread is much faster
    try:
        for _ in range(600):
            real = gan.MIXTURE_1D.sample(512, gen)
            fake = 0.5 + torch.randn(512, 1, generator=gen)
            loss = gan.discriminator_loss(D(real), D(fake))
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(before)
    xs = torch.linspace(-2.5, 2.5, 101).unsqueeze(1)
    with torch.no_grad():
        learned = torch.sigmoid(D(xs)).squeeze(1)
    target = gan.optimal_discriminator(gan.MIXTURE_1D.pdf(xs.squeeze(1)), _normal(xs.squeeze(1), 0.5, 1.0))
    assert (learned - target).abs().mean() < 0.06


@pytest.mark.parametrize("shift", [0.0, 0.7, 2.0, 6.0])
def test_virtual_criterion_is_minus_log4_plus_2jsd(shift: float) -> None:
    p_data, p_g = gan.MIXTURE_1D.pdf(X), _normal(X, shift, 0.8)
    c = gan.virtual_criterion(p_data, p_g, DX)
    j = gan.jsd(p_data, p_g, DX)
    assert abs(float(c) - (-math.log(4) + 2 * float(j))) < 1e-6
    assert -1e-9 <= float(j) <= math.log(2) + 1e-9


def test_jsd_extremes_and_the_global_minimum() -> None:
    p = gan.MIXTURE_1D.pdf(X)
    assert abs(float(gan.jsd(p, p, DX))) < 1e-9
    assert abs(float(gan.virtual_criterion(p, p, DX)) + math.log(4)) < 1e-4  # C(G*) = -log 4
    far = _normal(X, -6, 0.2), _normal(X, 6, 0.2)
    assert abs(float(gan.jsd(*far, DX)) - math.log(2)) < 1e-4
    # V at D* is the maximum over D: any other D gives less
    p_g = _normal(X, 1.0, 1.0)
    d_star = gan.optimal_discriminator(p, p_g)
    for other in (torch.full_like(X, 0.5), (d_star * 0.9 + 0.05)):
        v = ((p * other.log() + p_g * (1 - other).log()).sum() * DX).item()
        assert v < float(gan.virtual_criterion(p, p_g, DX))


@pytest.mark.parametrize("kind", gan.LOSS_KINDS)
def test_generator_loss_gradients_match_autograd(kind: str) -> None:
    d = torch.tensor([1e-4, 0.01, 0.3, 0.5, 0.9, 0.999], dtype=torch.float64)
    logits = torch.logit(d).requires_grad_(True)
    gan.generator_loss(logits, kind).backward()
    assert torch.allclose(logits.grad * len(d), gan.generator_loss_grad(d, kind, "logit"), atol=1e-9)
    p = d.clone().requires_grad_(True)
    per_sample = (1 - p).log() if kind == "saturating" else -p.log()
    per_sample.sum().backward()
    assert torch.allclose(p.grad, gan.generator_loss_grad(d, kind, "prob"))


def test_the_non_saturating_loss_does_not_saturate() -> None:
    d = torch.tensor([1e-4, 1e-2])  # early training: D rejects the fakes
    sat = gan.generator_loss_grad(d, "saturating").abs()
    ns = gan.generator_loss_grad(d, "non_saturating").abs()
    assert torch.all(sat < 0.011) and torch.all(ns > 0.98)
    # both push D(G(z)) the same way (towards 1): negative gradients everywhere
    grid = torch.linspace(0.01, 0.99, 50)
    for kind in gan.LOSS_KINDS:
        assert torch.all(gan.generator_loss_grad(grid, kind, "prob") < 0)
    with pytest.raises(UserError):
        gan.generator_loss(torch.zeros(3), "wasserstein")


def test_value_function_reads_as_the_paper_says() -> None:
    big = torch.full((4,), 30.0)
    assert abs(float(gan.value_function(big, -big))) < 1e-6  # perfect D: V = 0, its maximum
    assert float(gan.value_function(-big, big)) < -50  # fooled D: V very negative
    zero = torch.zeros(4)
    assert abs(float(gan.value_function(zero, zero)) + math.log(4)) < 1e-6  # D = 1/2 everywhere


def test_distances_and_mode_count() -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 1, generator=gen)
    assert abs(gan.wasserstein_1d(a, a + 1.5) - 1.5) < 1e-4
    ring = gan.sample_ring(4000, generator=gen)
    assert gan.energy_distance(ring, gan.sample_ring(4000, generator=gen)) < 0.02
    assert gan.energy_distance(ring, ring + 0.5) > 0.1
    modes = gan.ring_modes()
    covered, quality = gan.mode_coverage(ring, modes)
    assert covered == 8 and quality > 0.99
    three = ring[torch.cdist(ring, modes).argmin(1) < 3]  # a collapsed generator
    assert gan.mode_coverage(three, modes)[0] == 3
    assert gan.mode_coverage(torch.zeros(100, 2), modes) == (0, 0.0)


def test_training_on_the_1d_mixture_moves_samples_to_the_data() -> None:
    """Stated factor: the 1-D Wasserstein distance to the data falls at least 3x (seeded; typically 5-10x)."""
    ref = gan.MIXTURE_1D.sample(4000, torch.Generator().manual_seed(123))
    G = gan.make_generator(4, 1, hidden=32, seed=0)
    D = gan.make_discriminator(1, hidden=32, seed=100)
    state = torch.random.get_rng_state()
    threads = torch.get_num_threads()
    hist = gan.train_gan(G, D, gan.MIXTURE_1D.sample, z_dim=4, steps=1000, batch_size=128, lr=2e-3,
                         snapshot_every=500, distance=lambda s: gan.wasserstein_1d(s, ref), seed=0)
    assert [s.step for s in hist.snapshots] == [0, 500, 1000]
    first, last = hist.snapshots[0].distance, hist.snapshots[-1].distance
    assert first > 1.0  # G starts far from the data
    assert last < first / 3, (first, last)
    assert len(hist.d_loss) == len(hist.g_loss) == 1000
    assert torch.equal(torch.random.get_rng_state(), state)  # no global RNG use
    assert torch.get_num_threads() == threads

