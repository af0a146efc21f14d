"""Scripted agents: fixed strategies to play against (and evaluate) any learner.

Every agent plays one seat of a batch of games:

    actions = agent.act(obs, generator=None)   # obs [B, *obs_shape] from its own seat
    agent.reset(batch_size)                     # only stateful agents need it

Actions are long ``[B]`` for discrete games and float ``[B, d]`` for the
Negotiation Game, on the device of ``obs``. Agents that draw random numbers use
``generator`` (or torch's global one when it is None).

Iterated matrix games (observation one-hot over start, CC, CD, DC, DD, own
action first; action 0 = cooperate): :class:`AlwaysCooperate`,
:class:`AlwaysDefect`, :class:`TitForTat`, :class:`GrimTrigger`,
:class:`RandomAgent`, and the general :class:`MemoryOneAgent`.

Coin Game: :class:`CoinAlwaysCooperate` (takes only its own coins),
:class:`CoinAlwaysDefect` (takes every coin), :class:`RandomAgent`, and
:class:`CoinGrimTrigger` (AC until the other steals, then AD; needs the
``observe_thefts`` planes, so it is not in :func:`scripted_agent`).

Negotiation Game: :class:`NegotiationAlwaysCooperate`,
:class:`NegotiationAlwaysDefect`, :class:`RandomProposals`.

Commons Harvest: :class:`GreedyHarvester` (the "invaders"), :class:`RandomAgent`.

:func:`scripted_agent` builds one by short name (``"AC"``, ``"AD"``, ``"TFT"``,
``"Grim"``, ``"Random"``, ``"Greedy"``) for a given environment.
"""
from __future__ import annotations

from typing import Optional

import torch

from .._validation import check_positive_int, check_probabilities, check_tensor
from ..games.coin import CoinGame, coin_move_targets, moves_towards
from ..games.commons import ACTIONS, CHANNELS, CommonsConfig, CommonsHarvest, beam_offsets
from ..games.iterated import IteratedMatrixGame
from ..games.negotiation import OBS_LAYOUT as NEGOTIATION_OBS
from ..games.negotiation import NegotiationGame

__all__ = [
    "ScriptedAgent",
    "MemoryOneAgent",
    "AlwaysCooperate",
    "AlwaysDefect",
    "TitForTat",
    "GrimTrigger",
    "RandomAgent",
    "CoinAlwaysCooperate",
    "CoinAlwaysDefect",
    "CoinGrimTrigger",
    "NegotiationAlwaysCooperate",
    "NegotiationAlwaysDefect",
    "RandomProposals",
    "GreedyHarvester",
    "scripted_agent",
    "SCRIPTED_NAMES",
    "scripted_names",
]


def _check_obs(obs, trailing: tuple, who: str) -> torch.Tensor:
    """``obs`` must be a float tensor ``[B, *trailing]``."""
    if not isinstance(obs, torch.Tensor):
        raise TypeError(f"{who}: obs must be a torch.Tensor, got {type(obs).__name__}")
    if obs.dim() != 1 + len(trailing) or tuple(obs.shape[1:]) != tuple(trailing):
        raise ValueError(f"{who}: obs must have shape [batch, {', '.join(map(str, trailing))}], "
                         f"got {tuple(obs.shape)} (pass one seat's observations, e.g. obs[i])")
    return obs


def _random_argmax(mask: torch.Tensor, generator) -> torch.Tensor:
    """Index of a uniformly random True entry of each row of ``mask [B, K]`` (any entry if none)."""
    noise = torch.rand(mask.shape, generator=generator, device=mask.device)
    return (mask.float() + noise * 0.5).argmax(dim=-1)


