"""The games of :data:`aa_lib.games.GAMES` as PettingZoo Parallel environments.

    from aa_lib.interop.pettingzoo import parallel_env

    env = parallel_env("coin", render_mode="rgb_array")       # game options as keywords: episode_length=20
    observations, infos = env.reset(seed=0)
    while env.agents:
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        observations, rewards, terminations, truncations, infos = env.step(actions)
    frame = env.render()                                       # [H, W, 3] uint8

One adapter serves every game: it plays one game of the batched environment
(batch size 1) and converts at the boundary, so the dynamics are exactly the
library's. The adapter passes PettingZoo's own ``parallel_api_test`` and
``parallel_seed_test`` (``tests/test_interop_pettingzoo.py``).

- Agents ``"player_0"`` ... ``"player_{P-1}"`` (seat order); every agent acts at every step.
- Observations: each player's own-seat view as a numpy array of the game's
  ``observation_shape`` in a Gymnasium ``Box`` (float32 in ``[0, 1]`` for the IPD,
  Coin and Negotiation games, ``[-1, 1]`` for Commons Harvest's planes; the
  integer codes of Commons Harvest's ``observation="compact"`` in
  ``[0, n_observation_codes)``).
- Actions: ``Discrete(n_actions)`` or a float32 ``Box(action_low, action_high,
  (action_dim,))`` (Negotiation's proposals).
- Rewards: Python floats. Episodes have a fixed length (Commons Harvest: a
  random length drawn at reset), so they end by *truncation* for every agent at
  once; ``agents`` is then empty and ``reset`` starts the next episode.
- Infos: the game's ``info`` tensors of the step, each agent's own row where
  they are per player (``picked_own`` of the Coin Game, ``active`` of Commons
  Harvest...), as numpy values.
- Seeding: ``reset(seed=s)`` draws the episode from ``torch.Generator().manual_seed(s)``;
  a later ``reset()`` without a seed continues that stream (a fresh seed from the
  OS entropy when never seeded).
- ``render_mode="rgb_array"`` returns the library's matplotlib drawing of the game
  as an ``[H, W, 3]`` uint8 array; ``"human"`` shows it in a matplotlib window.

The text games (:mod:`aa_lib.games.text`) are not in the batched registry and
have no adapter yet.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np
import torch

try:
    import gymnasium
    from gymnasium import spaces
    from pettingzoo import ParallelEnv
except ImportError as err:  # pragma: no cover - exercised only without the packages
    raise ImportError("aa_lib.interop.pettingzoo needs pettingzoo and gymnasium: pip install pettingzoo gymnasium "
                      "(they are in aa_lib's dev and interop extras)") from err

from ..games import CoinGame, CommonsHarvest, GAMES, IteratedMatrixGame, NegotiationGame, make_env, make_generator

__all__ = ["AAParallelEnv", "parallel_env", "RENDER_MODES"]

RENDER_MODES = ("rgb_array", "human")
#: Bounds of the float observations, by game type (every entry is one-hot or scaled to these bounds).
OBSERVATION_BOUNDS = {IteratedMatrixGame: (0.0, 1.0), CoinGame: (0.0, 1.0), NegotiationGame: (0.0, 1.0),
                      CommonsHarvest: (-1.0, 1.0)}


def _numpy_dtype(dtype: torch.dtype) -> np.dtype:
    return torch.empty(0, dtype=dtype).numpy().dtype


def observation_space(env) -> spaces.Box:
    """The Gymnasium space of one player's observation of ``env`` (a :class:`~aa_lib.games.BatchedEnv`)."""
    dtype = getattr(env, "observation_dtype", torch.float32)
    shape = tuple(env.observation_shape)
    if not dtype.is_floating_point:  # integer codes (Commons Harvest's compact observations)
        return spaces.Box(0, env.n_observation_codes - 1, shape, dtype=_numpy_dtype(dtype))
    low, high = next((b for cls, b in OBSERVATION_BOUNDS.items() if isinstance(env, cls)), (-np.inf, np.inf))
    return spaces.Box(low, high, shape, dtype=_numpy_dtype(dtype))


def action_space(env) -> spaces.Space:
    """The Gymnasium space of one player's action in ``env``."""
    if env.action_kind == "discrete":
        return spaces.Discrete(env.n_actions)
    return spaces.Box(env.action_low, env.action_high, (env.action_dim,), dtype=np.float32)


def _value(x: torch.Tensor):
    """A tensor as a numpy array, or a Python number when it is a scalar."""
    x = x.detach().cpu()
    return x.item() if x.dim() == 0 else x.numpy()


