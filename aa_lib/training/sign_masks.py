"""The sign-mask variants of Advantage Alignment (App. C.2) trained with the library's sampled :class:`Trainer`.

The exact route (:mod:`aa_lib.exact.sign_mask_training`: exact advantages, all variants
and seeds in one batch) is the study's; this one trains a single memory-one policy the
way the deep-RL experiments train: sampled episodes, a learned critic, GAE advantages and
Adam, with the variant's rule from the registry (``naive``, ``aa``, or ``aa_sign_mask``
with the variant's ``sign_mask``, the quadrants removed).
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from .._validation import check_tensor
from ..exact.sign_mask_training import torch_threads
from ..exact.sign_masks import sign_mask_variant
from .config import TrainConfig
from .trainer import Trainer

__all__ = ["train_variant_with_trainer"]


def train_variant_with_trainer(variant="aa", iterations: int = 200, seed: int = 0, beta: float = 1.0,
                               aa_gamma: float = 0.9, init_theta=None, callbacks: Sequence = (),
                               num_threads: Optional[int] = 1, **config_overrides) -> Trainer:
    """Train one memory-one policy with the library's :class:`~aa_lib.training.Trainer`.

    Sampled episodes, a learned critic and GAE advantages (no exact tables); the
    learning rule is the variant's: the library's naive actor-critic for ``"naive"``,
    its Advantage Alignment for ``"aa"``, otherwise the registered rule ``aa_sign_mask``
    (:class:`~aa_lib.algos.SignMaskedAdvantageAlignment`) with the variant's ``sign_mask``.
    Defaults: the IPD of Table 1 (T = 16, gamma 0.9), the classroom settings of
    :mod:`aa_lib.training.presets` (feed-forward critic, centred advantages) without entropy
    bonus, and Adam with ``actor_lr=0.05`` on the 5 logits.

    Args:
        variant: a variant name (see :func:`~aa_lib.exact.sign_masks.sign_mask_variant`).
        iterations, seed, beta, aa_gamma: the run's length, seed, AA weight and AA discount.
        init_theta: optional ``[5]`` initial logits (default: zeros, P(C) = 0.5).
        callbacks: trainer callbacks (progress bar, live plot...).
        num_threads: torch CPU threads while training (see :func:`~aa_lib.exact.sign_mask_training.torch_threads`).
        **config_overrides: other :class:`~aa_lib.training.TrainConfig` fields.

    Returns:
        The trained :class:`~aa_lib.training.Trainer` (``trainer.policy.theta`` are the logits).
    """
    variant = sign_mask_variant(variant)
    options = dict(game="ipd", game_options={"episode_length": 16}, algo="aa" if variant.shapes else "naive",
                   policy="memory_one", batch_size=256, gamma=0.9, actor_lr=0.05, critic_lr=3e-3,
                   critic_ema=0.9, critic_updates=4, recurrent=False, hidden=32, center_advantages=True,
                   iterations=iterations, seed=seed)
    if variant.shapes:
        options["algo_options"] = {"beta": beta, "aa_gamma": aa_gamma}
    options.update(config_overrides)
    if variant.shapes and variant.sign_mask:  # AA without some quadrants: the registered sign-mask rule
        options["algo"] = "aa_sign_mask"
        options["algo_options"] = {**options.get("algo_options", {}), "sign_mask": variant.sign_mask}
    if init_theta is not None:
        init = check_tensor(init_theta, "init_theta")
        if init.shape != (5,):
            raise ValueError(f"init_theta must have shape [5], got {tuple(init.shape)}")
    trainer = Trainer(TrainConfig(**options), callbacks)
    if init_theta is not None:
        with torch.no_grad():
            trainer.policy.theta.copy_(init)
    with torch_threads(num_threads):
        trainer.train()
    return trainer
