"""GAN fundamentals on toy data (Goodfellow et al., NeurIPS 2014), for notebook 01.

Equation numbers refer to Goodfellow et al. 2014 ("GAN" below):

- the value function ``V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]`` (GAN Eq. 1):
  :func:`value_function`;
- the optimal discriminator ``D*_G(x) = p_data(x) / (p_data(x) + p_g(x))`` (GAN Eq. 2, Prop. 1):
  :func:`optimal_discriminator`, and a brute-force pointwise maximiser :func:`numeric_optimal_discriminator`;
- the virtual training criterion ``C(G) = max_D V(D, G) = -log 4 + 2 JSD(p_data || p_g)`` (GAN Eqs. 4-6,
  Theorem 1): :func:`virtual_criterion` and :func:`jsd`, integrated on a grid;
- the saturating generator loss ``log(1 - D(G(z)))`` and the non-saturating one ``-log D(G(z))``
  (GAN Section 3): :func:`generator_loss` and their gradients :func:`generator_loss_grad`;
- toy data (a 1-D Gaussian mixture, the 2-D ring of 8 Gaussians), small MLP players, a seeded training
  loop with snapshots (:func:`train_gan`), distances to the data (:func:`wasserstein_1d`,
  :func:`energy_distance`) and a mode count for the ring (:func:`mode_coverage`).

Discriminators return *logits*; ``D(x) = sigmoid(logit)``. Losses use ``logsigmoid``/``softplus`` so
they stay finite when D saturates. Everything is CPU-fast and seeded by an explicit ``torch.Generator``
or seed argument; there is no global state.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UserError

__all__ = [
    "GanHistory",
    "GanSnapshot",
    "GaussianMixture1D",
    "LOSS_KINDS",
    "MIXTURE_1D",
    "discriminator_loss",
    "energy_distance",
    "generator_loss",
    "generator_loss_grad",
    "jsd",
    "make_discriminator",
    "make_generator",
    "mlp",
    "mode_coverage",
    "numeric_optimal_discriminator",
    "optimal_discriminator",
    "ring_modes",
    "sample_ring",
    "train_gan",
    "value_function",
    "virtual_criterion",
    "wasserstein_1d",
]

LOSS_KINDS = ("saturating", "non_saturating")


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class GaussianMixture1D:
    """A 1-D mixture of Gaussians: ``p(x) = sum_k w_k N(x; m_k, s_k^2)``."""

    means: tuple[float, ...]
    stds: tuple[float, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        k = len(self.means)
        if k == 0 or len(self.stds) != k or len(self.weights) != k:
            raise UserError("GaussianMixture1D needs as many stds and weights as means (and at least one)")
        if min(self.stds) <= 0 or min(self.weights) < 0 or sum(self.weights) <= 0:
            raise UserError("GaussianMixture1D needs positive stds and non-negative weights that do not all vanish")

    def _w(self) -> list[float]:
        total = sum(self.weights)
        return [w / total for w in self.weights]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape ``[n, 1]``."""
        comp = torch.multinomial(torch.tensor(self._w()), n, replacement=True, generator=generator)
        means, stds = torch.tensor(self.means)[comp], torch.tensor(self.stds)[comp]
        return (means + stds * torch.randn(n, generator=generator)).unsqueeze(1)

    def pdf(self, x: Tensor) -> Tensor:
        """The density p(x), evaluated elementwise."""
        out = torch.zeros_like(x, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32)
        for m, s, w in zip(self.means, self.stds, self._w()):
            out = out + w * torch.exp(-0.5 * ((x - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
        return out


#: The notebook's 1-D data: two well separated modes of equal weight.
MIXTURE_1D = GaussianMixture1D(means=(-2.0, 2.0), stds=(0.5, 0.5), weights=(0.5, 0.5))


def ring_modes(k: int = 8, radius: float = 2.0) -> Tensor:
    """The ``k`` centres of the ring-of-Gaussians data, ``[k, 2]``, evenly spaced on a circle."""
    if k < 1:
        raise UserError("ring_modes needs k >= 1")
    angles = torch.arange(k, dtype=torch.float32) * (2 * math.pi / k)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(n: int, generator: torch.Generator | None = None, *, k: int = 8, radius: float = 2.0,
                std: float = 0.05) -> Tensor:
    """``n`` samples ``[n, 2]`` of the 2-D ring of ``k`` Gaussians (Metz et al. 2017's mode-collapse test)."""
    modes = ring_modes(k, radius)
    idx = torch.randint(0, k, (n,), generator=generator)
    return modes[idx] + std * torch.randn(n, 2, generator=generator)


# --------------------------------------------------------------------------------------- players
def mlp(in_dim: int, out_dim: int, hidden: int = 64, depth: int = 2, act: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    """A plain MLP: ``depth`` hidden layers of width ``hidden``, a linear output."""
    if depth < 1 or hidden < 1:
        raise UserError("mlp needs depth >= 1 and hidden >= 1")
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, hidden), act()]
        d = hidden
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


def make_generator(z_dim: int, x_dim: int, hidden: int = 64, depth: int = 2, seed: int = 0) -> nn.Sequential:
    """G: noise ``z [N, z_dim]`` -> sample ``x [N, x_dim]`` (seeded initialisation)."""
    return _seeded(lambda: mlp(z_dim, x_dim, hidden, depth), seed)


def make_discriminator(x_dim: int, hidden: int = 64, depth: int = 2, seed: int = 1) -> nn.Sequential:
    """D: sample ``x [N, x_dim]`` -> logit ``[N, 1]``; ``D(x) = sigmoid(logit)`` (seeded initialisation)."""
    return _seeded(lambda: mlp(x_dim, 1, hidden, depth, act=nn.LeakyReLU), seed)


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Sequential:
    # fork_rng keeps the caller's global RNG state untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


# ---------------------------------------------------------------------------------------- theory
def value_function(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """``V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))]`` (GAN Eq. 1), estimated from D's logits.

    D wants V large (``D(x) -> 1`` on data, ``D(G(z)) -> 0`` on fakes); G wants it small.
    """
    return F.logsigmoid(real_logits).mean() + F.logsigmoid(-fake_logits).mean()


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """D's loss ``-V(D, G)``: binary cross-entropy with label 1 for data and 0 for fakes (GAN Eq. 1)."""
    return -value_function(real_logits, fake_logits)


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise UserError(f"unknown generator loss {kind!r}: use 'saturating' or 'non_saturating'")


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    """G's loss on D's logits for fakes (GAN Section 3).

    ``"saturating"``: ``E log(1 - D(G(z)))``, the minimax term of Eq. 1, minimised by G.
    ``"non_saturating"``: ``-E log D(G(z))``, the heuristic the paper recommends: same fixed point,
    strong gradients early in training when D rejects the fakes (``D(G(z)) ~ 0``).
    """
    _check_kind(kind)
    if kind == "saturating":
        return F.logsigmoid(-fake_logits).mean()
    return -F.logsigmoid(fake_logits).mean()


def generator_loss_grad(d: Tensor, kind: str, wrt: str = "logit") -> Tensor:
    """The gradient of G's per-sample loss as a function of ``d = D(G(z))`` in (0, 1).

    ``wrt="prob"``: d/dD of ``log(1 - D)`` is ``-1/(1 - D)``; of ``-log D`` it is ``-1/D``.
    ``wrt="logit"`` (what backpropagation into G sees, since ``D = sigmoid(a)``): ``-D`` for the
    saturating loss, which vanishes as ``D -> 0``; ``-(1 - D)`` for the non-saturating loss, which
    tends to -1 there.
    """
    _check_kind(kind)
    if wrt == "prob":
        return -1.0 / (1.0 - d) if kind == "saturating" else -1.0 / d
    if wrt == "logit":
        return -d if kind == "saturating" else -(1.0 - d)
    raise UserError(f"unknown wrt {wrt!r}: use 'logit' or 'prob'")


def optimal_discriminator(p_data: Tensor, p_g: Tensor) -> Tensor:
    """``D*_G(x) = p_data(x) / (p_data(x) + p_g(x))`` (GAN Eq. 2); 1/2 where both densities vanish."""
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), torch.full_like(total, 0.5))


def numeric_optimal_discriminator(p_data: Tensor, p_g: Tensor, resolution: int = 10001) -> Tensor:
    """Maximise ``p_data log D + p_g log(1 - D)`` over D in (0, 1) by brute force on a grid, pointwise.

    This is the integrand of V(D, G) at a fixed x (GAN proof of Prop. 1); the maximiser should be D*.
    """
    d = torch.linspace(0, 1, resolution + 2, dtype=torch.float64)[1:-1]
    pd, pg = p_data.double().reshape(-1, 1), p_g.double().reshape(-1, 1)
    objective = pd * d.log() + pg * (1 - d).log()
    return d[objective.argmax(dim=1)].reshape(p_data.shape).to(p_data.dtype)


def _kl(p: Tensor, q: Tensor, dx: float) -> Tensor:
    mask = p > 0
    return (p[mask] * (p[mask] / q[mask]).log()).sum() * dx


def jsd(p: Tensor, q: Tensor, dx: float) -> Tensor:
    """Jensen-Shannon divergence of two densities sampled on a uniform grid of spacing ``dx`` (GAN Eq. 5), in nats.

    ``JSD(p || q) = KL(p || m)/2 + KL(q || m)/2`` with ``m = (p + q)/2``; it lies in [0, log 2].
    """
    m = 0.5 * (p + q)
    return 0.5 * _kl(p, m, dx) + 0.5 * _kl(q, m, dx)


def virtual_criterion(p_data: Tensor, p_g: Tensor, dx: float) -> Tensor:
    """``C(G) = V(D*_G, G)`` integrated on a grid (GAN Eq. 4); Theorem 1 says it equals ``-log 4 + 2 JSD``."""
    # log D* = log p_data - log(p_data + p_g) and log(1 - D*) = log p_g - log(p_data + p_g), computed
    # directly: forming 1 - D* in floating point loses everything where D* rounds to 1
    total = p_data + p_g
    term_data = torch.where(p_data > 0, p_data * (p_data.log() - total.log()), torch.zeros_like(total))
    term_g = torch.where(p_g > 0, p_g * (p_g.log() - total.log()), torch.zeros_like(total))
    return (term_data + term_g).sum() * dx


# ------------------------------------------------------------------------------------- distances
def wasserstein_1d(a: Tensor, b: Tensor, n_quantiles: int = 1000) -> float:
    """1-D Wasserstein-1 distance between two samples: the mean gap between their quantile functions."""
    a, b = a.detach().reshape(-1).float(), b.detach().reshape(-1).float()
    if a.numel() == 0 or b.numel() == 0:
        raise UserError("wasserstein_1d needs two non-empty samples")
    q = (torch.arange(n_quantiles, dtype=torch.float32) + 0.5) / n_quantiles
    return float((torch.quantile(a, q) - torch.quantile(b, q)).abs().mean())


def energy_distance(a: Tensor, b: Tensor) -> float:
    """Energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|`` between samples ``[n, d]`` and ``[m, d]`` (>= 0;
    zero only when the distributions agree)."""
    a, b = a.detach().float().reshape(a.shape[0], -1), b.detach().float().reshape(b.shape[0], -1)
    return float(2 * torch.cdist(a, b).mean() - torch.cdist(a, a).mean() - torch.cdist(b, b).mean())


def mode_coverage(samples: Tensor, modes: Tensor, std: float = 0.05, min_fraction: float = 0.01) -> tuple[int, float]:
    """Count the modes a generator covers on the ring (Metz et al. 2017's protocol).

    A sample is *high quality* if it lies within ``3 * std`` of its nearest mode. A mode is *covered* if
    at least ``min_fraction`` of the samples land near it (and at least one). Returns
    ``(modes covered, fraction of high-quality samples)``.
    """
    dist = torch.cdist(samples.detach().float(), modes.float())
    nearest_d, nearest = dist.min(dim=1)
    good = nearest_d < 3 * std
    counts = torch.bincount(nearest[good], minlength=modes.shape[0])
    need = max(1, math.ceil(min_fraction * samples.shape[0]))
    return int((counts >= need).sum()), float(good.float().mean())


# -------------------------------------------------------------------------------------- training
@dataclass
class GanSnapshot:
    """The state of a run at ``step``: generated samples and D(x) on the evaluation grid (if one was given)."""

    step: int
    samples: Tensor
    d_grid: Tensor | None
    distance: float | None


@dataclass
class GanHistory:
    """Per-step losses and the snapshots of a :func:`train_gan` run."""

    d_loss: list[float] = field(default_factory=list)
    g_loss: list[float] = field(default_factory=list)
    snapshots: list[GanSnapshot] = field(default_factory=list)


def train_gan(
    G: nn.Module,
    D: nn.Module,
    sample_data: Callable[[int, torch.Generator], Tensor],
    *,
    z_dim: int,
    steps: int = 2000,
    batch_size: int = 256,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.5, 0.999),
    loss: str = "non_saturating",
    d_steps: int = 1,
    g_steps: int = 1,
    snapshot_every: int = 0,
    n_snapshot: int = 1000,
    grid: Tensor | None = None,
    distance: Callable[[Tensor], float] | None = None,
    seed: int = 0,
    num_threads: int | None = 1,
) -> GanHistory:
    """Alternate D and G updates (GAN Algorithm 1) with Adam; return losses and snapshots.

    Each step runs ``d_steps`` updates of D (ascending V, Eq. 1) then ``g_steps`` updates of G with the
    chosen ``loss``. ``sample_data(n, generator)`` draws data. Every ``snapshot_every`` steps (and at
    steps 0 and ``steps``) a snapshot holds ``n_snapshot`` samples of G from a fixed noise batch, D's
    probability on ``grid`` and ``distance(samples)``. Modules train in place on their own device.
    ``num_threads``: CPU threads for the run (tiny MLPs are fastest, by far, on one thread; the previous
    setting is restored afterwards); ``None`` leaves torch's setting alone.
    """
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        return _train_gan(G, D, sample_data, z_dim, steps, batch_size, lr, betas, loss, d_steps, g_steps,
                          snapshot_every, n_snapshot, grid, distance, seed)
    finally:
        torch.set_num_threads(previous)