class ScriptedAgent:
    """Base class: ``act(obs, generator)``; ``reset(batch_size)`` does nothing unless stateful."""

    name = "scripted"

    def reset(self, batch_size: int) -> None:
        """Forget the memory of the previous episode (stateless agents: nothing to do)."""

    def act(self, obs: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, obs, generator=None):
        return self.act(obs, generator=generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class _TriggerAgent(ScriptedAgent):
    """A scripted agent whose per-game memory is one flag, "triggered".

    Subclasses define ``act_with_memory(obs, memory [B, 1], generator) -> (actions, memory)``;
    rollouts carry the memory in the recurrent state (``ScriptedPolicy``), and direct
    :meth:`act` calls keep it in ``self.triggered`` (bool ``[B]``).
    """

    def __init__(self):
        self.triggered: Optional[torch.Tensor] = None

    def initial_memory(self, batch_size: int, device=None) -> torch.Tensor:
        """``[B, 1]`` zeros: not triggered."""
        return torch.zeros(batch_size, 1, device=device)

    def _act_with_stored_memory(self, obs, generator=None):
        """One step of a direct ``act`` call on the stored flags ``self.triggered``."""
        memory = self.triggered.to(obs.device).float()[:, None]
        actions, memory = self.act_with_memory(obs, memory, generator)
        self.triggered = memory[:, 0] > 0.5
        return actions


# ------------------------------------------------------------ iterated games
class MemoryOneAgent(ScriptedAgent):
    """Plays action 0 with probability ``p_cooperate[state]`` in the 5 memory-one states.

    Args:
        p_cooperate: ``[5]`` P(cooperate | start, CC, CD, DC, DD) from the agent's
            own seat, or ``[B, 5]`` for a different policy in every game of the batch.
        logits: alternatively the logits of these probabilities (as in
            :mod:`aa_lib.exact.memory_one`).
    """

    name = "memory-one"

    def __init__(self, p_cooperate=None, logits=None):
        if (p_cooperate is None) == (logits is None):
            raise ValueError("give exactly one of p_cooperate and logits")
        if logits is not None:
            logits = check_tensor(logits, "logits")
            if not logits.is_floating_point():
                raise TypeError(f"logits must be floating point, got dtype {logits.dtype}")
            p_cooperate = torch.sigmoid(logits.float())
        p = check_tensor(p_cooperate, "p_cooperate").float()
        if p.dim() not in (1, 2) or p.shape[-1] != 5:
            raise ValueError(f"p_cooperate must have shape [5] or [batch, 5], got {tuple(p.shape)}")
        self.p_cooperate = check_probabilities(p, "p_cooperate")

    def act(self, obs, generator=None):
        obs = _check_obs(obs, (5,), self.name)
        state = obs.argmax(dim=-1)  # [B]
        p = self.p_cooperate.to(obs.device)
        if p.dim() == 1:
            p_c = p[state]
        else:
            if p.shape[0] != state.shape[0]:
                raise ValueError(f"{self.name}: p_cooperate holds {p.shape[0]} policies but the batch has "
                                 f"{state.shape[0]} games")
            p_c = p.gather(1, state[:, None])[:, 0]
        u = torch.rand(state.shape, generator=generator, device=obs.device)
        return (u >= p_c).long()  # 0 = cooperate with probability p_c

    def __repr__(self) -> str:
        if self.p_cooperate.dim() == 1:
            return f"{type(self).__name__}(p_cooperate={[round(float(x), 3) for x in self.p_cooperate]})"
        return f"{type(self).__name__}(p_cooperate=<{self.p_cooperate.shape[0]} policies>)"


class AlwaysCooperate(MemoryOneAgent):
    """Always plays action 0 (cooperate)."""

    name = "AC"

    def __init__(self):
        super().__init__(p_cooperate=torch.ones(5))


class AlwaysDefect(MemoryOneAgent):
    """Always plays action 1 (defect)."""

    name = "AD"

    def __init__(self):
        super().__init__(p_cooperate=torch.zeros(5))


class TitForTat(MemoryOneAgent):
    """Cooperates first, then copies the other player's previous action.

    From its own seat the states are (start, CC, CD, DC, DD), own action first,
    so the other player cooperated in CC and DC.
    """

    name = "TFT"

    def __init__(self):
        super().__init__(p_cooperate=torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0]))


