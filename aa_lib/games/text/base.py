"""The interface of the text games (binding contract: ``brief/text_interface.md``).

A :class:`TextGame` plays ``B`` games at once. Game state (values, hands, parsed
actions, rewards) lives in torch tensors with the players as leading dimension;
only the strings (prompts, answers, messages) are Python lists of length ``B``.

An episode is a fixed sequence of turns, the same for every game of the batch
(``_turn_schedule``). A :class:`Turn` names the seats that answer now,
simultaneously, and gives each of them the new user message of that turn: the
text of everything that seat has not yet seen. A language model in a seat keeps
one chat: user messages and its own assistant answers alternate, and the *first*
user message of a seat is its system prompt and its first turn prompt joined by
one space (:func:`opening_message`; :class:`ChatHistory` does the bookkeeping).

Texts are *canonical*: words separated by single spaces, punctuation and
numbers written as words of their own (``"Other played <A> ."``). The word-level
tokenisation rule is :func:`words` (``text.split()``), and
``" ".join(words(text)) == text`` for every prompt and every allowed answer, so
a word-level tokenizer built from :meth:`TextGame.vocabulary` encodes and
decodes every text of a game losslessly.

Unparsable answers: each game has one documented fallback action
(:attr:`TextGame.fallback_rule`); every use of it is counted in
``parse_failures [n_players]`` and marked in ``answer_failed [n_players, B, n_rounds]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple, Union

import torch

from ..._validation import check_device, check_positive_int
from ..base import make_generator

__all__ = ["Turn", "TurnResult", "TextGame", "ChatHistory", "Transcript", "words", "opening_message",
           "proportional_allocation", "as_generator"]

#: One game's chat, per seat: ``transcript[seat]`` is the list of ``{"role", "content"}`` messages.
Transcript = List[List[Dict[str, str]]]


def words(text: str) -> List[str]:
    """The word-level tokenisation rule of every text game: split on whitespace."""
    return text.split()


def opening_message(system_prompt: str, first_prompt: str) -> str:
    """A seat's first user message: its system prompt, one space, its first turn prompt."""
    return " ".join(part for part in (system_prompt, first_prompt) if part)


def proportional_allocation(claims: torch.Tensor, total: float = 10.0) -> torch.Tensor:
    """Units each player receives when claims on a pool of ``total`` units may over-claim.

    ``q_i = total * p_i / max(total, sum_j p_j)``: claims that fit are granted,
    over-claims are scaled down proportionally so that the pool is shared out exactly.

    Args:
        claims: ``[n_players, ...]`` non-negative claims (any trailing shape).
    Returns:
        float ``[n_players, ...]`` allocations.
    """
    claims = claims.to(torch.float32)
    return total * claims / claims.sum(0, keepdim=True).clamp(min=total)


def as_generator(seed: Union[int, torch.Generator], name: str = "seed") -> torch.Generator:
    """A CPU generator from an int seed, or the generator itself."""
    if isinstance(seed, torch.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"{name} must be an int or a torch.Generator, got {type(seed).__name__}")
    return make_generator(seed)


@dataclass
class Turn:
    """One turn of the episode: the seats in ``seats`` answer now, simultaneously.

    Attributes:
        kind: ``"message"`` (free text) or ``"action"`` (an answer from ``choices``).
        seats: seats that answer now, each without seeing the others' answer.
        round: 0-based round this turn belongs to.
        prompts: seat -> the ``B`` texts of that seat's new user message.
        choices: for actions, every allowed answer string (constrained decoding samples
            only these); ``None`` for messages.
        max_words: length cap of free messages (longer ones are cut to it); ``None`` for actions.
    """

    kind: str
    seats: Tuple[int, ...]
    round: int
    prompts: Dict[int, List[str]]
    choices: Optional[List[str]]
    max_words: Optional[int] = None


@dataclass
class TurnResult:
    """What :meth:`TextGame.answer` returns.

    Attributes:
        parsed_ok: seat -> ``[B]`` bool, False where the answer did not parse (fallback used).
        round_finished: True when this turn closed a round (``rewards[:, :, round]`` is filled).
    """

    parsed_ok: Dict[int, torch.Tensor]
    round_finished: bool


