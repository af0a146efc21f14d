"""Language-model agents for the text games (the LLM follow-up paper; REFERENCES "LLM follow-up").

transformers and peft are imported lazily: ``import aa_lib.llm`` works without them, and the first
function that needs them raises an ImportError naming the ``llm`` extra (``pip install -e .[llm]``).

- :mod:`.models`: :func:`load_causal_lm` (any Hugging Face causal LM), :func:`tiny_model` (a small
  Qwen2-style model with a word-level tokenizer and a chat template), :func:`save_model`.
- :mod:`.prior`: :func:`pretrain_prior` / :func:`build_prior`, supervised training on scripted play.
- :mod:`.adapters`: LoRA adapters (peft), snapshots, the :class:`AgentBuffer`.
- :mod:`.rollout`: :func:`play_games`, batched KV-cached play with constrained decoding.
- :mod:`.credit`: returns-to-go, the group-relative baseline, naive / sum-of-rewards / AA credit.
- :mod:`.loss`: token-level REINFORCE with entropy bonus and KL to the base model.
- :mod:`.config`, :mod:`.trainer`: :class:`LLMConfig`, presets, :class:`LLMTrainer`, checkpoints.
- :mod:`.evaluation`: league, welfare, reciprocity probe, exploiter test.
"""
from .adapters import (AgentBuffer, adapter_parameters, add_adapter, load_adapter_snapshot, lora_config,
                       snapshot_adapter)
from .chat import ChatFormat, chat_format
from .config import LLM_PRESETS, LLMConfig, llm_preset
from .credit import CREDIT_RULES, aa_shaping, round_advantages, round_credit, token_credit
from .decoding import ChoiceTrie, ConstraintTable, constrained_log_probs, sample_tokens
from .loss import reinforce_loss, token_log_probs
from .models import CHAT_TEMPLATE, count_parameters, load_causal_lm, save_model, tiny_model, word_level_tokenizer
from .prior import PRIOR_MIXTURE, build_prior, pretrain_prior
from .rollout import BASE, RolloutBatch, play_games
from .trainer import LLMTrainer, build_base_model
from .evaluation import LeagueResult, exploiter_test, league, probe_reciprocity, reciprocity

__all__ = ["load_causal_lm", "tiny_model", "word_level_tokenizer", "save_model", "count_parameters", "CHAT_TEMPLATE",
           "ChatFormat", "chat_format", "pretrain_prior", "build_prior", "PRIOR_MIXTURE",
           "lora_config", "add_adapter", "snapshot_adapter", "load_adapter_snapshot", "adapter_parameters",
           "AgentBuffer", "BASE", "RolloutBatch", "play_games", "ChoiceTrie", "ConstraintTable",
           "constrained_log_probs", "sample_tokens", "CREDIT_RULES", "round_advantages", "aa_shaping",
           "round_credit", "token_credit", "token_log_probs", "reinforce_loss", "LLMConfig", "LLM_PRESETS",
           "llm_preset", "LLMTrainer", "build_base_model", "league", "LeagueResult", "reciprocity",
           "probe_reciprocity", "exploiter_test"]