class AAParallelEnv(ParallelEnv):
    """One game of an aa_lib batched environment behind PettingZoo's Parallel API (module docstring).

    Args:
        game: a name of :data:`aa_lib.games.GAMES` ("ipd", "coin", "negotiation", "commons").
        render_mode: None, "rgb_array" or "human".
        device: torch device of the underlying environment (the CPU suits one game at a time).
        **options: keyword options of the game (``episode_length=20``, Commons Harvest's settings...).
    """

    metadata = {"name": "aa_lib", "render_modes": list(RENDER_MODES), "is_parallelizable": True, "render_fps": 4}

    def __init__(self, game: str, render_mode: Optional[str] = None, device="cpu", **options):
        if render_mode is not None and render_mode not in RENDER_MODES:
            raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")
        self.game = game
        self.env = make_env(game, device=device, **options)
        self.render_mode = render_mode
        self.metadata = dict(type(self).metadata, name=f"aa_lib_{game}")
        self.possible_agents = [f"player_{i}" for i in range(self.env.n_players)]
        self.agents = []
        self.observation_spaces = {a: observation_space(self.env) for a in self.possible_agents}
        self.action_spaces = {a: action_space(self.env) for a in self.possible_agents}
        self._generator: Optional[torch.Generator] = None
        self._figure = None

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: Optional[int] = None, options: Optional[dict] = None):
        """Start an episode; returns ``(observations, infos)`` keyed by agent (``options`` is unused)."""
        if seed is not None:
            self._generator = make_generator(int(seed), self.env.device)
        elif self._generator is None:
            self._generator = make_generator(int(np.random.SeedSequence().entropy % 2 ** 63), self.env.device)
        obs = self.env.reset(1, generator=self._generator)  # [P, 1, *obs]
        self.agents = list(self.possible_agents)
        return self._observations(obs), {agent: {} for agent in self.agents}

    def step(self, actions: Dict[str, Any]):
        """Advance the game by one step with every agent's action; returns PettingZoo's five dicts."""
        if not self.agents:
            raise RuntimeError("the episode has ended (env.agents is empty); call reset() before stepping again")
        missing = [agent for agent in self.agents if agent not in actions]
        if missing:
            raise ValueError(f"actions must hold an action for every agent; missing {missing}")
        result = self.env.step(self._joint_action(actions))
        done = bool(result.done[0])
        observations = self._observations(result.obs)
        rewards = {agent: float(result.rewards[i, 0]) for i, agent in enumerate(self.agents)}
        terminations = {agent: False for agent in self.agents}
        truncations = {agent: done for agent in self.agents}
        infos = {agent: self._info(result.info, i) for i, agent in enumerate(self.agents)}
        if done:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return observations, rewards, terminations, truncations, infos

    def render(self):
        """The current game drawn by the library (``rgb_array``: ``[H, W, 3]`` uint8; ``human``: a window)."""
        if self.render_mode is None:
            gymnasium.logger.warn("You are calling render method without specifying any render mode; "
                                  f"use parallel_env({self.game!r}, render_mode='rgb_array')")
            return None
        if self.env.batch_size is None:
            raise RuntimeError("call reset() before render()")
        if self.render_mode == "human":
            import matplotlib.pyplot as plt

            if self._figure is None or not plt.fignum_exists(self._figure.number):
                self._figure = plt.figure(figsize=(4, 4))
            self._figure.clf()
            self.env.render(0, self._figure.add_subplot())
            plt.pause(1.0 / self.metadata["render_fps"])
            return None
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(4, 4), dpi=64)
        canvas = FigureCanvasAgg(figure)
        self.env.render(0, figure.add_subplot())
        canvas.draw()
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()

    def close(self) -> None:
        if self._figure is not None:
            import matplotlib.pyplot as plt

            plt.close(self._figure)
            self._figure = None

    # ------------------------------------------------------------------ conversions
    def _observations(self, obs: torch.Tensor) -> Dict[str, np.ndarray]:
        """``[P, 1, *obs]`` -> ``{agent: numpy array of the observation space's dtype}``."""
        obs = obs[:, 0].detach().cpu().numpy()
        dtype = self.observation_spaces[self.possible_agents[0]].dtype
        return {agent: obs[i].astype(dtype, copy=False) for i, agent in enumerate(self.agents)}

    def _joint_action(self, actions: Dict[str, Any]) -> torch.Tensor:
        """``{agent: action}`` -> the batched environment's ``[P, 1]`` (or ``[P, 1, action_dim]``) tensor."""
        env = self.env
        if env.action_kind == "discrete":
            values = []
            for agent in self.agents:
                a = np.asarray(actions[agent])
                if a.size != 1 or not np.issubdtype(a.dtype, np.integer):
                    raise ValueError(f"action of {agent} must be one integer in [0, {env.n_actions}), "
                                     f"got {actions[agent]!r}")
                values.append(int(a.reshape(())))
            return torch.tensor(values, dtype=torch.long, device=env.device).view(env.n_players, 1)
        joint = []
        for agent in self.agents:
            a = np.asarray(actions[agent], dtype=np.float32)
            if a.shape != (env.action_dim,):
                raise ValueError(f"action of {agent} must be {env.action_dim} floats, got shape {a.shape}")
            joint.append(torch.from_numpy(a.copy()))
        return torch.stack(joint).view(env.n_players, 1, env.action_dim).to(env.device)

    def _info(self, info: Dict[str, torch.Tensor], seat: int) -> Dict[str, Any]:
        """The step's info for the player in ``seat``: its own row of per-player tensors, else game 0's value."""
        out = {}
        for key, value in info.items():
            per_player = value.dim() >= 2 and value.shape[0] == self.env.n_players
            out[key] = _value(value[seat, 0] if per_player else value[0])
        return out


def parallel_env(game: str, render_mode: Optional[str] = None, **options) -> AAParallelEnv:
    """A PettingZoo ``ParallelEnv`` of the game called ``game`` (a name of :data:`aa_lib.games.GAMES`).

    Keyword options go to the game (``episode_length=20``, ``device="cpu"``...); see
    :class:`AAParallelEnv`. Raises ValueError naming the choices for an unknown game.
    """
    if game not in GAMES:
        raise ValueError(f"unknown game {game!r}; choose one of {sorted(GAMES)} (the text games have no "
                         "PettingZoo adapter yet)")
    return AAParallelEnv(game, render_mode=render_mode, **options)
