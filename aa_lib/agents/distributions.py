"""Action distributions that sample from an explicit ``torch.Generator``.

Two distributions cover every game of the library:

- :class:`CategoricalDist` for discrete actions (IPD, Coin Game, Commons Harvest);
- :class:`SquashedGaussian` for Negotiation's continuous proposals in ``[low, high]``.

Both expose the same small interface used by rollouts and losses:
``sample(generator) -> latent``, ``to_env(latent) -> what the environment receives``,
``log_prob(latent)`` and ``entropy()``. For discrete actions the latent *is* the
action. For the squashed Gaussian the latent is the pre-squash Gaussian sample
``u``; trajectories store ``u`` so that log-densities are computed from it exactly
(no ``atanh`` of a value that rounded to the bound, which is what corrupts the
densities of reference code near proposals 0 and 5).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["CategoricalDist", "SquashedGaussian"]

_LOG_2PI = math.log(2.0 * math.pi)


class CategoricalDist:
    """Categorical distribution over the last dimension of ``logits`` ``[..., n]``."""

    def __init__(self, logits: torch.Tensor):
        if logits.dim() < 1 or logits.shape[-1] < 2:
            raise ValueError(f"logits must have shape [..., n_actions >= 2], got {tuple(logits.shape)}")
        self.logits = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # normalised log-probs

    @property
    def probs(self) -> torch.Tensor:
        """Action probabilities ``[..., n]``."""
        return self.logits.exp()

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw actions ``[...]`` (long) by the Gumbel-max trick with the given generator."""
        uniform = torch.rand(self.logits.shape, generator=generator, device=self.logits.device,
                             dtype=self.logits.dtype)
        exponential = (-torch.log(uniform.clamp_min(1e-20))).clamp_min(1e-20)  # -log U > 0
        gumbel = -torch.log(exponential)
        return torch.argmax(self.logits.detach() + gumbel, dim=-1)

    def to_env(self, latent: torch.Tensor) -> torch.Tensor:
        """Discrete actions are passed to the environment unchanged."""
        return latent

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a)`` ``[...]`` for long actions ``[...]``."""
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """Exact entropy ``[...]``."""
        return -(self.probs * self.logits).sum(-1)


class SquashedGaussian:
    """Gaussian ``u ~ N(mean, std)`` squashed by tanh onto ``(low, high)``, per dimension.

    ``y = low + (high - low) * (tanh(u) + 1) / 2 = low + (high - low) * sigmoid(2u)``.

    Change of variables: ``log p(y) = log N(u) - log|dy/du|`` with
    ``log|dy/du| = log(high - low) + log 2 + logsigmoid(2u) + logsigmoid(-2u)``,
    which is finite and accurate for every finite ``u`` (no ``1 - tanh(u)^2``
    that underflows to 0). Log-probabilities sum over the action dimension.

    Args:
        mean: ``[..., d]`` Gaussian mean in latent space.
        log_std: ``[d]`` or broadcastable to ``mean``.
        low, high: bounds of the action interval.
    """

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor, low: float = 0.0, high: float = 5.0):
        if not high > low:
            raise ValueError(f"high must exceed low, got low={low}, high={high}")
        self.mean = mean
        self.log_std = log_std.expand_as(mean)
        self.low, self.high = float(low), float(high)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw latent samples ``u`` ``[..., d]`` (detached)."""
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return (self.mean + self.log_std.exp() * noise).detach()

    def to_env(self, latent: torch.Tensor) -> torch.Tensor:
        """Map latent samples to actions in ``[low, high]``."""
        return self.low + (self.high - self.low) * torch.sigmoid(2.0 * latent)

    def latent_of(self, actions: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_env` for actions given from outside (e.g. scripted bids).

        An action exactly on a bound has no finite pre-image; it is read as the
        nearest representable interior point (one machine epsilon inside), i.e.
        the latent whose squashed value rounds to the bound in this dtype.
        """
        eps = torch.finfo(actions.dtype).eps
        x = ((actions - self.low) / (self.high - self.low)).clamp(eps, 1.0 - eps)
        return 0.5 * (torch.log(x) - torch.log1p(-x))

    def log_abs_det_jacobian(self, latent: torch.Tensor) -> torch.Tensor:
        """``log|dy/du|`` per dimension ``[..., d]``."""
        return (math.log(self.high - self.low) + math.log(2.0)
                + F.logsigmoid(2.0 * latent) + F.logsigmoid(-2.0 * latent))

    def item_log_prob(self, latent: torch.Tensor) -> torch.Tensor:
        """Log-density of each dimension of the squashed action, ``[..., d]`` (the dimensions are
        independent, so :meth:`log_prob` is their sum)."""
        z = (latent - self.mean) / self.log_std.exp()
        gaussian = -0.5 * z * z - self.log_std - 0.5 * _LOG_2PI
        return gaussian - self.log_abs_det_jacobian(latent)

    def log_prob(self, latent: torch.Tensor) -> torch.Tensor:
        """Log-density of the squashed action whose latent is ``latent`` ``[..., d]`` -> ``[...]``."""
        return self.item_log_prob(latent).sum(-1)

    def log_prob_action(self, actions: torch.Tensor) -> torch.Tensor:
        """Log-density of actions ``[..., d]`` in ``[low, high]`` (via :meth:`latent_of`)."""
        return self.log_prob(self.latent_of(actions))

    def entropy(self) -> torch.Tensor:
        """Entropy of the latent Gaussian ``[...]`` (the default entropy bonus; the
        squashed entropy has no closed form, see :meth:`action_entropy`)."""
        return (self.log_std + 0.5 * (1.0 + _LOG_2PI)).sum(-1)

    def action_entropy(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One-sample estimate ``[...]`` of the entropy of the squashed *actions*, with gradient.

        ``H(y) = H(u) + E[log|dy/du|]`` (change of variables); the expectation is taken at one
        reparameterised sample ``u = mean + std * eps`` with ``eps`` drawn from ``generator``.
        The latent entropy :meth:`entropy` does not depend on the mean, so as a bonus it lets the
        actions pile up at a bound; this one falls there (the Jacobian vanishes) and resists it.
        """
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.entropy() + self.log_abs_det_jacobian(self.mean + self.log_std.exp() * noise).sum(-1)
