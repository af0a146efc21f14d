"""aa_lib.llm rollouts: chat tokens, constrained decoding, KV cache, mixed adapters, behaviour log-probs."""
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from aa_lib.games.text import TextGame, TextIPD, make_text_agent  # noqa: E402
from aa_lib.games.text.base import TurnSpec  # noqa: E402
from aa_lib.llm import (BASE, add_adapter, chat_format, lora_config, play_games, tiny_model,  # noqa: E402
                        token_log_probs)
from aa_lib.llm.decoding import ChoiceTrie, sample_tokens  # noqa: E402
from aa_lib.llm.rollout import _Feeder  # noqa: E402


class ChatStandIn(TextGame):
    """A tiny stand-in message game: each round seat 0 sends a message (at most 3 words), then both
    seats answer <A> or <B> (IPD payoffs). Seat 1 first speaks in the action turn of round 0."""

    name = "stand-in"
    reward_scale = 1 / 5
    fallback_action = 1
    fallback_rule = "anything but exactly one label counts as <B>"
    max_message_words = 3

    def _turn_schedule(self):
        return [spec for r in range(self.n_rounds)
                for spec in (TurnSpec("message", (0,), r), TurnSpec("action", (0, 1), r))]

    def system_prompt(self, seat):
        return self._same_for_all("Say a few words , then pick <A> or <B> .")

    def _prompts(self, spec):
        if spec.kind == "message":
            return {0: self._same_for_all("Speak .")}
        said = self.messages[0][spec.round]
        return {0: self._same_for_all("Pick ."), 1: [" ".join(f"Other said {m} . Pick .".split()) for m in said]}

    def _choices(self, spec):
        return ["<A>", "<B>"] if spec.kind == "action" else None

    def parse_answer(self, text):
        found = [i for i, label in enumerate(("<A>", "<B>")) if label in text]
        return found[0] if len(found) == 1 else None

    def format_action(self, action):
        return ("<A>", "<B>")[int(action)]

    def _finish_round(self, r):
        table = torch.tensor([[3.0, 0.0], [5.0, 1.0]])
        own = self.actions[:, :, r]
        self.rewards[:, :, r] = table[own, own.flip(0)]

    def vocabulary(self):
        return set("Say a few words , then pick <A> or <B> . Speak Pick Other said".split())