class GrimTrigger(_TriggerAgent):
    """Cooperates until the other player defects once, then defects for ever.

    Stateful: it remembers, per game, whether it has been triggered. Seeing the
    start state clears the memory, so ``reset`` is optional. In rollouts the memory
    travels in the recurrent state (:meth:`initial_memory`, :meth:`act_with_memory`), so
    one object can play several seats; called directly through :meth:`act` it keeps the
    memory itself (one object per seat).
    """

    name = "Grim"

    def reset(self, batch_size: int) -> None:
        self.triggered = None

    def act_with_memory(self, obs, memory, generator=None):
        """``(actions [B], memory [B, 1])``."""
        obs = _check_obs(obs, (5,), self.name)
        other_defected = (obs[:, 2] + obs[:, 4]) > 0.5  # states CD, DD: the other played D
        at_start = obs[:, 0] > 0.5
        triggered = ((memory[:, 0] > 0.5) | other_defected) & ~at_start
        return triggered.long(), triggered.float()[:, None]

    def act(self, obs, generator=None):
        obs = _check_obs(obs, (5,), self.name)
        if self.triggered is None or self.triggered.shape[0] != obs.shape[0]:
            self.triggered = torch.zeros(obs.shape[0], dtype=torch.bool, device=obs.device)
        return self._act_with_stored_memory(obs, generator)


class RandomAgent(ScriptedAgent):
    """Uniformly random discrete actions in ``[0, n_actions)`` (any discrete game)."""

    name = "Random"

    def __init__(self, n_actions: int = 2):
        self.n_actions = check_positive_int(n_actions, "n_actions")

    def act(self, obs, generator=None):
        if not isinstance(obs, torch.Tensor) or obs.dim() < 1:
            raise TypeError("Random: obs must be a tensor [batch, ...]")
        return torch.randint(self.n_actions, (obs.shape[0],), generator=generator, device=obs.device)

    def __repr__(self) -> str:
        return f"RandomAgent(n_actions={self.n_actions})"


# ---------------------------------------------------------------- Coin Game
def _coin_geometry(obs: torch.Tensor, who: str):
    """Cells of me and the coin ``[B]`` (flat ``row * g + col``), whether the coin is mine ``[B]``, and g.

    Reads the four position planes; the theft planes of ``observe_thefts`` (planes 4-5) are ignored.
    """
    if (not isinstance(obs, torch.Tensor) or obs.dim() != 4 or obs.shape[1] not in (4, 6)
            or obs.shape[2] != obs.shape[3]):
        shape = tuple(obs.shape) if isinstance(obs, torch.Tensor) else type(obs).__name__
        raise ValueError(f"{who}: obs must be Coin Game planes [batch, 4 or 6, g, g], got {shape}")
    B, g = obs.shape[0], obs.shape[-1]
    flat = obs[:, :4].reshape(B, 4, g * g)
    me = flat[:, 0].argmax(-1)
    coin = (flat[:, 2] + flat[:, 3]).argmax(-1)
    mine = flat[:, 2].sum(-1) > 0.5
    return me, coin, mine, g


class CoinAlwaysDefect(ScriptedAgent):
    """Walks a shortest torus path to the coin, whatever its colour (ties broken at random)."""

    name = "AD"

    def act(self, obs, generator=None):
        me, coin, _, g = _coin_geometry(obs, self.name)
        return _random_argmax(moves_towards(me, coin, g), generator)


