"""The configuration of LLM training (:class:`LLMConfig`) and its presets.

Presets (:data:`LLM_PRESETS`, :func:`llm_preset`):

- ``"paper-ipd"``, ``"paper-split"``, ``"paper-trust-split"``: the LLM follow-up paper's runs
  (REFERENCES "LLM follow-up"): Qwen2.5-7B-Instruct, LoRA r32 / alpha 64 on all linear layers,
  Adam lr 3e-6, 128 (IPD) or 64 games per iteration in seed groups of 8, beta / gamma 0.5 / 0.9
  (IPD), 1 / 0.9 (Split), 2 / 0.96 (Trust-and-Split), entropy 0.01 (IPD) or KL 0.001 (splits),
  buffer snapshot every 10 iterations, 28 kept, co-player from the buffer with probability 0.5.
  They need a GPU and the model's weights (a hub id; no weights can be downloaded here).
- ``"classroom-ipd"``: the tiny model on a CPU (a research prototype's settings): hidden 64,
  2 layers, prior from scripted play (TFT 50%, AllC 30%, Grim 10%, Random 10%, 10% noise,
  150 steps x 64), LoRA r8, Adam lr 2e-3, 32 games, rewards / 5, gamma 0.9, beta 1, AA gamma 0.9,
  k < t, buffer every 10 iterations, p 0.5, 200 iterations.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

from .._validation import check_gamma, check_nonnegative, check_positive, check_positive_int

__all__ = ["LLMConfig", "LLM_PRESETS", "llm_preset", "DTYPES"]

#: dtype names accepted by :attr:`LLMConfig.dtype`.
DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class LLMConfig:
    """Everything an :class:`~aa_lib.llm.trainer.LLMTrainer` run depends on.

    Attributes:
        game: text game name (``aa_lib.games.text.TEXT_GAMES``), e.g. ``"text-ipd"``.
        game_options: keyword arguments of the game class (e.g. ``{"n_rounds": 5}``).
        model: ``"tiny"`` (built here from the game's vocabulary and pre-trained on scripted play),
            or a model folder / hub id for :func:`~aa_lib.llm.models.load_causal_lm`.
        device: torch device of the model; dtype: one of :data:`DTYPES`.
        tiny_hidden, tiny_layers, tiny_heads: size of the tiny model.
        prior_mixture: scripted strategies ``{name: weight}`` of the tiny model's prior (None: the IPD mixture).
        prior_noise, prior_transcripts, prior_steps, prior_batch, prior_lr: the prior's pre-training
            (action noise, scripted games played, Adam steps, chats per step, learning rate).
        algo: credit rule: ``"naive"``, ``"sum_rewards"`` or ``"aa"`` (:data:`~aa_lib.llm.credit.CREDIT_RULES`).
        iterations: training iterations (one rollout and one Adam step each).
        batch_size: games per iteration.
        group_size: seed groups of the games' draws (the baseline's groups); must divide ``batch_size``;
            games without random draws use the whole batch as one group whatever this is.
        gamma: discount of the returns-to-go.
        beta: weight of the Advantage Alignment term.
        aa_gamma: discount inside the AA term (None: ``gamma``).
        aa_include_current: AA past sum over k <= t (earlier research code) instead of k < t (release).
        aa_extra_gamma: the release's extra factor gamma in front of the AA term.
        reward_scale: factor on the game points (None: the game's ``reward_scale``, IPD 1/5, splits 1/100).
        lr: Adam learning rate; adam_betas: Adam's betas.
        grad_clip: global gradient-norm clip (None: no clipping).
        entropy_coef: entropy bonus weight; kl_coef: weight of KL(pi || base model).
        importance_cap: cap of the truncated importance weight (None: no weight).
        lora_r, lora_alpha: LoRA rank and scale numerator (all linear layers).
        buffer_every: snapshot the learner every this many iterations (None: no snapshots).
        buffer_capacity: snapshots kept (oldest dropped first).
        buffer_prob: probability that a game's co-player is a buffer member (else the live adapter).
        buffer_scripted: scripted agent names that are buffer members from the start.
        buffer_draw: ``"game"``: each buffer game draws its own member (the paper); ``"batch"``: one member
            per iteration for all the buffer games (same distribution per game, faster on a CPU).
        train_live_coplayer: also train the co-player seat's rows in games where the live adapter
            plays it (self-play); False trains the learner seat (seat 0) only.
        max_message_tokens: cap of free messages in tokens (None: the game's word cap).
        adapter_name: name of the learner's adapter (several trainers can share one model).
        seed: every draw of the run (prior, games, tokens, buffer).
    """

    game: str = "text-ipd"
    game_options: Dict[str, object] = field(default_factory=dict)
    model: str = "tiny"
    device: str = "cpu"
    dtype: str = "float32"
    tiny_hidden: int = 64
    tiny_layers: int = 2
    tiny_heads: int = 4
    prior_mixture: Optional[Dict[str, float]] = None
    prior_noise: float = 0.1
    prior_transcripts: int = 1024
    prior_steps: int = 150
    prior_batch: int = 64
    prior_lr: float = 3e-3
    algo: str = "aa"
    iterations: int = 200
    batch_size: int = 32
    group_size: Optional[int] = 8
    gamma: float = 0.9
    beta: float = 1.0
    aa_gamma: Optional[float] = None
    aa_include_current: bool = False
    aa_extra_gamma: bool = True
    reward_scale: Optional[float] = None
    lr: float = 2e-3
    adam_betas: Tuple[float, float] = (0.9, 0.999)
    grad_clip: Optional[float] = 1.0
    entropy_coef: float = 0.0
    kl_coef: float = 0.0
    importance_cap: Optional[float] = 2.0
    lora_r: int = 8
    lora_alpha: float = 16.0
    buffer_every: Optional[int] = 10
    buffer_capacity: int = 28
    buffer_prob: float = 0.5
    buffer_scripted: Tuple[str, ...] = ()
    buffer_draw: str = "game"
    train_live_coplayer: bool = True
    max_message_tokens: Optional[int] = None
    adapter_name: str = "live"
    seed: int = 0

    def __post_init__(self):
        from ..games.text import TEXT_GAMES
        from .credit import CREDIT_RULES

        if self.game not in TEXT_GAMES:
            raise ValueError(f"game must be one of {sorted(TEXT_GAMES)}, got {self.game!r}")
        if not isinstance(self.game_options, dict):
            raise TypeError(f"game_options must be a dict, got {type(self.game_options).__name__}")
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model must be 'tiny' or a model folder / hub id, got {self.model!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.algo not in CREDIT_RULES:
            raise ValueError(f"algo must be one of {CREDIT_RULES}, got {self.algo!r}")
        for name in ("tiny_hidden", "tiny_layers", "tiny_heads", "prior_transcripts", "prior_steps", "prior_batch",
                     "iterations", "batch_size", "lora_r", "buffer_capacity"):
            check_positive_int(getattr(self, name), name)
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (the leave-one-out baseline), got {self.batch_size}")
        if self.group_size is not None:
            check_positive_int(self.group_size, "group_size")
            if self.group_size < 2 or self.batch_size % self.group_size:
                raise ValueError(f"group_size={self.group_size} must be at least 2 and divide "
                                 f"batch_size={self.batch_size}")
        for name in ("buffer_every", "max_message_tokens"):
            if getattr(self, name) is not None:
                check_positive_int(getattr(self, name), name)
        self.gamma = check_gamma(self.gamma, "gamma", allow_one=True)
        if self.aa_gamma is not None:
            self.aa_gamma = check_gamma(self.aa_gamma, "aa_gamma", allow_one=True)
        for name in ("beta", "entropy_coef", "kl_coef", "prior_noise"):
            setattr(self, name, check_nonnegative(getattr(self, name), name))
        if self.prior_noise > 1:
            raise ValueError(f"prior_noise must lie in [0, 1], got {self.prior_noise}")
        for name in ("lr", "prior_lr", "lora_alpha"):
            setattr(self, name, check_positive(getattr(self, name), name, finite=True))
        for name in ("reward_scale", "grad_clip", "importance_cap"):
            if getattr(self, name) is not None:
                setattr(self, name, check_positive(getattr(self, name), name, finite=True))
        betas = tuple(self.adam_betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ValueError(f"adam_betas must be two numbers in [0, 1), got {self.adam_betas!r}")
        self.adam_betas = (float(betas[0]), float(betas[1]))
        if not 0.0 <= float(self.buffer_prob) <= 1.0:
            raise ValueError(f"buffer_prob must lie in [0, 1], got {self.buffer_prob!r}")
        self.buffer_prob = float(self.buffer_prob)
        if isinstance(self.buffer_scripted, str) or not all(isinstance(n, str) for n in self.buffer_scripted):
            raise TypeError(f"buffer_scripted must be a tuple of scripted agent names, got {self.buffer_scripted!r}")
        self.buffer_scripted = tuple(self.buffer_scripted)
        if self.buffer_draw not in ("game", "batch"):
            raise ValueError(f"buffer_draw must be 'game' or 'batch', got {self.buffer_draw!r}")
        if self.prior_mixture is not None:
            if not isinstance(self.prior_mixture, dict) or not self.prior_mixture:
                raise ValueError(f"prior_mixture must be a non-empty dict name -> weight, got {self.prior_mixture!r}")
            self.prior_mixture = {str(k): float(v) for k, v in self.prior_mixture.items()}
        if not isinstance(self.adapter_name, str) or not self.adapter_name or "." in self.adapter_name:
            raise ValueError(f"adapter_name must be a non-empty string without '.', got {self.adapter_name!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise TypeError(f"seed must be an int, got {self.seed!r}")
        for name in ("aa_include_current", "aa_extra_gamma", "train_live_coplayer"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")

    def to_dict(self) -> dict:
        """Plain types only (for checkpoints loaded with ``weights_only=True``)."""
        out = dataclasses.asdict(self)
        out["adam_betas"] = list(self.adam_betas)
        out["buffer_scripted"] = list(self.buffer_scripted)
        return out

    @classmethod
    def from_dict(cls, values: dict) -> "LLMConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown LLMConfig field(s) {sorted(unknown)}")
        return cls(**values)

    def replace(self, **changes) -> "LLMConfig":
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)


_PAPER = dict(model="Qwen/Qwen2.5-7B-Instruct", device="cuda", dtype="bfloat16", lora_r=32, lora_alpha=64.0,
              lr=3e-6, group_size=8, buffer_every=10, buffer_capacity=28, buffer_prob=0.5, iterations=1000,
              algo="aa")

#: name -> keyword arguments of :class:`LLMConfig` (see the module docstring).
LLM_PRESETS: Dict[str, Dict[str, object]] = {
    "paper-ipd": dict(_PAPER, game="text-ipd", batch_size=128, beta=0.5, gamma=0.9, entropy_coef=0.01),
    "paper-split": dict(_PAPER, game="split", batch_size=64, beta=1.0, gamma=0.9, kl_coef=0.001),
    "paper-trust-split": dict(_PAPER, game="trust-split", batch_size=64, beta=2.0, gamma=0.96, kl_coef=0.001),
    "classroom-ipd": dict(game="text-ipd", model="tiny", device="cpu", dtype="float32", tiny_hidden=64,
                          tiny_layers=2, tiny_heads=4, prior_mixture=None, prior_noise=0.1, prior_steps=150,
                          prior_batch=64, lora_r=8, lora_alpha=16.0, lr=2e-3, batch_size=32, group_size=8,
                          gamma=0.9, beta=1.0, aa_gamma=0.9, aa_include_current=False, aa_extra_gamma=True,
                          buffer_every=10, buffer_capacity=28, buffer_prob=0.5, iterations=200, algo="aa"),
}


def llm_preset(name: str, **overrides) -> LLMConfig:
    """The preset ``name`` of :data:`LLM_PRESETS` with ``overrides`` (e.g. ``algo="naive"``)."""
    if name not in LLM_PRESETS:
        raise ValueError(f"unknown LLM preset {name!r}; choose one of {sorted(LLM_PRESETS)}")
    return LLMConfig(**dict(LLM_PRESETS[name], **overrides))
