"""Text games (aa_lib.games.text): payoff tables, parsing and fallbacks, errors, transcripts."""
import pytest
import torch

from aa_lib.games.text import (TEXT_GAMES, ChatHistory, TextIPD, expected_round_rewards, make_text_agent,
                               play_scripted, scripted_names, scripted_transcripts, words)

IPD_PRIOR = {"tit_for_tat": 0.5, "always_cooperate": 0.3, "grim": 0.1, "random": 0.1}


# ---------------------------------------------------------------------- IPD
@pytest.mark.parametrize("pair, totals", [
    (("always_cooperate", "always_cooperate"), (30, 30)),
    (("always_defect", "always_defect"), (10, 10)),
    (("always_cooperate", "always_defect"), (0, 50)),
    (("tit_for_tat", "always_defect"), (9, 14)),
    (("always_defect", "tit_for_tat"), (14, 9)),
    (("grim", "tit_for_tat"), (30, 30)),
])
def test_ipd_payoff_table_over_ten_rounds(pair, totals):
    rewards = play_scripted(TextIPD(), list(pair), batch_size=3, seed=0)
    assert rewards.shape == (2, 3, 10)
    assert rewards.sum(2).tolist() == [[float(totals[0])] * 3, [float(totals[1])] * 3]
    assert expected_round_rewards(TextIPD(), list(pair)).tolist() == pytest.approx([totals[0] / 10, totals[1] / 10])


def test_ipd_round_rewards_and_what_each_seat_is_told():
    game = TextIPD()
    game.reset(2, seed=0)
    turn = game.next_turn()
    assert turn.kind == "action" and turn.seats == (0, 1) and turn.choices == ["<A>", "<B>"]
    assert turn.prompts == {0: ["First round ."] * 2, 1: ["First round ."] * 2}
    result = game.answer(turn, {0: ["<A>", "<B>"], 1: ["<B>", "<B>"]})
    assert result.round_finished and result.parsed_ok[0].all()
    assert game.rewards[:, :, 0].tolist() == [[0.0, 1.0], [5.0, 1.0]]
    turn = game.next_turn()
    assert turn.round == 1
    # each seat hears the other's move, never the points
    assert turn.prompts == {0: ["Other played <B> .", "Other played <B> ."],
                            1: ["Other played <A> .", "Other played <B> ."]}


def test_ipd_prompts_never_name_cooperation_or_defection_nor_points_after_the_rules():
    game = TextIPD()
    transcripts = scripted_transcripts(game, IPD_PRIOR, n=16, seed=3, action_noise=0.2)
    for chat in (chat for t in transcripts for chat in t):
        for message in chat:
            text = message["content"].lower()
            assert "cooperat" not in text and "defect" not in text
        later_prompts = [m["content"] for m in chat[1:] if m["role"] == "user"]
        assert all(not any(w.isdigit() for w in words(p)) for p in later_prompts)


def test_ipd_parsing_rule_and_fallback_counted():
    game = TextIPD()
    assert game.parse_answer("<A>") == 0 and game.parse_answer("I pick <B> .") == 1
    assert game.parse_answer("<A> <A>") == 0
    assert game.parse_answer("<A> or <B>") is None and game.parse_answer("A") is None and game.parse_answer("") is None
    game.reset(3, seed=0)
    turn = game.next_turn()
    result = game.answer(turn, {0: ["<A>", "cooperate", "<A> <B>"], 1: ["<A>", "<A>", "<A>"]})
    assert result.parsed_ok[0].tolist() == [True, False, False] and result.parsed_ok[1].all()
    assert game.actions[0, :, 0].tolist() == [0, 1, 1]  # the fallback is <B>
    assert game.parse_failures.tolist() == [2, 0]
    assert game.answer_failed[:, :, 0].tolist() == [[False, True, True], [False, False, False]]
    assert game.rewards[:, :, 0].tolist() == [[3.0, 5.0, 5.0], [3.0, 0.0, 0.0]]


def test_ipd_episode_end_and_stale_turns():
    game = TextIPD(n_rounds=2)
    game.reset(1, seed=0)
    first = game.next_turn()
    assert game.next_turn() is first  # the pending turn until it is answered
    game.answer(first, {0: ["<A>"], 1: ["<A>"]})
    with pytest.raises(ValueError, match="turn"):
        game.answer(first, {0: ["<A>"], 1: ["<A>"]})
    last = game.next_turn()
    assert game.answer(last, {0: ["<A>"], 1: ["<B>"]}).round_finished
    assert game.next_turn() is None and game.episode_over
    assert game.rewards.sum(2).tolist() == [[3.0], [8.0]]


