"""Scripted play of the text games: whole episodes, exact expectations and chat transcripts.

- :func:`play_scripted`: scripted agents play a batch of games -> rewards ``[n_players, B, n_rounds]``.
- :func:`expected_round_rewards`: the exact expected points per round of a pair of scripted
  agents, by enumerating every possible draw of the game (values, hands).
- :func:`scripted_transcripts`: chat transcripts of scripted play, each seat's agent drawn from
  a strategy mixture, with action noise: the data a language model's prior is pre-trained on.
"""
from __future__ import annotations

from typing import List, Mapping, Optional, Sequence, Union

import torch

from ..._validation import check_positive_int, check_probabilities
from .agents import SCRIPTED_TEXT_AGENTS, TextAgent, make_text_agent, scripted_names
from .base import ChatHistory, TextGame, Transcript, as_generator

__all__ = ["TextAgent", "SCRIPTED_TEXT_AGENTS", "scripted_names", "make_text_agent", "MixedAgent",
           "NoisyAgent", "play_scripted", "expected_round_rewards", "scripted_transcripts"]


class MixedAgent(TextAgent):
    """Game ``b`` is played by ``agents[assignment[b]]`` (a strategy mixture over the batch)."""

    name = "mixture"

    def __init__(self, agents: Sequence[TextAgent], assignment: torch.Tensor):
        super().__init__()
        self.agents = list(agents)
        self.assignment = assignment.tolist()

    def act(self, game, turn, seat):
        if len(self.assignment) != game.batch_size:
            raise ValueError(f"assignment must have one entry per game ({game.batch_size}), got {len(self.assignment)}")
        answers = [agent.act(game, turn, seat) if k in self.assignment else None
                   for k, agent in enumerate(self.agents)]
        return [answers[k][b] for b, k in enumerate(self.assignment)]


class NoisyAgent(TextAgent):
    """With probability ``noise``, an action answer is replaced by a uniformly drawn allowed answer."""

    name = "noisy"

    def __init__(self, agent: TextAgent, noise: float, generator: Optional[torch.Generator] = None):
        super().__init__(generator)
        self.agent = agent
        self.noise = float(noise)

    def act(self, game, turn, seat):
        answers = self.agent.act(game, turn, seat)
        if turn.kind != "action" or self.noise == 0.0:
            return answers
        flip = (torch.rand(len(answers), generator=self.generator) < self.noise).tolist()
        pick = torch.randint(len(turn.choices), (len(answers),), generator=self.generator).tolist()
        return [turn.choices[k] if f else a for a, f, k in zip(answers, flip, pick)]


def _as_agents(game: TextGame, agents, generator: torch.Generator) -> List[TextAgent]:
    """One agent per seat from agents or agent names (named agents get generators drawn from ``generator``)."""
    if isinstance(agents, (str, Mapping)) or not isinstance(agents, Sequence):
        raise TypeError("agents must be a sequence with one TextAgent or agent name per seat")
    if len(agents) != game.n_players:
        raise ValueError(f"agents must hold one agent per seat ({game.n_players}), got {len(agents)}")
    out = []
    for agent in agents:
        if isinstance(agent, str):
            agent = make_text_agent(game, agent, generator=_child(generator))
        elif not isinstance(agent, TextAgent):
            raise TypeError(f"agents must hold TextAgent objects or names, got {type(agent).__name__}")
        out.append(agent)
    return out


def _child(generator: torch.Generator) -> torch.Generator:
    """A new generator seeded from ``generator`` (independent streams for agents and noise)."""
    child = torch.Generator()
    child.manual_seed(int(torch.randint(2 ** 62, (1,), generator=generator)))
    return child


def _play(game: TextGame, agents: Sequence[TextAgent], history: Optional[ChatHistory] = None) -> None:
    """Play the started episode of ``game`` to its end."""
    while (turn := game.next_turn()) is not None:
        texts = {seat: agents[seat].act(game, turn, seat) for seat in turn.seats}
        if history is not None:
            history.add_prompts(turn)
            history.add_answers(turn, texts)
        game.answer(turn, texts)


