"""The training loop of language-model agents: rollouts, credit, one LoRA step per iteration.

Each iteration of :class:`LLMTrainer`:

1. (agent buffer) snapshot the live adapter when due (iterations 0, n, 2n, ...);
2. play ``batch_size`` games: seat 0 is the live adapter, the co-player seat per game a buffer
   member with probability ``buffer_prob`` else the live adapter (or one of fixed ``opponents``);
3. credit per round (:mod:`aa_lib.llm.credit`): returns-to-go, group-relative baseline, the rule;
4. one Adam step on the token-level REINFORCE loss (:mod:`aa_lib.llm.loss`) of the rows played by
   the live adapter (seat 0, and seat 1 in self-play games when ``train_live_coplayer``). A buffer
   co-player is never trained; its advantages are the A2 of the learner's AA term.

Checkpoints (:meth:`LLMTrainer.save_checkpoint`) hold the live adapter, the optimiser, the buffer,
the generators, the iteration and the history, written to a temporary file and renamed (a crash
never leaves half a checkpoint) and loaded with ``torch.load(weights_only=True)``. On a CPU a resumed
run continues bit for bit like an uninterrupted one. The base model is not saved: it is rebuilt from
the config (``model="tiny"``: the same seed gives the same prior) or loaded from its folder, and a
fingerprint of its weights is checked.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Union

import torch

from ..games.text import TEXT_GAMES, TextAgent, TextIPD, make_text_agent
from ._deps import require
from .adapters import AgentBuffer, add_adapter, adapter_parameters, lora_config, snapshot_adapter
from .adapters import load_adapter_snapshot
from .config import LLMConfig
from .credit import round_advantages, round_credit, token_credit
from .loss import loss_summary, reinforce_loss, token_log_probs
from .models import load_causal_lm
from .prior import build_prior
from .forward import BASE
from .rollout import RolloutBatch, play_games

__all__ = ["LLMTrainer", "build_base_model", "model_fingerprint", "save_atomic", "CHECKPOINT_FORMAT"]

#: Version of the checkpoint layout.
CHECKPOINT_FORMAT = 1


def build_base_model(config: LLMConfig, game=None):
    """``(model, tokenizer)`` of ``config.model``: the tiny model with its prior, or a loaded causal LM."""
    game = TEXT_GAMES[config.game](**config.game_options) if game is None else game
    dtype = getattr(torch, config.dtype)
    if config.model == "tiny":
        model, tokenizer, _ = build_prior(game, config.prior_mixture, action_noise=config.prior_noise,
                                          n_transcripts=config.prior_transcripts, steps=config.prior_steps,
                                          batch=config.prior_batch, lr=config.prior_lr, seed=config.seed,
                                          hidden=config.tiny_hidden, layers=config.tiny_layers,
                                          heads=config.tiny_heads)
        return model.to(device=config.device, dtype=dtype), tokenizer
    return load_causal_lm(config.model, device=config.device, dtype=dtype)


def model_fingerprint(model) -> float:
    """A number that changes when the base weights change (sum of the input embedding, float64)."""
    return float(model.get_input_embeddings().weight.detach().double().sum())


def save_atomic(state: dict, path) -> Path:
    """``torch.save`` to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


