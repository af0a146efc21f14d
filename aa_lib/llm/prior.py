"""A prior for the tiny model: supervised training on the answers of scripted play.

:func:`pretrain_prior` trains every weight of the model (no adapter) to predict the assistant
tokens of chat transcripts (:func:`aa_lib.games.text.scripted_transcripts`) and only those: the
rules, prompts and template tokens are context, never targets. The transcripts' mixture of
scripted strategies sets what the prior does; a research prototype used Tit-for-Tat 50%, Always
Cooperate 30%, Grim 10%, Random 10% with 10% action noise, 150 steps of 64 transcripts (a prior
with 50% Always Cooperate was exploitable enough that naive RL collapsed to defection within 20
iterations). :func:`build_prior` does all of it from a game and a mixture.
"""
from __future__ import annotations

from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .._validation import check_positive, check_positive_int
from ..games.text import TextGame, scripted_transcripts
from ._deps import require
from .chat import chat_format
from .models import tiny_model
from .forward import BASE, logits_at, model_device

__all__ = ["PRIOR_MIXTURE", "transcript_examples", "pretrain_prior", "build_prior"]

#: The research prototype's IPD prior mixture (REFERENCES "LLM follow-up").
PRIOR_MIXTURE: Dict[str, float] = {"tit_for_tat": 0.5, "always_cooperate": 0.3, "grim": 0.1, "random": 0.1}


def transcript_examples(tokenizer, transcripts) -> List[Tuple[List[int], List[bool]]]:
    """Every seat's chat of every transcript as ``(token ids, is_target)``: targets are the answers' tokens."""
    fmt = chat_format(tokenizer)
    examples = []
    for transcript in transcripts:
        for chat in transcript:
            ids, target = [], []
            for k, piece in enumerate(fmt.chat_ids(chat)):
                ids += piece
                target += [k % 2 == 1] * len(piece)
            examples.append((ids, target))
    if not examples:
        raise ValueError("transcripts must hold at least one chat")
    return examples


def pretrain_prior(model, tokenizer, transcripts, steps: int = 150, batch: int = 64, lr: float = 3e-3,
                   seed: int = 0) -> List[float]:
    """Train ``model`` (all weights, Adam) on the answer tokens of ``transcripts``; returns the losses.

    Args:
        model: a causal LM (trained in place; stays in eval mode: no dropout).
        tokenizer: its tokenizer (with a chat template).
        transcripts: from :func:`aa_lib.games.text.scripted_transcripts` (``transcripts[b][seat]`` is a chat).
        steps: optimiser steps.
        batch: chats per step, drawn uniformly with replacement.
        lr: Adam learning rate.
        seed: the draw of the batches.

    Returns:
        the mean cross-entropy per answer token of each step (nats).
    """
    require()
    steps, batch = check_positive_int(steps, "steps"), check_positive_int(batch, "batch")
    lr = check_positive(lr, "lr", finite=True)
    examples = transcript_examples(tokenizer, transcripts)
    device = model_device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    mask = torch.zeros(len(examples), width, dtype=torch.long)
    target = torch.zeros(len(examples), width, dtype=torch.bool)
    for i, (tokens, is_target) in enumerate(examples):
        ids[i, :len(tokens)] = torch.tensor(tokens)
        mask[i, :len(tokens)] = 1
        target[i, :len(tokens)] = torch.tensor(is_target)
    generator = torch.Generator().manual_seed(int(seed))
    params = [p for p in model.parameters()]
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.Adam(params, lr=lr)
    model.eval()
    losses = []
    for _ in range(steps):
        pick = torch.randint(len(examples), (batch,), generator=generator)
        length = int(mask[pick].sum(1).max())
        x, m, t = ids[pick, :length].to(device), mask[pick, :length].to(device), target[pick, :length].to(device)
        # logits only where they predict a target; the opening every chat shares is computed once
        rows, cols = t[:, 1:].nonzero(as_tuple=True)
        columns = torch.unique(cols)
        logits = logits_at(model, x, m, columns, [BASE] * batch)
        chosen = logits[rows, torch.searchsorted(columns, cols)].float()
        loss = torch.nn.functional.cross_entropy(chosen, x[rows, cols + 1])
        if not torch.isfinite(loss):
            raise FloatingPointError(f"prior pre-training produced a non-finite loss ({float(loss)})")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    for p in params:
        p.requires_grad_(False)
    return losses


def build_prior(game: TextGame, mixture: Optional[Mapping[str, float]] = None, action_noise: float = 0.1,
                n_transcripts: int = 1024, steps: int = 150, batch: int = 64, lr: float = 3e-3, seed: int = 0,
                hidden: int = 64, layers: int = 2, heads: int = 4):
    """A tiny model for ``game`` pre-trained on scripted play: ``(model, tokenizer, losses)``.

    Args:
        game: the text game (its vocabulary builds the tokenizer; it is reset here).
        mixture: ``{scripted agent name: weight}`` drawn independently for each seat of each game
            (default :data:`PRIOR_MIXTURE`, which is for the text IPD).
        action_noise: probability that a scripted answer is replaced by a uniformly drawn one.
        n_transcripts: scripted games played once; the batches are drawn from them.
        steps, batch, lr: :func:`pretrain_prior`.
        seed: model initialisation, transcripts and batches.
        hidden, layers, heads: :func:`aa_lib.llm.models.tiny_model`.
    """
    mixture = dict(PRIOR_MIXTURE if mixture is None else mixture)
    model, tokenizer = tiny_model(game.vocabulary(), hidden=hidden, layers=layers, heads=heads, seed=seed)
    transcripts = scripted_transcripts(game, mixture, check_positive_int(n_transcripts, "n_transcripts"),
                                       seed=seed, action_noise=action_noise)
    losses = pretrain_prior(model, tokenizer, transcripts, steps=steps, batch=batch, lr=lr, seed=seed)
    return model, tokenizer, losses