class CoinAlwaysCooperate(ScriptedAgent):
    """Walks a shortest path to coins of its own colour; never steps on the other's coin.

    When the coin has the other player's colour it moves at random among the
    moves that do not land on the coin (on a torus of side >= 2 one always exists).
    """

    name = "AC"

    def act(self, obs, generator=None):
        me, coin, mine, g = _coin_geometry(obs, self.name)
        towards = moves_towards(me, coin, g)
        avoiding = coin_move_targets(me, g) != coin[:, None]
        return _random_argmax(torch.where(mine[:, None], towards, avoiding), generator)


class CoinGrimTrigger(_TriggerAgent):
    """Always Cooperate until the other player takes one of my coins, then Always Defect to the episode's end.

    The Coin Game's grim trigger: a perfectly efficient reciprocal racer, the reference for how
    little a reciprocal agent must lose against Always Defect (it is robbed once before it
    knows). It reads the theft of the previous step from plane 4 of a
    ``CoinGame(observe_thefts=True)`` observation.

    Its memory (robbed yet?) is one number per game. In rollouts (``ScriptedPolicy``,
    leagues, ``play``) it travels in the recurrent state (:meth:`initial_memory`,
    :meth:`act_with_memory`), so one object can play both seats. Called directly through
    :meth:`act`, it keeps the memory itself: one object per seat, :meth:`reset` before
    every episode.
    """

    name = "Grim"

    def __init__(self):
        super().__init__()
        self._cooperate, self._defect = CoinAlwaysCooperate(), CoinAlwaysDefect()

    def act_with_memory(self, obs, memory, generator=None):
        """``(actions [B], memory [B, 1])``: triggered once plane 4 (the other stole from me) has been seen."""
        if not isinstance(obs, torch.Tensor) or obs.dim() != 4 or obs.shape[1] != 6:
            shape = tuple(obs.shape) if isinstance(obs, torch.Tensor) else type(obs).__name__
            raise ValueError(f"{self.name}: needs the theft planes of CoinGame(observe_thefts=True), "
                             f"obs [batch, 6, g, g]; got {shape}")
        if memory.shape != (obs.shape[0], 1):
            raise ValueError(f"{self.name}: memory must have shape ({obs.shape[0]}, 1), got {tuple(memory.shape)}")
        triggered = (memory[:, 0] > 0.5) | (obs[:, 4, 0, 0] > 0.5)
        cooperate = self._cooperate.act(obs, generator)
        defect = self._defect.act(obs, generator)
        return torch.where(triggered, defect, cooperate), triggered.float()[:, None]

    def reset(self, batch_size: int) -> None:
        self.triggered = torch.zeros(batch_size, dtype=torch.bool)

    def act(self, obs, generator=None):
        if self.triggered is None:
            raise RuntimeError(f"{self.name}: call reset(batch_size) before act (or play it through a rollout)")
        if isinstance(obs, torch.Tensor) and obs.shape[0] != self.triggered.shape[0]:
            raise ValueError(f"{self.name}: reset for {self.triggered.shape[0]} games, got {obs.shape[0]}; "
                             "use one object per seat")
        return self._act_with_stored_memory(obs, generator)


# --------------------------------------------------------- Negotiation Game
def _check_negotiation_obs(obs, who):
    return _check_obs(obs, (15,), who)


class NegotiationAlwaysCooperate(ScriptedAgent):
    """Bids ``high_bid`` (5) on items it values more than the other player, ``low_bid`` (0) on the others.

    This is the Pareto-optimal split of REFERENCES.md (0.5 per round each in
    self-play). The paper's Fig. 3 caption says 1 on the less valuable items,
    but its numbers (AC vs AD 0.25) match a bid of 0, the default here.
    """

    name = "AC"

    def __init__(self, low_bid: float = 0.0, high_bid: float = 5.0):
        self.low_bid, self.high_bid = float(low_bid), float(high_bid)

    def act(self, obs, generator=None):
        obs = _check_negotiation_obs(obs, self.name)
        own, other = obs[:, NEGOTIATION_OBS["own_values"]], obs[:, NEGOTIATION_OBS["other_values"]]
        return torch.where(own > other, self.high_bid, self.low_bid)