class LLMTrainer:
    """Trains a LoRA adapter with naive, sum-of-rewards or Advantage Alignment credit.

    Args:
        config: the run's :class:`~aa_lib.llm.config.LLMConfig`.
        model, tokenizer: the base model (plain or a peft model that may already hold other
            adapters); built from ``config`` if None. The trainer adds its adapters to this model
            in place, so give each trainer its own copy unless they are meant to share it.
        opponents: fixed co-players (adapter names of ``model`` or scripted agents): each game's
            co-player is drawn uniformly from them and never trained (no buffer, no self-play).
    """

    def __init__(self, config: LLMConfig, model=None, tokenizer=None,
                 opponents: Optional[Sequence[Union[str, TextAgent]]] = None):
        require()
        if not isinstance(config, LLMConfig):
            raise TypeError(f"config must be an LLMConfig, got {type(config).__name__}")
        if (model is None) != (tokenizer is None):
            raise ValueError("pass both model and tokenizer, or neither (then config.model is built)")
        self.config = config
        self.game = TEXT_GAMES[config.game](**config.game_options)
        if model is None:
            model, tokenizer = build_base_model(config, self.game)
        self.tokenizer = tokenizer
        self.base_fingerprint = model_fingerprint(model)
        self.live = config.adapter_name
        self.lora = lora_config(config.lora_r, config.lora_alpha)
        self.model = add_adapter(model, self.live, self.lora, trainable=True, seed=config.seed)
        self.params = adapter_parameters(self.model, self.live)
        self.optimizer = torch.optim.Adam(self.params, lr=config.lr, betas=config.adam_betas)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.reward_scale = self.game.reward_scale if config.reward_scale is None else config.reward_scale
        self.opponents = None if opponents is None else self._check_opponents(opponents)
        self.buffer = None
        if self.opponents is None and (config.buffer_every is not None or config.buffer_scripted):
            scripted = [make_text_agent(self.game, name, torch.Generator().manual_seed(config.seed + 1 + k))
                        for k, name in enumerate(config.buffer_scripted)]
            self.buffer = AgentBuffer(self.lora, config.buffer_capacity, config.buffer_every, config.buffer_prob,
                                      scripted, prefix=f"{self.live}_buffer")
        self.iteration = 0
        self.history: List[Dict[str, float]] = []
        self.last_batch: Optional[RolloutBatch] = None

    def _check_opponents(self, opponents) -> List[Union[str, TextAgent]]:
        opponents = list(opponents)
        if not opponents:
            raise ValueError("opponents must name at least one co-player")
        for member in opponents:
            if isinstance(member, str):
                if member != BASE and member not in self.model.peft_config:
                    raise ValueError(f"opponent adapter {member!r} is not in the model")
                if member == self.live:
                    raise ValueError("the live adapter cannot be a fixed opponent")
            elif not isinstance(member, TextAgent):
                raise TypeError(f"opponents must be adapter names or TextAgent objects, got {type(member).__name__}")
        return opponents

    # ------------------------------------------------------------------ one iteration
    def coplayers(self) -> List[Union[str, TextAgent]]:
        """The co-player of each game of the next batch (draws from the trainer's generator)."""
        B = self.config.batch_size
        if self.opponents is not None:
            pick = torch.randint(len(self.opponents), (B,), generator=self.generator).tolist()
            return [self.opponents[k] for k in pick]
        if self.buffer is not None:
            return self.buffer.sample(B, self.live, self.generator, self.config.buffer_draw)
        return [self.live] * B

    def trained_rows(self, batch: RolloutBatch) -> torch.Tensor:
        """Rows played by the live adapter that are trained (see ``train_live_coplayer``)."""
        keep = [i for i, (name, seat) in enumerate(zip(batch.row_policy, batch.row_seat.tolist()))
                if name == self.live and (seat == 0 or self.config.train_live_coplayer)]
        return torch.tensor(keep, dtype=torch.long)

    def credit(self, batch: RolloutBatch) -> torch.Tensor:
        """Credit ``[P, B, T]`` of every seat's rounds under the configured rule."""
        cfg = self.config
        rewards = batch.game_rewards.to(torch.float64) * self.reward_scale
        advantages = round_advantages(rewards, batch.group_ids, cfg.gamma)
        aa_gamma = cfg.gamma if cfg.aa_gamma is None else cfg.aa_gamma
        return round_credit(advantages, cfg.algo, cfg.beta, aa_gamma, cfg.aa_include_current, cfg.aa_extra_gamma)

    def step(self) -> Dict[str, float]:
        """One iteration (rollout, credit, Adam step); returns and records its metrics."""
        cfg = self.config
        self.model.set_adapter(self.live)  # active and trainable (another trainer may share the model)
        if self.buffer is not None and self.buffer.due(self.iteration):
            self.model = self.buffer.add(self.model, snapshot_adapter(self.model, self.live))
            self.model.set_adapter(self.live)
        batch = play_games(self.game, self.model, self.tokenizer, [self.live, self.coplayers()], cfg.batch_size,
                           self.generator, group_size=cfg.group_size, max_message_tokens=cfg.max_message_tokens)
        self.last_batch = batch
        credit = self.credit(batch)
        rows = self.trained_rows(batch)
        metrics = self._update(batch, rows, credit)
        metrics.update(self._play_metrics(batch))
        self.iteration += 1
        metrics["iteration"] = float(self.iteration)
        self.history.append(metrics)
        return metrics

    def _update(self, batch: RolloutBatch, rows: torch.Tensor, credit: torch.Tensor) -> Dict[str, float]:
        cfg = self.config
        if len(rows) == 0:
            raise RuntimeError("no row of the batch is played by the live adapter")
        data = batch.select_rows(rows)
        tokens_credit = token_credit(credit, batch.row_seat[rows], batch.row_game[rows], data["round_index"])
        args = (data["tokens"], data["attention_mask"], data["action_mask"], data["constraint"], batch.allowed)
        current = token_log_probs(self.model, *args, [self.live] * len(rows))
        base = None
        if cfg.kl_coef:
            with torch.no_grad():
                base = token_log_probs(self.model, *args, [BASE] * len(rows))
        where = current.position
        parts = reinforce_loss(current, tokens_credit[where].float(), data["behaviour_logp"][where],
                               cfg.entropy_coef, cfg.kl_coef, base, cfg.importance_cap)
        if not torch.isfinite(parts.loss):
            raise FloatingPointError(f"non-finite loss {float(parts.loss)} at iteration {self.iteration}")
        self.optimizer.zero_grad(set_to_none=True)
        parts.loss.backward()
        limit = cfg.grad_clip if cfg.grad_clip is not None else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, limit)
        if not torch.isfinite(grad_norm):
            raise FloatingPointError(f"non-finite gradient norm at iteration {self.iteration}")
        self.optimizer.step()
        out = loss_summary(parts)
        out["grad_norm"] = float(grad_norm)
        return out

    def _play_metrics(self, batch: RolloutBatch) -> Dict[str, float]:
        points = batch.game_rewards.mean(dim=(1, 2))  # [P] per round
        out = {"reward_learner": float(points[0]), "reward_coplayer": float(points[1:].mean()),
               "welfare": float(batch.game_rewards.sum(0).mean()), "parse_failures": float(batch.parse_failures.sum())}
        if isinstance(self.game, TextIPD):
            out["cooperation_learner"] = float((batch.actions[0] == 0).float().mean())
        return out

    def train(self, iterations: Optional[int] = None, checkpoint_path=None, checkpoint_every: Optional[int] = None,
              callback: Optional[Callable[["LLMTrainer", Dict[str, float]], None]] = None,
              progress: bool = False) -> List[Dict[str, float]]:
        """Run ``iterations`` more iterations (default: up to ``config.iterations``).

        Args:
            checkpoint_path: write a checkpoint there every ``checkpoint_every`` iterations and at the end.
            callback: called with ``(trainer, metrics)`` after every iteration.
            progress: show a tqdm progress bar.
        """
        if iterations is None:
            iterations = max(self.config.iterations - self.iteration, 0)
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise ValueError(f"iterations must be a non-negative int, got {iterations!r}")
        steps = range(iterations)
        if progress:
            from tqdm.auto import tqdm
            steps = tqdm(steps, desc=f"{self.config.algo} on {self.config.game}")
        for _ in steps:
            metrics = self.step()
            if callback is not None:
                callback(self, metrics)
            if checkpoint_path is not None and checkpoint_every and self.iteration % checkpoint_every == 0:
                self.save_checkpoint(checkpoint_path)
        if checkpoint_path is not None:
            self.save_checkpoint(checkpoint_path)
        return self.history

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """Everything a resumed run needs besides the base model (plain tensors and containers)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "iteration": self.iteration,
            "adapter": snapshot_adapter(self.model, self.live),
            "optimizer": self.optimizer.state_dict(),
            "buffer": None if self.buffer is None else self.buffer.state_dict(),
            "generator": self.generator.get_state(),
            "opponent_generators": [m.generator.get_state() for m in (self.opponents or [])
                                    if isinstance(m, TextAgent)],
            "history": [dict(h) for h in self.history],
            "base_fingerprint": self.base_fingerprint,
        }

    def save_checkpoint(self, path) -> Path:
        """Write :meth:`state_dict` atomically (temporary file + rename)."""
        return save_atomic(self.state_dict(), path)

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` into this trainer (same config and base model)."""
        if state.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT}")
        if LLMConfig.from_dict(state["config"]) != self.config:
            raise ValueError("the checkpoint was written by a run with a different config")
        if abs(state["base_fingerprint"] - self.base_fingerprint) > 1e-9 * max(1.0, abs(self.base_fingerprint)):
            raise ValueError("the checkpoint was trained on different base weights (fingerprint differs)")
        self.model = load_adapter_snapshot(self.model, state["adapter"], self.live)
        self.optimizer.load_state_dict(state["optimizer"])
        if (state["buffer"] is None) != (self.buffer is None):
            raise ValueError("the checkpoint's agent buffer does not match this trainer's")
        if self.buffer is not None:
            self.model = self.buffer.load_state_dict(self.model, state["buffer"])
        self.generator.set_state(state["generator"])
        scripted = [m for m in (self.opponents or []) if isinstance(m, TextAgent)]
        if len(scripted) != len(state["opponent_generators"]):
            raise ValueError("the checkpoint's fixed opponents differ from this trainer's")
        for agent, gen_state in zip(scripted, state["opponent_generators"]):
            agent.generator.set_state(gen_state)
        self.iteration = int(state["iteration"])
        self.history = [dict(h) for h in state["history"]]
        self.model.set_adapter(self.live)

    @classmethod
    def from_checkpoint(cls, path, model=None, tokenizer=None, opponents=None) -> "LLMTrainer":
        """A trainer resumed from ``path`` (loaded with ``weights_only=True``); the base model is
        rebuilt from the saved config unless given."""
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        trainer = cls(LLMConfig.from_dict(state["config"]), model, tokenizer, opponents)
        trainer.load_state_dict(state)
        return trainer