def _randomise(model, name, seed):
    """Give adapter ``name`` non-zero LoRA weights so that it differs from the base model."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, p in model.named_parameters():
            if f".{name}." in key:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))


@pytest.fixture(scope="module")
def ipd():
    return TextIPD(n_rounds=4)


@pytest.fixture(scope="module")
def lm(ipd):
    """The tiny model with two adapters of different non-zero weights, "p1" (active) and "p2"."""
    vocab = ipd.vocabulary() | ChatStandIn(1).vocabulary()
    model, tokenizer = tiny_model(vocab, hidden=32, layers=2, heads=2, seed=0)
    config = lora_config(r=4, alpha=8)
    model = add_adapter(model, "p1", config, trainable=True)
    model = add_adapter(model, "p2", config)
    _randomise(model, "p1", 1)
    _randomise(model, "p2", 2)
    model.set_adapter("p1")
    return model, tokenizer


def _ids(tokenizer, *tokens):
    return [tokenizer.convert_tokens_to_ids(t) for t in tokens]


def test_rollout_tokens_are_the_rendered_chat(ipd, lm):
    model, tokenizer = lm
    tft = make_text_agent(ipd, "tit_for_tat")
    batch = play_games(ipd, model, tokenizer, ["p1", tft], 5, seed=3)
    assert batch.tokens.shape[0] == 5 and batch.row_seat.tolist() == [0] * 5  # scripted seat has no rows
    assert batch.members[1] == ["scripted:tit_for_tat"] * 5
    system = ipd.system_prompt(0)[0]
    for row in range(5):
        chat = []
        for t in range(ipd.n_rounds):
            prompt = "First round ." if t == 0 else f"Other played {ipd.format_action(batch.actions[1, row, t - 1])} ."
            chat += [{"role": "user", "content": f"{system} {prompt}" if t == 0 else prompt},
                     {"role": "assistant", "content": ipd.format_action(batch.actions[0, row, t])}]
        expected = tokenizer.apply_chat_template(chat, tokenize=True)["input_ids"]
        n = int(batch.attention_mask[row].sum())
        assert batch.tokens[row, :n].tolist() == list(expected)


def test_action_mask_covers_exactly_the_generated_labels(ipd, lm):
    model, tokenizer = lm
    batch = play_games(ipd, model, tokenizer, ["p1", "p2"], 6, seed=0)
    labels = set(_ids(tokenizer, "<A>", "<B>"))
    assistant = tokenizer.convert_tokens_to_ids("<|assistant|>")
    for row in range(batch.tokens.shape[0]):
        where = batch.action_mask[row].nonzero().flatten()
        assert batch.round_index[row, where].tolist() == list(range(ipd.n_rounds))
        assert set(batch.tokens[row, where].tolist()) <= labels
        assert (batch.tokens[row, where - 1] == assistant).all()  # right after the assistant header
        # the labels the model generated are the actions the game parsed
        seat, game = int(batch.row_seat[row]), int(batch.row_game[row])
        generated = [tokenizer.convert_ids_to_tokens(i) for i in batch.tokens[row, where].tolist()]
        assert generated == [ipd.format_action(a) for a in batch.actions[seat, game].tolist()]
    outside = ~batch.action_mask
    assert (batch.round_index[outside] == -1).all() and (batch.behaviour_logp[outside] == 0).all()
    assert (batch.behaviour_logp[batch.action_mask] < 0).all()
    assert batch.n_action_tokens == 2 * 6 * ipd.n_rounds


def test_constrained_decoding_never_emits_a_disallowed_token(ipd, lm):
    model, tokenizer = lm
    favoured = _ids(tokenizer, "Other", "<|user|>")

    def favour(module, inputs, output):  # the output head now prefers a disallowed word and a special token
        output = output.clone()
        output[..., favoured[0]] += 30.0
        output[..., favoured[1]] += 20.0
        return output

    hook = model.get_output_embeddings().register_forward_hook(favour)
    try:
        batch = play_games(ipd, model, tokenizer, ["p1", BASE], 8, seed=0)
        generated = batch.tokens[batch.action_mask]
        assert set(generated.tolist()) <= set(_ids(tokenizer, "<A>", "<B>"))
        # the test can fail: unconstrained, the model would say "Other"
        rows = torch.arange(batch.tokens.shape[0])
        data = batch.select_rows(rows)
        with torch.no_grad():
            logits = model(input_ids=data["tokens"], attention_mask=data["attention_mask"]).logits
        r, c = data["action_mask"][:, 1:].nonzero(as_tuple=True)
        assert (logits[r, c].argmax(-1) == favoured[0]).all()
        # free messages never use special tokens other than EOS, and respect the word cap
        chat_game = ChatStandIn(n_rounds=2)
        batch = play_games(chat_game, model, tokenizer, ["p1", "p2"], 8, seed=1)
        specials = set(tokenizer.all_special_ids) - {tokenizer.eos_token_id}
        message_tokens = batch.tokens[batch.action_mask].tolist()
        assert not specials & set(message_tokens) and favoured[0] in message_tokens
        assert all(len(m.split()) <= 3 for seat in chat_game.messages for r in seat for m in r)
        assert any(m == "Other Other Other" for r in chat_game.messages[0] for m in r)
    finally:
        hook.remove()


def test_choice_trie_over_multi_token_answers():
    trie = ChoiceTrie(["x", "x y", "z"], [[5], [5, 6], [7]], eos_id=1)
    assert trie.allowed(0) == (5, 7)
    node, done = trie.step(0, 5)
    assert done is None and trie.allowed(node) == (1, 6)  # "x" may end (EOS) or continue to "x y"
    assert trie.step(node, 1) == (None, 0) and trie.step(node, 6) == (None, 1) and trie.step(0, 7) == (None, 2)
    with pytest.raises(ValueError, match="same tokens"):
        ChoiceTrie(["p1", "p2"], [[3], [3]], eos_id=1)
    with pytest.raises(ValueError, match="no token"):
        ChoiceTrie(["p1"], [[]], eos_id=1)


def test_sampling_follows_the_constrained_distribution():
    logits = torch.tensor([[0.0, 2.0, 1.0, 5.0]]).expand(20000, -1)
    allowed = torch.tensor([[True, True, True, False]]).expand(20000, -1)
    uniforms = torch.rand(20000, generator=torch.Generator().manual_seed(0))
    tokens, logp = sample_tokens(logits, allowed, uniforms)
    expected = torch.tensor([0.0, 2.0, 1.0]).softmax(0)
    freq = torch.bincount(tokens, minlength=4).float() / 20000
    assert freq[3] == 0 and torch.allclose(freq[:3], expected, atol=0.01)
    assert torch.allclose(logp, expected.log()[tokens], atol=1e-6)
    ones = torch.ones(20000) * (1 - 2 ** -24)  # the very top of the CDF still lands on an allowed token
    assert (sample_tokens(logits, allowed, ones)[0] == 2).all()


@pytest.mark.parametrize("game_class", [TextIPD, ChatStandIn])
def test_kv_cached_play_equals_full_sequence_play(game_class, lm):
    model, tokenizer = lm
    game = game_class(n_rounds=3)
    policies = ["p1", ["p2", "p1", BASE, "p2", "p1", "p1"]]
    cached = play_games(game, model, tokenizer, policies, 6, seed=11, kv_cache=True)
    full = play_games(game, model, tokenizer, policies, 6, seed=11, kv_cache=False)
    assert torch.equal(cached.tokens, full.tokens) and torch.equal(cached.action_mask, full.action_mask)
    assert (cached.behaviour_logp - full.behaviour_logp).abs().max() < 1e-5


def test_kv_cache_logits_equal_full_sequence_logits(lm):
    """Ragged chunks with padding holes in the cache give each row the logits of its unpadded sequence."""
    model, tokenizer = lm
    gen = torch.Generator().manual_seed(0)
    names = ["p1", "p2", BASE, "p1"]
    chunks = [[torch.randint(5, 20, (n,), generator=gen).tolist() for n in lens]
              for lens in ([3, 5, 1, 4], [2, 0, 3, 1], [1, 1, 1, 1], [4, 2, 0, 1])]
    feeder = _Feeder(model, names, tokenizer.pad_token_id, kv_cache=True)
    seen = [[] for _ in names]
    for step in chunks:
        logits = feeder(step)
        for r, piece in enumerate(step):
            seen[r] += piece
            if not piece:
                continue
            ctx = torch.tensor([seen[r]])
            with torch.no_grad():
                if names[r] == BASE:
                    with model.disable_adapter():
                        ref = model(ctx).logits[0, -1]
                else:
                    ref = model(ctx, adapter_names=[names[r]]).logits[0, -1]
            assert (logits[r] - ref).abs().max() < 1e-5


def test_mixed_adapter_batch_equals_separate_forwards(lm):
    model, _ = lm
    x = torch.randint(5, 20, (4, 9), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        mixed = model(x, adapter_names=["p1", "p2", BASE, "p2"]).logits
        model.set_adapter("p2")
        only_b = model(x).logits
        model.set_adapter("p1")
        only_a = model(x).logits
        with model.disable_adapter():
            base = model(x).logits
    assert (mixed[0] - only_a[0]).abs().max() < 1e-6 and (mixed[1] - only_b[1]).abs().max() < 1e-6
    assert (mixed[2] - base[2]).abs().max() < 1e-6 and (mixed[3] - only_b[3]).abs().max() < 1e-6
    assert (only_a - only_b).abs().max() > 1e-2  # the adapters really differ


@pytest.mark.parametrize("game_class", [TextIPD, ChatStandIn])
@pytest.mark.parametrize("share_prefix", [True, False])
def test_sampling_log_probs_equal_training_recomputation(game_class, share_prefix, lm):
    model, tokenizer = lm
    game = game_class(n_rounds=3)
    batch = play_games(game, model, tokenizer, ["p1", ["p2", "p1", "p1", BASE]], 4, seed=5)
    for policy in ("p1", "p2", BASE):
        rows = batch.rows_of(policy)
        data = batch.select_rows(rows)
        with torch.no_grad():
            recomputed = token_log_probs(model, data["tokens"], data["attention_mask"], data["action_mask"],
                                         data["constraint"], batch.allowed, [policy] * len(rows), share_prefix)
        behaviour = data["behaviour_logp"][recomputed.position]
        assert len(behaviour) == int(data["action_mask"].sum()) > 0
        assert (recomputed.log_probs - behaviour).abs().max() < 1e-5


def test_same_seed_same_games_and_groups(lm):
    model, tokenizer = lm
    game = TextIPD(n_rounds=3)
    one = play_games(game, model, tokenizer, ["p1", "p2"], 4, seed=2)
    two = play_games(game, model, tokenizer, ["p1", "p2"], 4, seed=2)
    other = play_games(game, model, tokenizer, ["p1", "p2"], 4, seed=3)
    assert torch.equal(one.tokens, two.tokens) and torch.equal(one.behaviour_logp, two.behaviour_logp)
    assert not torch.equal(one.tokens, other.tokens)
    assert one.group_ids.tolist() == [0, 0, 0, 0]  # no random draws: the whole batch is one group
    assert torch.equal(one.rewards, one.game_rewards / 5)


def test_play_games_errors(lm):
    model, tokenizer = lm
    game = TextIPD(n_rounds=2)
    with pytest.raises(ValueError, match="one policy per seat"):
        play_games(game, model, tokenizer, ["p1"], 2, seed=0)
    with pytest.raises(ValueError, match="unknown adapter"):
        play_games(game, model, tokenizer, ["p1", "nope"], 2, seed=0)
    with pytest.raises(ValueError, match=r"policies\[1\]"):
        play_games(game, model, tokenizer, ["p1", ["p1"]], 2, seed=0)
    with pytest.raises(TypeError, match="TextGame"):
        play_games("text-ipd", model, tokenizer, ["p1", "p1"], 2, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        play_games(game, model, tokenizer, ["p1", "p1"], 0, seed=0)
    plain, tok = tiny_model(game.vocabulary(), hidden=16, layers=1, heads=1)
    with pytest.raises(ValueError, match="no adapters"):
        play_games(game, plain, tok, ["p1", BASE], 2, seed=0)
    assert chat_format(tok) is chat_format(tok)  # cached per tokenizer
