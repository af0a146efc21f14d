"""Text social dilemmas for language-model agents (the LLM follow-up paper), batched, pure Python + torch.

- :class:`TextIPD` (``"text-ipd"``): iterated Prisoner's Dilemma with neutral labels ``<A>``/``<B>``.
- :class:`SplitNoComm` (``"split"``): split 3 items with public values, simultaneous claims, no messages.
- :class:`TrustAndSplit` (``"trust-split"``): rock-paper-scissors hands, one message each, then claims.
- :class:`SplittingGame` (``"splitting"``): the lecture's one-shot split of 10 coins, JSON answers in
  ``<finalize>`` tags, the second agent sees the first's proposal.

The interface (:class:`TextGame`, :class:`Turn`, :class:`TurnResult`) is the contract with
:mod:`aa_lib.llm`; :mod:`~aa_lib.games.text.scripted` plays scripted agents and writes the
chat transcripts a model's prior is pre-trained on. Nothing here imports transformers.
"""
from .agents import SCRIPTED_TEXT_AGENTS, TextAgent, make_text_agent, scripted_names
from .base import (ChatHistory, TextGame, Transcript, Turn, TurnResult, opening_message, proportional_allocation,
                   words)
from .ipd import TextIPD
from .split import SplitNoComm
from .splitting import SplittingGame
from .trust_split import TrustAndSplit
from .scripted import expected_round_rewards, play_scripted, scripted_transcripts

#: registry name -> text game class.
TEXT_GAMES = {"text-ipd": TextIPD, "split": SplitNoComm, "trust-split": TrustAndSplit,
              "splitting": SplittingGame}

__all__ = ["TEXT_GAMES", "TextGame", "Turn", "TurnResult", "ChatHistory", "Transcript", "words", "opening_message",
           "proportional_allocation", "TextIPD", "SplitNoComm", "TrustAndSplit", "SplittingGame", "TextAgent",
           "SCRIPTED_TEXT_AGENTS", "scripted_names", "make_text_agent", "play_scripted", "expected_round_rewards",
           "scripted_transcripts"]