# ---------------------------------------------------------------------- errors (all games)
@pytest.mark.parametrize("name", sorted(TEXT_GAMES))
def test_bad_arguments_name_the_argument(name):
    game = TEXT_GAMES[name]()
    with pytest.raises(RuntimeError, match="reset"):
        game.next_turn()
    with pytest.raises(ValueError, match="batch_size"):
        game.reset(0, seed=0)
    with pytest.raises(ValueError, match="group_size"):
        game.reset(6, seed=0, group_size=4)
    with pytest.raises(ValueError, match="group_size"):
        game.reset(6, seed=0, group_size=0)
    with pytest.raises(TypeError, match="seed"):
        game.reset(6, seed="zero")
    game.reset(4, seed=0, group_size=2)
    turn = game.next_turn()
    answer = turn.choices[0] if turn.choices else "hello"
    good = {seat: [answer] * 4 for seat in turn.seats}
    with pytest.raises(ValueError, match=r"texts\[\d\] must hold one answer per game"):
        game.answer(turn, {seat: [answer] * 3 for seat in turn.seats})
    absent = next(s for s in range(game.n_players) if s not in turn.seats) if len(turn.seats) < 2 else 2
    with pytest.raises(ValueError, match="seats of the turn"):
        game.answer(turn, {**good, absent: [answer] * 4})
    with pytest.raises(ValueError, match="seats of the turn"):
        game.answer(turn, {s: v for s, v in good.items() if s != turn.seats[0]})
    with pytest.raises(TypeError, match="strings"):
        game.answer(turn, {**good, turn.seats[0]: [1] * 4})
    assert game.answer(turn, good).parsed_ok  # the failed calls left the turn pending
    with pytest.raises(ValueError, match="seat"):
        game.system_prompt(2)
    with pytest.raises(ValueError, match="unknown scripted agent"):
        make_text_agent(game, "no_such_agent")
    with pytest.raises(ValueError, match="agents"):
        play_scripted(game, [scripted_names(game)[0]], batch_size=2, seed=0)


# ---------------------------------------------------------------------- transcripts (all games)
def _prior(game):
    return IPD_PRIOR if isinstance(game, TextIPD) else {name: 1.0 for name in scripted_names(game)}


@pytest.mark.parametrize("name", sorted(TEXT_GAMES))
def test_transcripts_alternate_and_assistant_turns_are_the_played_answers(name):
    game = TEXT_GAMES[name]()
    transcripts = scripted_transcripts(game, _prior(game), n=24, seed=1, action_noise=0.1)
    vocab = game.vocabulary()
    assert len(transcripts) == 24
    for b, transcript in enumerate(transcripts):
        assert len(transcript) == game.n_players
        for seat, chat in enumerate(transcript):
            roles = [m["role"] for m in chat]
            assert roles == ["user", "assistant"] * (len(chat) // 2)
            assert chat[0]["content"].startswith(game.system_prompt(seat)[b] + " ")
            for m in chat:
                assert " ".join(words(m["content"])) == m["content"]  # canonical: lossless word tokens
                assert set(words(m["content"])) <= vocab, set(words(m["content"])) - vocab
            # the answers in the chat are exactly the ones the game played and recorded
            answered = [spec for spec in game.schedule if seat in spec.seats]
            answers = [m["content"] for m in chat if m["role"] == "assistant"]
            assert len(answers) == len(answered)
            for spec, text in zip(answered, answers):
                if spec.kind == "action":
                    assert text == game.format_action(game.actions[seat, b, spec.round].tolist())
                else:
                    assert text == game.messages[seat][spec.round][b]
    assert game.parse_failures.tolist() == [0] * game.n_players


@pytest.mark.parametrize("name", sorted(TEXT_GAMES))
def test_same_seed_same_play_and_every_choice_parses_back(name):
    game = TEXT_GAMES[name]()
    first = scripted_transcripts(game, _prior(game), n=8, seed=5, action_noise=0.3)
    rewards = game.rewards.clone()
    again = scripted_transcripts(game, _prior(game), n=8, seed=5, action_noise=0.3)
    assert first == again and torch.equal(rewards, game.rewards)
    assert scripted_transcripts(game, _prior(game), n=8, seed=6, action_noise=0.3) != first
    game.reset(1, seed=0)
    choices = game.next_turn().choices
    while choices is None:
        turn = game.next_turn()
        game.answer(turn, {s: ["hi"] for s in turn.seats})
        choices = game.next_turn().choices
    parsed = [game.parse_answer(c) for c in choices]
    assert None not in parsed and len(set(parsed)) == len(choices)
    assert [game.format_action(p) for p in parsed] == choices


def test_chat_history_first_message_joins_system_prompt_and_first_prompt():
    game = TextIPD()
    game.reset(2, seed=0)
    history = ChatHistory(game)
    turn = game.next_turn()
    history.add_prompts(turn)
    assert history.chats[1][0] == [{"role": "user", "content": game.system_prompt(1)[0] + " First round ."}]


def test_text_games_never_import_transformers():
    import ast
    import pathlib

    import aa_lib.games.text as package
    for path in pathlib.Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not any(n.split(".")[0] in ("transformers", "peft") for n in names), path