class NegotiationAlwaysDefect(ScriptedAgent):
    """Bids ``bid`` (5) on every item."""

    name = "AD"

    def __init__(self, bid: float = 5.0):
        self.bid = float(bid)

    def act(self, obs, generator=None):
        obs = _check_negotiation_obs(obs, self.name)
        return torch.full((obs.shape[0], 3), self.bid, device=obs.device)


class RandomProposals(ScriptedAgent):
    """Proposals uniform in ``[0, high]`` on every item."""

    name = "Random"

    def __init__(self, high: float = 5.0):
        self.high = float(high)

    def act(self, obs, generator=None):
        obs = _check_negotiation_obs(obs, self.name)
        return self.high * torch.rand(obs.shape[0], 3, generator=generator, device=obs.device)


# ----------------------------------------------------------- Commons Harvest
class GreedyHarvester(ScriptedAgent):
    """The "invader" of the Commons Harvest evaluation: walks to the nearest visible apple.

    From the egocentric observation (channels of :data:`aa_lib.games.commons.CHANNELS`)
    it picks the visible apple nearest in L1 distance (ties at random) and takes a
    move that brings it closer and is not blocked by a wall or an agent. With no
    apple in view it walks forward, turning at random when blocked (and with
    probability ``turn_probability`` anyway). It never restrains itself; with
    ``zap=True`` it also zaps whenever another agent stands in its beam.

    Args:
        config: the environment's :class:`~aa_lib.games.commons.CommonsConfig`
            (where the agent sits in its window, the beam's shape); default Melting Pot's.
        zap: zap agents in reach (default False: a pure harvester).
        turn_probability: chance of a random turn while exploring.
    """

    name = "Greedy"

    def __init__(self, config=None, zap: bool = False, turn_probability: float = 0.1):

        self.config = config or CommonsConfig()
        self.zap = bool(zap)
        self.turn_probability = float(turn_probability)
        self._beam = [cell for ray in beam_offsets(self.config) for cell in ray]  # (ahead, right)

    def act(self, obs, generator=None):

        c = self.config
        rows, cols = c.view_ahead + 1 + c.view_behind, 2 * c.view_sides + 1
        obs = _check_obs(obs, (len(CHANNELS), rows, cols), self.name)
        B, dev = obs.shape[0], obs.device
        me_r, me_c = c.view_ahead, c.view_sides
        apples = obs[:, CHANNELS.index("apple")] > 0.5  # [B, rows, cols]
        blocked = (obs[:, CHANNELS.index("wall")] > 0.5) | (obs[:, CHANNELS.index("agent")] > 0.5)
        # nearest apple by L1 distance, random tie-breaking
        r = torch.arange(rows, device=dev)[:, None]
        q = torch.arange(cols, device=dev)[None, :]
        distance = ((r - me_r).abs() + (q - me_c).abs()).float()
        noise = torch.rand(B, rows, cols, generator=generator, device=dev) * 0.5
        score = torch.where(apples, distance + noise, torch.full_like(noise, float("inf")))
        target = score.view(B, -1).argmin(1)
        seen = apples.view(B, -1).any(1)
        ahead = me_r - target // cols  # > 0: the apple is ahead
        right = target % cols - me_c  # > 0: to the right
        # forward, backward, step left, step right: brings closer / is free
        closer = torch.stack([ahead > 0, ahead < 0, right < 0, right > 0], 1)
        neighbours = [(me_r - 1, me_c), (me_r + 1, me_c), (me_r, me_c - 1), (me_r, me_c + 1)]
        free = torch.stack([~blocked[:, rr, cc] if rr < rows else torch.ones(B, dtype=torch.bool, device=dev)
                            for rr, cc in neighbours], 1)
        moves = torch.tensor([ACTIONS.index(a) for a in ("forward", "backward", "step_left", "step_right")],
                             device=dev)
        wanted = closer & free
        approach = moves[_random_argmax(wanted, generator)]
        turn = torch.where(torch.rand(B, generator=generator, device=dev) < 0.5,
                           ACTIONS.index("turn_left"), ACTIONS.index("turn_right"))
        wander = torch.rand(B, generator=generator, device=dev) < self.turn_probability
        explore = torch.where(free[:, 0] & ~wander, ACTIONS.index("forward"), turn)
        action = torch.where(seen, torch.where(wanted.any(1), approach, turn), explore)
        if self.zap:
            action = torch.where(self.can_zap(obs), ACTIONS.index("zap"), action)
        return action

    def can_zap(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B]`` bool: the agent is ready to fire and another agent stands in its beam."""

        c = self.config
        rows, cols = obs.shape[-2:]
        me_r, me_c = c.view_ahead, c.view_sides
        ready = obs[:, CHANNELS.index("ready_to_shoot"), 0, 0] >= 1.0
        agents = obs[:, CHANNELS.index("agent")] > 0.5  # [B, rows, cols]
        in_beam = torch.zeros(obs.shape[0], dtype=torch.bool, device=obs.device)
        for a, x in self._beam:  # beam cells (ahead, right) of the agent
            if 0 <= me_r - a < rows and 0 <= me_c + x < cols:
                in_beam |= agents[:, me_r - a, me_c + x]
        return ready & in_beam

    def __repr__(self) -> str:
        return f"GreedyHarvester(zap={self.zap})"


# ------------------------------------------------------------------ factory
#: Short names accepted by :func:`scripted_agent`, per environment class (see :func:`scripted_names`).
SCRIPTED_NAMES = {
    IteratedMatrixGame: ("AC", "AD", "TFT", "Grim", "Random"),
    CoinGame: ("AC", "AD", "Random"),
    NegotiationGame: ("AC", "AD", "Random"),
    CommonsHarvest: ("Greedy", "Random"),
}


def _game_class(env_or_class) -> Optional[type]:
    """The class of :data:`SCRIPTED_NAMES` that ``env_or_class`` (an environment or its class) is, or None."""
    cls = env_or_class if isinstance(env_or_class, type) else type(env_or_class)
    return next((game for game in SCRIPTED_NAMES if issubclass(cls, game)), None)


def scripted_names(env_or_class) -> tuple:
    """Short names of the scripted agents of an environment (or environment class); ``()`` if it has none."""
    return SCRIPTED_NAMES.get(_game_class(env_or_class), ())


def scripted_agent(env, name: str) -> ScriptedAgent:
    """The scripted agent called ``name`` for environment ``env`` (see :data:`SCRIPTED_NAMES`)."""
    kind = _game_class(env)
    if kind is None:
        raise ValueError(f"no scripted agents for environment {type(env).__name__}")
    names = SCRIPTED_NAMES[kind]
    if name not in names:
        raise ValueError(f"unknown scripted agent {name!r} for {kind.__name__}; choose from {names}")
    makers = {
        IteratedMatrixGame: {"AC": AlwaysCooperate, "AD": AlwaysDefect, "TFT": TitForTat,
                             "Grim": GrimTrigger, "Random": lambda: RandomAgent(2)},
        CoinGame: {"AC": CoinAlwaysCooperate, "AD": CoinAlwaysDefect,
                   "Random": lambda: RandomAgent(env.n_actions)},
        NegotiationGame: {"AC": lambda: NegotiationAlwaysCooperate(high_bid=env.action_high),
                          "AD": lambda: NegotiationAlwaysDefect(env.action_high),
                          "Random": lambda: RandomProposals(env.action_high)},
        CommonsHarvest: {"Greedy": lambda: GreedyHarvester(env.config),
                         "Random": lambda: RandomAgent(env.n_actions)},
    }
    return makers[kind][name]()
