"""Model-free opponent shaping (M-FOS, Lu et al. 2022) on exact memory-one values.

M-FOS treats the opponent's *learning* as the environment of a longer game, the
meta-game, and learns a meta-policy for it without differentiating through the
opponent's update (unlike LOLA). Here, in the exact memory-one IPD:

- meta-state at meta-step ``k``: both players' current cooperation probabilities,
  ``s_k = (sigmoid(th1_k), sigmoid(th2_k))``, ``[..., 10]`` (``th1_0 = 0``);
- meta-action: the M-FOS player's next inner policy, ``th1_{k+1} = f_phi(s_k)``
  (logits ``[..., 5]``, a small MLP);
- the inner game is played exactly: meta-reward ``r_k = u_1(th1_{k+1}, th2_k)``,
  the per-step value ``(1 - gamma) V_1`` of :mod:`aa_lib.exact.memory_one`;
- the opponent is a naive learner: ``th2_{k+1} = th2_k + opponent_lr * grad_2 u_2(th1_{k+1}, th2_k)``;
- a meta-episode lasts ``meta_steps`` steps from a random ``th2_0 ~ N(0, 1)``; the
  meta-return is the mean of ``r_k``.

The meta-policy is trained with evolution strategies (antithetic Gaussian
perturbations of its parameters, Adam on the estimated gradient): model-free in the
sense of M-FOS, since only meta-returns are used. The M-FOS paper trains its
meta-policy with PPO on a stochastic meta-policy; ES is the simpler choice for a
deterministic meta-policy on exact values. A whole population of meta-policies plays
its meta-episodes as one batch (the MLP's weights carry a population dimension).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import List, Optional

import torch

from .._validation import check_gamma, check_int, check_positive, check_positive_int
from ..games.matrix import PRISONERS_DILEMMA, as_payoff_tensor
from .memory_one import per_step_values

__all__ = ["MetaPolicy", "meta_rollout", "antithetic_es_gradient", "MfosResult", "train_mfos"]


class MetaPolicy:
    """A population of MLPs ``[10] -> tanh hidden -> [5]`` stored as one flat parameter tensor ``[P, n]``.

    Attributes:
        hidden: width of the hidden layer.
        n_parameters: length of one member's flat parameter vector.
    """

    def __init__(self, hidden: int = 16):
        self.hidden = check_positive_int(hidden, "hidden")
        self.shapes = [("w1", (10, hidden)), ("b1", (hidden,)), ("w2", (hidden, 5)), ("b2", (5,))]
        self.n_parameters = sum(math.prod(s) for _, s in self.shapes)

    def init(self, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """One member's parameters ``[n]`` (scaled normal weights, zero biases), float64."""
        parts = []
        for name, shape in self.shapes:
            if name.startswith("w"):
                parts.append(torch.randn(shape, generator=generator, dtype=torch.float64).flatten() / math.sqrt(shape[0]))
            else:
                parts.append(torch.zeros(math.prod(shape), dtype=torch.float64))
        return torch.cat(parts)

    def __call__(self, params: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        """Logits ``[P, B, 5]`` of the next inner policy from ``params [P, n]`` and meta-states ``[P, B, 10]``."""
        if params.dim() != 2 or params.shape[1] != self.n_parameters:
            raise ValueError(f"params must have shape [population, {self.n_parameters}], got {tuple(params.shape)}")
        P, out, start = params.shape[0], {}, 0
        for name, shape in self.shapes:
            size = math.prod(shape)
            out[name] = params[:, start:start + size].reshape(P, *shape)
            start += size
        hidden = torch.tanh(torch.bmm(state, out["w1"]) + out["b1"][:, None])
        return torch.bmm(hidden, out["w2"]) + out["b2"][:, None]


def meta_rollout(meta_policy: MetaPolicy, params: torch.Tensor, theta2: torch.Tensor, game=PRISONERS_DILEMMA,
                 gamma: float = 0.96, meta_steps: int = 50, opponent_lr: float = 10.0):
    """Play meta-episodes of every member of ``params [P, n]`` against naive learners starting at ``theta2 [B, 5]``.

    Returns ``(reward1, reward2, theta1, theta2)``: per-step values ``[K, P, B]`` of the
    M-FOS player and of the naive learner at each meta-step, and the logits ``[K+1, P, B, 5]``
    of both (``theta1[0] = 0``). The opponent's update uses autograd on its own value only;
    nothing is differentiated through it.
    """
    gamma = check_gamma(gamma)
    meta_steps = check_positive_int(meta_steps, "meta_steps")
    payoffs = as_payoff_tensor(game, device=params.device).to(torch.float64)
    P, B = params.shape[0], theta2.shape[0]
    th1 = torch.zeros(P, B, 5, dtype=torch.float64, device=params.device)
    th2 = theta2.to(torch.float64).expand(P, B, 5).clone()
    r1, r2, thetas1, thetas2 = [], [], [th1], [th2]
    for _ in range(meta_steps):
        with torch.no_grad():
            state = torch.cat([torch.sigmoid(th1), torch.sigmoid(th2)], dim=-1)
            th1 = meta_policy(params, state)
        th2_var = th2.detach().requires_grad_(True)
        u1, u2 = per_step_values(th1, th2_var, payoffs, gamma)
        (g2,) = torch.autograd.grad(u2.sum(), th2_var)  # members and games are independent
        r1.append(u1.detach())
        r2.append(u2.detach())
        th2 = th2 + opponent_lr * g2
        thetas1.append(th1)
        thetas2.append(th2)
    return torch.stack(r1), torch.stack(r2), torch.stack(thetas1), torch.stack(thetas2)


def antithetic_es_gradient(fitness_plus: torch.Tensor, fitness_minus: torch.Tensor, eps: torch.Tensor,
                           sigma: float) -> torch.Tensor:
    """Antithetic evolution-strategies estimate of ``grad F``: ``mean_i (F(x + s e_i) - F(x - s e_i)) e_i / (2 s)``.

    ``fitness_plus``, ``fitness_minus`` ``[P]``, ``eps`` ``[P, n]`` -> ``[n]``. Unbiased for the
    gradient of the Gaussian-smoothed ``F``; exact in expectation for a quadratic ``F``.
    """
    return ((fitness_plus - fitness_minus)[:, None] * eps).mean(0) / (2 * sigma)


@dataclass
class MfosResult:
    """A trained M-FOS meta-policy and its training curve.

    Attributes:
        meta_policy: the :class:`MetaPolicy` architecture; ``params`` ``[n]`` its trained parameters.
        returns: mean meta-return of the current parameters at each ES iteration.
        settings: the arguments of :func:`train_mfos`.
    """

    meta_policy: MetaPolicy
    params: torch.Tensor
    returns: List[float] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def evaluate(self, n_opponents: int = 256, seed: int = 12345):
        """Meta-episodes against ``n_opponents`` fresh naive learners: ``(reward1, reward2)`` each ``[K, B]``."""
        s = self.settings
        theta2 = torch.randn(n_opponents, 5, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        r1, r2, _, _ = meta_rollout(self.meta_policy, self.params[None], theta2, s["game"], s["gamma"],
                                    s["meta_steps"], s["opponent_lr"])
        return r1[:, 0], r2[:, 0]


def train_mfos(iterations: int = 200, population: int = 32, n_opponents: int = 32, sigma: float = 0.1,
               lr: float = 0.03, hidden: int = 16, game=PRISONERS_DILEMMA, gamma: float = 0.96,
               meta_steps: int = 50, opponent_lr: float = 10.0, seed: int = 0, progress: bool = False) -> MfosResult:
    """Train an M-FOS meta-policy against naive learners with antithetic evolution strategies.

    Each iteration draws ``population`` perturbations ``eps ~ N(0, I)``, plays the
    meta-episodes of ``params +- sigma eps`` against the same ``n_opponents`` naive
    learners (common random numbers), estimates the gradient of the mean meta-return
    as ``mean((F+ - F-) eps) / (2 sigma)`` and takes an Adam step of size ``lr``.
    """
    iterations = check_positive_int(iterations, "iterations")
    population = check_positive_int(population, "population")
    n_opponents = check_positive_int(n_opponents, "n_opponents")
    for name, value in (("sigma", sigma), ("lr", lr), ("opponent_lr", opponent_lr)):
        check_positive(value, name, finite=True)
    gamma = check_gamma(gamma)
    meta_steps = check_positive_int(meta_steps, "meta_steps")
    gen = torch.Generator().manual_seed(check_int(seed, "seed", -(2 ** 63), 2 ** 64 - 1))
    meta_policy = MetaPolicy(hidden)
    optimiser_param = meta_policy.init(gen).requires_grad_(True)
    optimiser = torch.optim.Adam([optimiser_param], lr=lr)
    settings = dict(iterations=iterations, population=population, n_opponents=n_opponents, sigma=sigma, lr=lr,
                    hidden=hidden, game=game, gamma=gamma, meta_steps=meta_steps, opponent_lr=opponent_lr, seed=seed)
    returns = []
    steps = range(iterations)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="M-FOS (ES)", leave=False)
    for _ in steps:
        theta2 = torch.randn(n_opponents, 5, generator=gen, dtype=torch.float64)
        eps = torch.randn(population, meta_policy.n_parameters, generator=gen, dtype=torch.float64)
        current = optimiser_param.detach()
        candidates = torch.cat([current + sigma * eps, current - sigma * eps, current[None]])  # [2P+1, n]
        r1, _, _, _ = meta_rollout(meta_policy, candidates, theta2, game, gamma, meta_steps, opponent_lr)
        fitness = r1.mean(dim=(0, 2))  # [2P+1] mean meta-return
        returns.append(float(fitness[-1]))
        gradient = antithetic_es_gradient(fitness[:population], fitness[population:2 * population], eps, sigma)
        optimiser.zero_grad()
        optimiser_param.grad = -gradient  # Adam minimises
        optimiser.step()
        if not torch.isfinite(optimiser_param).all():
            raise FloatingPointError(f"M-FOS training diverged (non-finite parameters) at iteration {len(returns)}")
    return MfosResult(meta_policy, optimiser_param.detach().clone(), returns, settings)
