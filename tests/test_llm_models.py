"""aa_lib.llm models: the tiny model and tokenizer, the chat format, saving and reloading, the prior."""
import sys

import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from aa_lib.games.text import TextIPD, scripted_transcripts  # noqa: E402
from aa_lib.llm import (chat_format, count_parameters, load_causal_lm, pretrain_prior, save_model,  # noqa: E402
                        tiny_model, word_level_tokenizer)
from aa_lib.llm._deps import require  # noqa: E402
from aa_lib.llm.prior import transcript_examples  # noqa: E402


@pytest.fixture(scope="module")
def ipd():
    return TextIPD()


@pytest.fixture(scope="module")
def tiny(ipd):
    return tiny_model(ipd.vocabulary(), seed=0)


def test_transformers_and_peft_are_imported_lazily():
    """No module of aa_lib.llm imports transformers, peft or tokenizers at module level (only inside functions)."""
    import ast
    import pathlib

    import aa_lib.llm

    for path in pathlib.Path(aa_lib.llm.__file__).parent.glob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module-level statements only
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.split(".")[0] in ("transformers", "peft", "tokenizers") for n in names), (path, names)


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # importing peft now fails
    with pytest.raises(ImportError, match=r"pip install -e \.\[llm\]"):
        require()


def test_tiny_model_size_and_vocabulary(ipd, tiny):
    model, tokenizer = tiny
    assert 100_000 <= count_parameters(model) <= 1_000_000
    assert type(model.config).__name__ == "Qwen2Config" and model.config.hidden_size == 64
    assert len(tokenizer) == len(ipd.vocabulary()) + 5
    assert tokenizer.eos_token == "<|end|>" and tokenizer.pad_token_id == 0


def test_word_level_tokenizer_is_lossless_on_game_texts(ipd, tiny):
    _, tokenizer = tiny
    ipd.reset(2, seed=0)
    texts = ipd.system_prompt(0) + ["First round .", "Other played <B> .", "<A>"]
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert len(ids) == len(text.split()) and tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == text
    assert tokenizer("zebra", add_special_tokens=False)["input_ids"] == [tokenizer.unk_token_id]


def test_word_level_tokenizer_rejects_bad_words():
    with pytest.raises(ValueError, match="vocabulary"):
        word_level_tokenizer(["two words"])
    with pytest.raises(ValueError, match="vocabulary"):
        word_level_tokenizer([])


def test_chat_format_pieces_equal_the_rendered_template(ipd, tiny):
    _, tokenizer = tiny
    fmt = chat_format(tokenizer)
    assert (fmt.opening, fmt.reply_header, fmt.footer, fmt.user_header) == (
        "<|user|> ", " <|end|> <|assistant|> ", " <|end|> ", "<|user|> ")
    for transcript in scripted_transcripts(ipd, ["tit_for_tat", "random"], 3, seed=1):
        for chat in transcript:
            pieces = fmt.chat_ids(chat)
            expected = tokenizer.apply_chat_template(chat, tokenize=True)["input_ids"]
            assert sum(pieces, []) == list(expected)
            # odd pieces are the answers (their label token) and the EOS that ends them
            answers = [tokenizer.decode(p) for p in pieces[1::2]]
            assert answers == [m["content"] + " <|end|>" for m in chat if m["role"] == "assistant"]


def test_chat_format_refuses_a_template_that_is_not_prefix_stable(tiny):
    _, tokenizer = tiny
    tok = word_level_tokenizer(["a", "b"])
    tok.chat_template = "{{ messages | length }} {% for m in messages %}{{ m['content'] }} {% endfor %}"
    with pytest.raises(ValueError, match="prefix-stable"):
        chat_format(tok)
    tok.chat_template = None
    with pytest.raises(ValueError, match="no chat template"):
        chat_format(tok)


def test_saved_tiny_model_reloads_offline(tiny, tmp_path, monkeypatch):
    model, tokenizer = tiny
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hub_constants
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", True, raising=False)
    folder = save_model(model, tokenizer, tmp_path / "tiny")
    loaded, loaded_tok = load_causal_lm(folder, device="cpu", dtype=torch.float32)
    assert type(loaded_tok).__name__ == type(tokenizer).__name__
    assert loaded_tok.get_vocab() == tokenizer.get_vocab() and loaded_tok.chat_template == tokenizer.chat_template
    chat = [{"role": "user", "content": "First round ."}, {"role": "assistant", "content": "<A>"}]
    ids = torch.tensor([tokenizer.apply_chat_template(chat, tokenize=True)["input_ids"]])
    assert ids.tolist() == [loaded_tok.apply_chat_template(chat, tokenize=True)["input_ids"]]
    with torch.no_grad():
        assert torch.equal(model(ids).logits, loaded(ids).logits)
    assert not loaded.training


def test_load_causal_lm_errors(tmp_path):
    with pytest.raises(TypeError, match="dtype"):
        load_causal_lm(tmp_path, dtype="float32")
    with pytest.raises(ValueError, match="device"):
        load_causal_lm(tmp_path, device="tpu9")
    with pytest.raises(OSError, match="cannot load a causal LM"):
        load_causal_lm(tmp_path / "nothing-here")


def test_prior_targets_only_the_answer_tokens(ipd, tiny):
    _, tokenizer = tiny
    transcripts = scripted_transcripts(ipd, ["always_defect", "always_cooperate"], 1, seed=0)
    (ids0, target0), (ids1, target1) = transcript_examples(tokenizer, transcripts)
    targets = [tokenizer.convert_ids_to_tokens(i) for i, t in zip(ids0, target0) if t]
    assert targets == ["<B>", "<|end|>"] * ipd.n_rounds
    assert [tokenizer.convert_ids_to_tokens(i) for i, t in zip(ids1, target1) if t] == ["<A>", "<|end|>"] * 10


def test_pretrain_prior_learns_the_scripted_answers(ipd):
    model, tokenizer = tiny_model(ipd.vocabulary(), hidden=32, layers=1, heads=2, seed=0)
    transcripts = scripted_transcripts(ipd, ["always_defect", "always_defect"], 8, seed=0)
    losses = pretrain_prior(model, tokenizer, transcripts, steps=25, batch=8, lr=1e-2, seed=0)
    assert losses[-1] < 0.1 * losses[0]
    assert not any(p.requires_grad for p in model.parameters())
    chat = [{"role": "user", "content": " ".join([ipd.system_prompt(0)[0], "First round ."])}]
    ids = torch.tensor([tokenizer.apply_chat_template(chat, tokenize=True, add_generation_prompt=True)["input_ids"]])
    with torch.no_grad():
        probs = model(ids).logits[0, -1].softmax(-1)
    assert probs[tokenizer.convert_tokens_to_ids("<B>")] > 0.9
