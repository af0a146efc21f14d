"""Batched rollouts of language-model agents in a text game, with a KV cache across rounds.

:func:`play_games` plays ``B`` games at once. Every (seat, game) played by a language model is one
*row*; each row keeps its own chat, rendered with the tokenizer's chat template
(:class:`~aa_lib.llm.chat.ChatFormat`). All rows share one forward pass per decoding step, each
row with its own LoRA adapter (peft mixed-adapter batches: ``adapter_names=`` per row).

Incremental decoding with holes: every step appends a chunk ``[R, L]`` to the KV cache, each row's
new tokens first and padding after them (masked out by the attention mask); positions count real
tokens only, so a row's keys, values and logits are those of its unpadded sequence. The logits that
choose a row's next token are those of its last real token. ``kv_cache=False`` recomputes the whole
padded sequence at each step instead (same numbers; a test compares them).

Action turns decode through a :class:`~aa_lib.llm.decoding.ChoiceTrie` of ``turn.choices`` (a
disallowed token has probability 0); message turns sample freely up to a length cap. Every
generated token's behaviour log-probability, constraint and round are recorded; template and
prompt tokens are not generated (``action_mask`` False).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch

from .._validation import check_positive_int
from ..games.text import TextAgent, TextGame, opening_message
from ..games.text.base import as_generator
from ._deps import quiet_hf, require
from .chat import chat_format
from .decoding import ChoiceTrie, ConstraintTable, sample_tokens
from .forward import BASE, adapter_call, is_peft_model, model_device, supports_logits_to_keep, vocab_size

__all__ = ["BASE", "RolloutBatch", "play_games", "normalise_policies", "is_peft_model", "adapter_call",
           "model_device", "vocab_size"]

#: A seat's policy: an adapter name (or :data:`BASE`), a scripted :class:`TextAgent`, or one of those per game.
SeatPolicy = Union[str, TextAgent, Sequence[Union[str, TextAgent]]]


@dataclass
class RolloutBatch:
    """What :func:`play_games` returns. ``R`` rows (one per language-model seat of a game), ``L`` tokens.

    Attributes:
        tokens: long ``[R, L]`` each row's whole token sequence (padded at the end with the pad id).
        attention_mask: long ``[R, L]``, 1 on real tokens.
        action_mask: bool ``[R, L]``, True exactly on the tokens the model generated.
        round_index: long ``[R, L]``, the round of each generated token (-1 elsewhere).
        constraint: long ``[R, L]``, the allowed-set id of each generated token (-1 elsewhere).
        allowed: bool ``[K, V]``, the allowed sets (row ``k`` for constraint ``k``).
        behaviour_logp: float32 ``[R, L]``, log-probability of each generated token when sampled (0 elsewhere).
        row_seat, row_game: long ``[R]``, the seat and game of each row.
        row_policy: the adapter name (or :data:`BASE`) of each row.
        members: ``members[seat][game]``, the name of whoever played there (adapter or scripted agent name).
        rewards: float ``[P, B, n_rounds]`` game points times ``reward_scale``.
        game_rewards: float ``[P, B, n_rounds]`` unscaled game points.
        actions: long ``[P, B, n_rounds, ...]`` the parsed actions.
        parse_failures: long ``[P]``; answer_failed: bool ``[P, B, n_rounds]``.
        group_ids: long ``[B]`` seed groups of the games (all zeros for games without random draws:
            there every game is a replicate of the same game, so the baseline group is the whole batch).
        reward_scale: the factor applied to ``rewards``.
    """

    tokens: torch.Tensor
    attention_mask: torch.Tensor
    action_mask: torch.Tensor
    round_index: torch.Tensor
    constraint: torch.Tensor
    allowed: torch.Tensor
    behaviour_logp: torch.Tensor
    row_seat: torch.Tensor
    row_game: torch.Tensor
    row_policy: List[str]
    members: List[List[str]]
    rewards: torch.Tensor
    game_rewards: torch.Tensor
    actions: torch.Tensor
    parse_failures: torch.Tensor
    answer_failed: torch.Tensor
    group_ids: torch.Tensor
    reward_scale: float

    @property
    def n_action_tokens(self) -> int:
        """Number of generated tokens over all rows."""
        return int(self.action_mask.sum())

    def rows_of(self, policy: str) -> torch.Tensor:
        """Indices ``[n]`` of the rows played by ``policy``."""
        return torch.tensor([i for i, name in enumerate(self.row_policy) if name == policy], dtype=torch.long)

    def select_rows(self, rows: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The per-row tensors of ``rows``, trimmed to their longest sequence."""
        lengths = self.attention_mask[rows].sum(dim=1)
        width = int(lengths.max()) if len(rows) else 0
        return {name: getattr(self, name)[rows, :width] for name in
                ("tokens", "attention_mask", "action_mask", "round_index", "constraint", "behaviour_logp")}