def _train_gan(G: nn.Module, D: nn.Module, sample_data: Callable[[int, torch.Generator], Tensor], z_dim: int,
               steps: int, batch_size: int, lr: float, betas: tuple[float, float], loss: str, d_steps: int,
               g_steps: int, snapshot_every: int, n_snapshot: int, grid: Tensor | None,
               distance: Callable[[Tensor], float] | None, seed: int) -> GanHistory:
    _check_kind(loss)
    if steps < 0 or batch_size < 1 or d_steps < 0 or g_steps < 0:
        raise UserError("train_gan needs steps >= 0, batch_size >= 1, d_steps >= 0 and g_steps >= 0")
    device = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    fixed_z = torch.randn(n_snapshot, z_dim, generator=gen).to(device)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    hist = GanHistory()

    def snap(step: int) -> None:
        with torch.no_grad():
            samples = G(fixed_z).cpu()
            d_grid = torch.sigmoid(D(grid.to(device))).squeeze(-1).cpu() if grid is not None else None
        hist.snapshots.append(GanSnapshot(step, samples, d_grid, distance(samples) if distance else None))

    if snapshot_every:
        snap(0)
    for step in range(1, steps + 1):
        d_loss = torch.zeros(())
        for _ in range(d_steps):
            real = sample_data(batch_size, gen).to(device)
            z = torch.randn(batch_size, z_dim, generator=gen).to(device)
            with torch.no_grad():
                fake = G(z)
            d_loss = discriminator_loss(D(real), D(fake))
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        g_loss = torch.zeros(())
        for _ in range(g_steps):
            z = torch.randn(batch_size, z_dim, generator=gen).to(device)
            g_loss = generator_loss(D(G(z)), loss)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
        hist.d_loss.append(float(d_loss.detach()))
        hist.g_loss.append(float(g_loss.detach()))
        if snapshot_every and (step % snapshot_every == 0 or step == steps):
            if hist.snapshots[-1].step != step:
                snap(step)
    return hist