def play_scripted(game: TextGame, agents: Sequence[Union[TextAgent, str]], batch_size: int,
                  seed: Union[int, torch.Generator], group_size: Optional[int] = None) -> torch.Tensor:
    """Scripted agents (one per seat, objects or names) play ``batch_size`` games.

    Returns:
        float ``[n_players, batch_size, n_rounds]`` game points (also left in ``game.rewards``).
    """
    generator = as_generator(seed)
    game.reset(batch_size, generator, group_size)
    _play(game, _as_agents(game, agents, generator))
    return game.rewards.clone()


def expected_round_rewards(game: TextGame, agents: Sequence[Union[TextAgent, str]]) -> torch.Tensor:
    """Exact expected points per round ``[n_players]`` of deterministic scripted agents.

    Games with draws: one game per support point of a round's draw (:meth:`TextGame.support`),
    showing that draw in every round; the per-round means are weighted by the draw
    probabilities. Exact for agents whose answers depend on the current round only (the
    round index included, e.g. who speaks first), as the greedy and cooperative splitters do.
    """
    generator = as_generator(0)
    if game.random_draws:
        draws, probs = game.support()
        index = torch.arange(draws.shape[0]).unsqueeze(1).expand(-1, game.n_rounds)
        game.reset_to_draws(index)
    else:
        probs = torch.ones(1)
        game.reset(1, generator)
    _play(game, _as_agents(game, agents, generator))
    per_round = game.rewards.double().mean(dim=2).cpu()  # [P, K]
    return per_round @ probs.double()


def scripted_transcripts(game: TextGame, agents: Union[Sequence[Union[TextAgent, str]], Mapping[str, float]],
                         n: int, seed: Union[int, torch.Generator], action_noise: float = 0.0,
                         group_size: Optional[int] = None) -> List[Transcript]:
    """Chat transcripts of ``n`` games of scripted play.

    Args:
        game: the text game (reset here).
        agents: one agent (or name) per seat, or a mixture ``{name: weight}``: each seat of
            each game then plays an agent drawn independently with these weights
            (e.g. ``{"tit_for_tat": .5, "always_cooperate": .3, "grim": .1, "random": .1}``).
        n: number of games.
        seed: int or generator (draws, mixture, random agents, noise).
        action_noise: probability that an action answer is replaced by a uniformly drawn allowed one.
        group_size: seed groups of the game draws (see :meth:`TextGame.reset`).

    Returns:
        ``n`` transcripts; ``transcripts[b][seat]`` is the chat of that seat: user and assistant
        messages alternate, the first user message is the system prompt and the first turn prompt.
    """
    n = check_positive_int(n, "n")
    check_probabilities(torch.tensor(float(action_noise)), "action_noise")
    generator = as_generator(seed)
    game.reset(n, generator, group_size)
    if isinstance(agents, Mapping):
        seats = [_mixture(game, agents, n, generator) for _ in range(game.n_players)]
    else:
        seats = _as_agents(game, agents, generator)
    if action_noise > 0:
        seats = [NoisyAgent(agent, action_noise, _child(generator)) for agent in seats]
    history = ChatHistory(game)
    _play(game, seats, history)
    return [history.transcript(b) for b in range(n)]


def _mixture(game: TextGame, weights: Mapping[str, float], n: int, generator: torch.Generator) -> MixedAgent:
    names = list(weights)
    if not names:
        raise ValueError("agents: the mixture must name at least one agent")
    w = torch.tensor([float(weights[k]) for k in names], dtype=torch.float64)
    if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"agents: mixture weights must be non-negative with a positive sum, got {dict(weights)}")
    assignment = torch.multinomial(w, n, replacement=True, generator=generator)
    return MixedAgent([make_text_agent(game, k, generator=_child(generator)) for k in names], assignment)