def normalise_policies(policies: Sequence[SeatPolicy], n_players: int, batch_size: int) -> List[List[object]]:
    """``members[seat][game]``: an adapter name or a :class:`TextAgent` for every seat of every game."""
    if isinstance(policies, (str, TextAgent)) or not isinstance(policies, Sequence):
        raise TypeError("policies must be a sequence with one policy per seat")
    if len(policies) != n_players:
        raise ValueError(f"policies must hold one policy per seat ({n_players}), got {len(policies)}")
    members = []
    for seat, policy in enumerate(policies):
        if isinstance(policy, (str, TextAgent)):
            row = [policy] * batch_size
        elif isinstance(policy, Sequence) and len(policy) == batch_size:
            row = list(policy)
        else:
            raise ValueError(f"policies[{seat}] must be an adapter name, a TextAgent, or a list of one of those "
                             f"per game ({batch_size})")
        for member in row:
            if not isinstance(member, (str, TextAgent)):
                raise TypeError(f"policies[{seat}] holds {type(member).__name__}; expected adapter names or TextAgent")
        members.append(row)
    return members


def _member_name(member) -> str:
    return member if isinstance(member, str) else f"scripted:{member.name}"


# ---------------------------------------------------------------------- incremental forward
class _Feeder:
    """Appends a chunk of new tokens per row and returns each row's next-token logits.

    The first chunk (the opening of every chat) is computed once per distinct (adapter, tokens)
    and its KV cache copied to the rows that share it.
    """

    def __init__(self, model, adapter_names: List[str], pad_id: int, kv_cache: bool):
        transformers, _ = require()
        self.model = model
        self.device = model_device(model)
        self.names = list(adapter_names)
        self.rows = len(adapter_names)
        self.pad_id = pad_id
        self.kv_cache = kv_cache
        self.keep = supports_logits_to_keep(model)
        self.cache = transformers.DynamicCache() if kv_cache else None
        self.mask = torch.zeros(self.rows, 0, dtype=torch.long, device=self.device)
        self.ids = torch.zeros(self.rows, 0, dtype=torch.long, device=self.device)
        self.positions = torch.zeros(self.rows, 0, dtype=torch.long, device=self.device)
        self.count = [0] * self.rows

    def _chunk(self, pending: List[List[int]], count: List[int]):
        lengths = [len(p) for p in pending]
        width = max(lengths)
        ids = [p + [self.pad_id] * (width - len(p)) for p in pending]
        mask = [[1] * n + [0] * (width - n) for n in lengths]
        # padding keeps the position of the row's last real token (it is masked out anyway)
        pos = [[c + min(j, max(n - 1, 0)) if n else max(c - 1, 0) for j in range(width)]
               for c, n in zip(count, lengths)]
        last = [max(n - 1, 0) for n in lengths]
        as_tensor = lambda x: torch.tensor(x, dtype=torch.long, device=self.device)  # noqa: E731
        return as_tensor(ids), as_tensor(mask), as_tensor(pos), as_tensor(last), width

    def _run(self, names, last, **inputs) -> torch.Tensor:
        context, kwargs = adapter_call(self.model, names)
        if self.keep:
            kwargs["logits_to_keep"] = last.unsqueeze(1)  # one position per row
        with torch.no_grad(), context, quiet_hf():
            out = self.model(**inputs, **kwargs)
        if self.kv_cache:
            self.cache = out.past_key_values
        logits = out.logits
        return (logits[:, 0] if self.keep else logits[torch.arange(len(names), device=self.device), last]).float()

    def __call__(self, pending: List[List[int]]) -> Optional[torch.Tensor]:
        if max(len(p) for p in pending) == 0:
            return None
        first = self.kv_cache and self.mask.shape[1] == 0
        if first:
            keys = [(name, tuple(p)) for name, p in zip(self.names, pending)]
            unique = list(dict.fromkeys(keys))
            inverse = torch.tensor([unique.index(k) for k in keys], device=self.device) if len(unique) < self.rows \
                else None
        if first and inverse is not None:
            ids, mask, pos, last, _ = self._chunk([list(k[1]) for k in unique], [0] * len(unique))
            logits = self._run([k[0] for k in unique], last, input_ids=ids, attention_mask=mask, position_ids=pos,
                               past_key_values=self.cache, use_cache=True)
            self.cache.reorder_cache(inverse)
            self.mask = mask[inverse]
            self.count = [len(p) for p in pending]
            return logits[inverse]
        ids, mask, pos, last, width = self._chunk(pending, self.count)
        self.count = [c + len(p) for c, p in zip(self.count, pending)]
        self.mask = torch.cat([self.mask, mask], dim=1)
        if self.kv_cache:
            return self._run(self.names, last, input_ids=ids, attention_mask=self.mask, position_ids=pos,
                             past_key_values=self.cache, use_cache=True)
        self.ids = torch.cat([self.ids, ids], dim=1)
        self.positions = torch.cat([self.positions, pos], dim=1)
        offset = self.ids.shape[1] - width
        return self._run(self.names, last + offset, input_ids=self.ids, attention_mask=self.mask,
                         position_ids=self.positions, use_cache=False)