class TurnSpec(NamedTuple):
    """The shape of one turn, the same for every game of the batch."""

    kind: str
    seats: Tuple[int, ...]
    round: int


class TextGame:
    """Base class of the batched text games (see the module docstring).

    Subclasses set ``name``, ``reward_scale``, ``action_shape``, ``fallback_action``,
    ``fallback_rule`` and implement ``_turn_schedule``, ``_prompts``, ``_choices``,
    ``system_prompt``, ``parse_answer``, ``format_action``, ``_finish_round``,
    ``vocabulary``; games with random draws also ``support`` (and set ``random_draws``).

    Attributes after :meth:`reset`:
        rewards: float ``[n_players, B, n_rounds]`` game points, filled as rounds finish.
        actions: long ``[n_players, B, n_rounds, *action_shape]`` parsed actions
            (fallback where an answer did not parse).
        answer_failed: bool ``[n_players, B, n_rounds]``, True where the fallback was used.
        parse_failures: long ``[n_players]``, number of answers that did not parse.
        group_ids: long ``[B]``, the seed group of each game.
        messages: ``messages[seat][round]`` the ``B`` messages of that seat (message games).
    """

    name: str = ""
    n_players: int = 2
    reward_scale: float = 1.0
    #: True when ``reset`` draws something (values, hands) that seed groups share.
    random_draws: bool = False
    #: trailing shape of one parsed action (``()`` for a single number).
    action_shape: Tuple[int, ...] = ()
    #: the action recorded for an answer that does not parse (long, shape ``action_shape``).
    fallback_action: Union[int, Tuple[int, ...]] = 0
    #: one sentence describing what an unparsable answer counts as.
    fallback_rule: str = ""
    #: default cap on message length, in words.
    max_message_words: Optional[int] = None

    def __init__(self, n_rounds: int, device="cpu"):
        self.n_rounds = check_positive_int(n_rounds, "n_rounds")
        self.device = check_device(device)
        self.batch_size: Optional[int] = None
        self._schedule: List[TurnSpec] = self._turn_schedule()
        self._turn_index = 0
        self._pending: Optional[Turn] = None

    # ------------------------------------------------------------------ episode
    def reset(self, batch_size: int, seed: Union[int, torch.Generator], group_size: Optional[int] = None) -> None:
        """Start ``batch_size`` games. Games ``b, b'`` with ``b // group_size == b' // group_size``
        share their draws (values, hands); ``group_size=None`` gives every game its own draw."""
        batch_size = check_positive_int(batch_size, "batch_size")
        if group_size is None:
            group_ids = torch.arange(batch_size)
        else:
            group_size = check_positive_int(group_size, "group_size")
            if batch_size % group_size:
                raise ValueError(f"group_size={group_size} must divide batch_size={batch_size}")
            group_ids = torch.arange(batch_size) // group_size
        generator = as_generator(seed)
        self._start(group_ids)
        if self.random_draws:
            n_groups = int(group_ids[-1]) + 1
            support_size = self.support()[0].shape[0]
            draw = torch.randint(support_size, (n_groups, self.n_rounds), generator=generator)
            self._set_draws(draw[group_ids].to(self.device))

    def reset_to_draws(self, draw_index: torch.Tensor) -> None:
        """Start ``B`` games whose round ``r`` of game ``b`` shows support point ``draw_index[b, r]``
        (see :meth:`support`); used to compute expectations exactly by enumeration."""
        if not self.random_draws:
            raise ValueError(f"{type(self).__name__} has no random draws; use reset(batch_size, seed)")
        if not isinstance(draw_index, torch.Tensor) or draw_index.dim() != 2 or draw_index.shape[1] != self.n_rounds:
            raise ValueError(f"draw_index must be a long tensor [B, {self.n_rounds}]")
        size = self.support()[0].shape[0]
        if draw_index.numel() == 0 or draw_index.min() < 0 or draw_index.max() >= size:
            raise ValueError(f"draw_index must hold indices in [0, {size}) and at least one game")
        self._start(torch.arange(draw_index.shape[0]))
        self._set_draws(draw_index.long().to(self.device))

    def _start(self, group_ids: torch.Tensor) -> None:
        B, P, R = group_ids.shape[0], self.n_players, self.n_rounds
        self.batch_size = B
        self.group_ids = group_ids.to(self.device)
        self.rewards = torch.zeros(P, B, R, device=self.device)
        fallback = torch.as_tensor(self.fallback_action, dtype=torch.long, device=self.device)
        self.actions = fallback.expand(P, B, R, *self.action_shape).clone()
        self.answer_failed = torch.zeros(P, B, R, dtype=torch.bool, device=self.device)
        self.parse_failures = torch.zeros(P, dtype=torch.long, device=self.device)
        self.messages: List[List[List[str]]] = [[[""] * B for _ in range(R)] for _ in range(P)]
        self._turn_index = 0
        self._pending = None

    @property
    def schedule(self) -> Tuple[TurnSpec, ...]:
        """Every turn of an episode in order (kind, seats, round): the same for every game."""
        return tuple(self._schedule)

    @property
    def episode_over(self) -> bool:
        """True once every turn of the episode has been answered."""
        return self._turn_index >= len(self._schedule)

    def next_turn(self) -> Optional[Turn]:
        """The turn to answer now (the same object until it is answered); ``None`` once the episode is over."""
        if self.batch_size is None:
            raise RuntimeError(f"{type(self).__name__}.next_turn called before reset(batch_size, seed)")
        if self.episode_over:
            return None
        if self._pending is None:
            spec = self._schedule[self._turn_index]
            self._pending = Turn(kind=spec.kind, seats=spec.seats, round=spec.round,
                                 prompts=self._prompts(spec), choices=self._choices(spec),
                                 max_words=self.max_message_words if spec.kind == "message" else None)
        return self._pending

    def answer(self, turn: Turn, texts: Mapping[int, Sequence[str]]) -> TurnResult:
        """Parse the answers ``texts`` (seat -> ``B`` strings) of the seats of ``turn`` and advance the games."""
        if self._pending is None or turn is not self._pending:
            raise ValueError("turn must be the pending turn returned by next_turn() (it is stale or was never issued)")
        texts = self._check_texts(turn, texts)
        spec = self._schedule[self._turn_index]
        parsed_ok = {}
        for seat in turn.seats:
            if turn.kind == "message":
                cap = turn.max_words
                self.messages[seat][turn.round] = [" ".join(words(t)[:cap] if cap else words(t)) for t in texts[seat]]
                parsed_ok[seat] = torch.ones(self.batch_size, dtype=torch.bool, device=self.device)
            else:
                action, ok = self._parse_batch(texts[seat])
                self.actions[seat, :, turn.round] = action
                self.answer_failed[seat, :, turn.round] |= ~ok
                self.parse_failures[seat] += int((~ok).sum())
                parsed_ok[seat] = ok
        self._turn_index += 1
        self._pending = None
        finished = self.episode_over or self._schedule[self._turn_index].round != spec.round
        if finished:
            self._finish_round(spec.round)
        return TurnResult(parsed_ok=parsed_ok, round_finished=finished)

    def _check_texts(self, turn: Turn, texts) -> Dict[int, List[str]]:
        if not isinstance(texts, Mapping):
            raise TypeError(f"texts must be a dict seat -> list of strings, got {type(texts).__name__}")
        if set(texts) != set(turn.seats):
            raise ValueError(f"texts must answer exactly the seats of the turn {sorted(turn.seats)}, "
                             f"got seats {sorted(texts, key=repr)}")
        checked = {}
        for seat in turn.seats:
            answers = texts[seat]
            if isinstance(answers, str) or not isinstance(answers, Sequence):
                raise TypeError(f"texts[{seat}] must be a list of {self.batch_size} strings, "
                                f"got {type(answers).__name__}")
            if len(answers) != self.batch_size:
                raise ValueError(f"texts[{seat}] must hold one answer per game ({self.batch_size}), "
                                 f"got {len(answers)}")
            if not all(isinstance(a, str) for a in answers):
                raise TypeError(f"texts[{seat}] must hold strings only")
            checked[seat] = list(answers)
        return checked

    def _parse_batch(self, texts: List[str]) -> Tuple[torch.Tensor, torch.Tensor]:
        parsed = [self.parse_answer(t) for t in texts]
        ok = torch.tensor([p is not None for p in parsed], dtype=torch.bool)
        values = [self.fallback_action if p is None else p for p in parsed]
        action = torch.tensor(values, dtype=torch.long).reshape(len(texts), *self.action_shape)
        return action.to(self.device), ok.to(self.device)

    # ------------------------------------------------------------------ helpers for subclasses
    def _turn_schedule(self) -> List[TurnSpec]:
        """Default: one simultaneous action turn of both seats per round."""
        return [TurnSpec("action", tuple(range(self.n_players)), r) for r in range(self.n_rounds)]

    def support(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Every possible draw of one round ``[K, ...]`` and its probability ``[K]`` (games with draws)."""
        raise NotImplementedError

    def _set_draws(self, draw_index: torch.Tensor) -> None:
        raise NotImplementedError

    def _same_for_all(self, text: str) -> List[str]:
        return [text] * self.batch_size

    # ------------------------------------------------------------------ per game
    def system_prompt(self, seat: int) -> List[str]:
        """The rules (and, where constant, the seat's private information), one text per game."""
        raise NotImplementedError

    def _prompts(self, spec: TurnSpec) -> Dict[int, List[str]]:
        raise NotImplementedError

    def _choices(self, spec: TurnSpec) -> Optional[List[str]]:
        raise NotImplementedError

    def parse_answer(self, text: str):
        """The action an answer string means (an int or a tuple), or ``None`` if it does not parse."""
        raise NotImplementedError

    def format_action(self, action) -> str:
        """The canonical answer string of an action (inverse of :meth:`parse_answer`)."""
        raise NotImplementedError

    def _finish_round(self, round_index: int) -> None:
        raise NotImplementedError

    def vocabulary(self) -> Set[str]:
        """Every word (by :func:`words`) of this game's prompts, allowed answers and scripted messages."""
        raise NotImplementedError

    def _check_seat(self, seat: int) -> int:
        if isinstance(seat, bool) or not isinstance(seat, int) or not 0 <= seat < self.n_players:
            raise ValueError(f"seat must be an int in [0, {self.n_players}), got {seat!r}")
        return seat

    def _check_started(self) -> None:
        if self.batch_size is None:
            raise RuntimeError(f"{type(self).__name__}: call reset(batch_size, seed) first")


class ChatHistory:
    """The chat each seat of each game has seen: user prompts and assistant answers alternate.

    ``history.add_prompts(turn)`` before the seats answer, ``history.add_answers(turn, texts)``
    after; ``history.transcript(b)`` is game ``b``'s :data:`Transcript`.
    """

    def __init__(self, game: TextGame):
        game._check_started()
        self.game = game
        self.chats: List[List[List[Dict[str, str]]]] = [[[] for _ in range(game.batch_size)]
                                                         for _ in range(game.n_players)]
        self._system = [game.system_prompt(seat) for seat in range(game.n_players)]

    def add_prompts(self, turn: Turn) -> None:
        for seat in turn.seats:
            for b, prompt in enumerate(turn.prompts[seat]):
                chat = self.chats[seat][b]
                content = prompt if chat else opening_message(self._system[seat][b], prompt)
                chat.append({"role": "user", "content": content})

    def add_answers(self, turn: Turn, texts: Mapping[int, Sequence[str]]) -> None:
        for seat in turn.seats:
            for b, text in enumerate(texts[seat]):
                self.chats[seat][b].append({"role": "assistant", "content": text})

    def transcript(self, index: int) -> Transcript:
        return [[dict(m) for m in self.chats[seat][index]] for seat in range(self.game.n_players)]