class _Row:
    """One language-model seat of one game: its token sequence and what was generated."""

    __slots__ = ("seat", "game", "policy", "tokens", "meta", "pending", "pending_meta", "started")

    def __init__(self, seat: int, game: int, policy: str, opening: List[int]):
        self.seat, self.game, self.policy = seat, game, policy
        self.tokens: List[int] = []
        self.meta: List[Optional[Tuple[float, int, int]]] = []  # (log-prob, constraint, round) if generated
        self.pending: List[int] = list(opening)
        self.pending_meta: List[Optional[Tuple[float, int, int]]] = [None] * len(opening)
        self.started = False

    def push(self, tokens: List[int], meta=None) -> None:
        self.pending += tokens
        self.pending_meta += [meta] * len(tokens)

    def flush(self) -> None:
        self.tokens += self.pending
        self.meta += self.pending_meta
        self.pending, self.pending_meta = [], []


def _free_mask(tokenizer, size: int) -> torch.Tensor:
    """Tokens a free message may use: all but the special ones (EOS allowed) and ids past the tokenizer."""
    mask = torch.zeros(size, dtype=torch.bool)
    mask[:min(len(tokenizer), size)] = True
    special = [i for i in tokenizer.all_special_ids if i != tokenizer.eos_token_id and i < size]
    mask[special] = False
    return mask


# ---------------------------------------------------------------------- the rollout
def play_games(game: TextGame, model, tokenizer, policies: Sequence[SeatPolicy], batch_size: int,
               seed: Union[int, torch.Generator], *, group_size: Optional[int] = None, kv_cache: bool = True,
               greedy: bool = False, max_message_tokens: Optional[int] = None) -> RolloutBatch:
    """Play ``batch_size`` games of ``game`` with one policy per seat; every row decodes in one batch.

    Args:
        game: a text game (reset here).
        model: a causal LM, plain or a peft model with the adapters named in ``policies``.
        tokenizer: its tokenizer (with a chat template).
        policies: one per seat: an adapter name (:data:`BASE` for the base model), a scripted
            :class:`TextAgent`, or a list with one of those per game (e.g. the agent buffer's draw).
        batch_size: games ``B``.
        seed: int or CPU generator: the game's draws and every sampled token.
        group_size: seed groups of the game's draws (see :meth:`TextGame.reset`).
        kv_cache: decode incrementally with a KV cache (False: recompute the whole sequence each step).
        greedy: take the most likely allowed token instead of sampling (evaluation).
        max_message_tokens: length cap of free messages in tokens (default: the turn's ``max_words``, else 64).

    Returns:
        a :class:`RolloutBatch`.
    """
    require()
    if not isinstance(game, TextGame):
        raise TypeError(f"game must be a TextGame, got {type(game).__name__}")
    batch_size = check_positive_int(batch_size, "batch_size")
    if max_message_tokens is not None:
        max_message_tokens = check_positive_int(max_message_tokens, "max_message_tokens")
    generator = as_generator(seed)
    fmt = chat_format(tokenizer)
    game.reset(batch_size, generator, group_size)
    P = game.n_players
    members = normalise_policies(policies, P, batch_size)
    rows = [_Row(s, b, m, fmt.opening_ids) for s in range(P) for b, m in enumerate(members[s]) if isinstance(m, str)]
    row_index = {(r.seat, r.game): i for i, r in enumerate(rows)}
    system = [game.system_prompt(s) for s in range(P)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else fmt.eos_id
    table = ConstraintTable(vocab_size(model), device=model_device(model))
    free_id = table.add("free", mask=_free_mask(tokenizer, table.vocab_size))
    tries: Dict[Tuple[str, ...], ChoiceTrie] = {}
    feeder = _Feeder(model, [r.policy for r in rows], pad_id, kv_cache) if rows else None
    was_training = model.training
    model.eval()  # peft's mixed batches need eval mode; no dropout keeps log-probs reproducible
    try:
        while (turn := game.next_turn()) is not None:
            texts = {seat: [""] * batch_size for seat in turn.seats}
            trie = None
            if turn.kind == "action":
                key = tuple(turn.choices)
                if key not in tries:
                    tries[key] = ChoiceTrie(turn.choices, fmt.encode(turn.choices), fmt.eos_id)
                trie = tries[key]
            active = []
            for seat in turn.seats:
                lm_games = [b for b in range(batch_size) if isinstance(members[seat][b], str)]
                _add_prompts(fmt, rows, row_index, seat, lm_games, turn.prompts[seat], system[seat])
                active += [row_index[(seat, b)] for b in lm_games]
                _scripted_answers(game, turn, seat, members[seat], texts[seat])
            answers = _decode_turn(feeder, rows, active, trie, table, free_id, fmt, tokenizer, turn, generator,
                                   greedy, max_message_tokens)
            for i, text in answers.items():
                texts[rows[i].seat][rows[i].game] = text
            game.answer(turn, texts)
    finally:
        model.train(was_training)
    return _assemble(game, rows, members, table, pad_id, model_device(model))


def _add_prompts(fmt, rows, row_index, seat, games, prompts, system) -> None:
    """Append the new user message of ``seat`` to its rows (the first one opens the chat)."""
    firsts = [not rows[row_index[(seat, b)]].started for b in games]
    contents = [opening_message(system[b], prompts[b]) if first else prompts[b] for b, first in zip(games, firsts)]
    # one tokenizer call per kind (first / later) keeps the batch fast
    for first in (True, False):
        picked = [k for k, f in enumerate(firsts) if f == first]
        if not picked:
            continue
        ids = fmt.encode(fmt.user_turn_texts([contents[k] for k in picked], first=first))
        for k, tokens in zip(picked, ids):
            row = rows[row_index[(seat, games[k])]]
            row.push(tokens)
            row.started = True


def _scripted_answers(game, turn, seat, members, out: List[str]) -> None:
    """Fill ``out`` with the answers of the scripted agents playing ``seat`` (each acts on the whole batch)."""
    agents = {id(m): m for m in members if isinstance(m, TextAgent)}
    for agent in agents.values():
        answers = agent.act(game, turn, seat)
        for b, member in enumerate(members):
            if member is agent:
                out[b] = answers[b]


def _decode_turn(feeder, rows, active, trie, table, free_id, fmt, tokenizer, turn, generator, greedy,
                 max_message_tokens) -> Dict[int, str]:
    """Generate the answers of the ``active`` rows; returns row -> answer text."""
    cap = max_message_tokens or turn.max_words or 64
    node = {i: 0 for i in active}
    generated: Dict[int, List[int]] = {i: [] for i in active}
    answers: Dict[int, str] = {}
    while active:
        pending = [r.pending for r in rows]
        logits = feeder(pending)
        for r in rows:
            r.flush()
        if trie is None:
            cids = [free_id] * len(active)
        else:
            cids = [table.add((id(trie), node[i]), trie.allowed(node[i])) for i in active]
        index = torch.tensor(active, device=logits.device)
        allowed = table.masks[torch.tensor(cids, device=logits.device)]
        uniforms = torch.rand(len(active), generator=generator)
        tokens, logps = sample_tokens(logits[index], allowed, uniforms, greedy)
        still = []
        for i, cid, token, logp in zip(active, cids, tokens.tolist(), logps.tolist()):
            row = rows[i]
            row.push([token], (logp, cid, turn.round))
            generated[i].append(token)
            if trie is not None:
                node[i], finished = trie.step(node[i], token)
                if finished is None:
                    still.append(i)
                    continue
                answers[i] = trie.choices[finished]
                row.push(fmt.footer_after(ended_with_eos=token == fmt.eos_id))
            else:
                ended = token == fmt.eos_id
                if not ended and len(generated[i]) < cap:
                    still.append(i)
                    continue
                text_ids = generated[i][:-1] if ended else generated[i]
                answers[i] = tokenizer.decode(text_ids, skip_special_tokens=True)
                row.push(fmt.footer_after(ended_with_eos=ended))
        active = still
    return answers


def _assemble(game, rows, members, table, pad_id, device) -> RolloutBatch:
    for r in rows:
        r.flush()
    R = len(rows)
    L = max((len(r.tokens) for r in rows), default=0)
    tokens = torch.full((R, L), pad_id, dtype=torch.long)
    attention = torch.zeros(R, L, dtype=torch.long)
    round_index = torch.full((R, L), -1, dtype=torch.long)
    constraint = torch.full((R, L), -1, dtype=torch.long)
    logp = torch.zeros(R, L, dtype=torch.float32)
    for i, r in enumerate(rows):
        n = len(r.tokens)
        tokens[i, :n] = torch.tensor(r.tokens, dtype=torch.long)
        attention[i, :n] = 1
        for j, meta in enumerate(r.meta):
            if meta is not None:
                logp[i, j], constraint[i, j], round_index[i, j] = meta
    group_ids = game.group_ids.clone() if game.random_draws else torch.zeros_like(game.group_ids)
    scale = float(game.reward_scale)
    return RolloutBatch(
        tokens=tokens.to(device), attention_mask=attention.to(device), action_mask=(round_index >= 0).to(device),
        round_index=round_index.to(device), constraint=constraint.to(device), allowed=table.masks,
        behaviour_logp=logp.to(device), row_seat=torch.tensor([r.seat for r in rows], dtype=torch.long),
        row_game=torch.tensor([r.game for r in rows], dtype=torch.long), row_policy=[r.policy for r in rows],
        members=[[_member_name(m) for m in seat] for seat in members], rewards=game.rewards * scale,
        game_rewards=game.rewards.clone(), actions=game.actions.clone(), parse_failures=game.parse_failures.clone(),
        answer_failed=game.answer_failed.clone(), group_ids=group_ids, reward_scale=scale)
