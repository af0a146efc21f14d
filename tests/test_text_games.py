"""Text games (aa_lib.games.text): payoff tables, parsing and fallbacks, errors, transcripts."""
import pytest
import torch

from aa_lib.games.base import make_generator
from aa_lib.games.text import (TEXT_GAMES, ChatHistory, SplitNoComm, SplittingGame, TextIPD, TrustAndSplit,
                               expected_round_rewards, make_text_agent, play_scripted, proportional_allocation,
                               scripted_names, scripted_transcripts, words)
from aa_lib.games.text.split import split_value_pairs
from aa_lib.games.text.trust_split import reported_hand

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


# ---------------------------------------------------------------------- allocation, Split No-Comm
def test_proportional_allocation_on_hand_made_claims():
    claims = torch.tensor([[10, 3, 0, 4], [10, 10, 5, 6]])
    expected = torch.tensor([[5.0, 30 / 13, 0.0, 4.0], [5.0, 100 / 13, 5.0, 6.0]])
    assert torch.allclose(proportional_allocation(claims, 10), expected)
    assert proportional_allocation(torch.zeros(2, 3), 10).eq(0).all()


def test_split_value_draws_are_the_twelve_valid_pairs():
    pairs = split_value_pairs()
    assert pairs.shape == (12, 2, 3)
    assert set(pairs.unique().tolist()) == {1, 10}
    assert (pairs[:, 0].sum(-1) == pairs[:, 1].sum(-1)).all()  # equal totals
    assert (pairs[:, 0] != pairs[:, 1]).any(-1).all()  # at least one item valued differently
    assert len({tuple(p.flatten().tolist()) for p in pairs}) == 12
    game = SplitNoComm()
    game.reset(256, seed=0)
    drawn = {tuple(v) for v in game.values.permute(1, 2, 0, 3).reshape(-1, 6).tolist()}
    assert drawn == {tuple(p.flatten().tolist()) for p in pairs}  # every valid pair drawn, nothing else


def _index_of_pair(own, other):
    pairs = split_value_pairs()
    target = torch.tensor([own, other])
    return int(next(k for k in range(len(pairs)) if torch.equal(pairs[k], target)))


def test_split_round_reward_on_a_hand_made_case():
    game = SplitNoComm(n_rounds=1)
    game.reset_to_draws(torch.tensor([[_index_of_pair((10, 1, 1), (1, 10, 1))]]))
    turn = game.next_turn()
    assert turn.prompts == {0: ["Values : you 10 1 1 , other 1 10 1 ."], 1: ["Values : you 1 10 1 , other 10 1 1 ."]}
    assert len(turn.choices) == 11 ** 3
    game.answer(turn, {0: ["<take> 10 10 10 </take>"], 1: ["<take> 10 0 5 </take>"]})
    # item 1: 5 / 5 units; item 2: 10 / 0; item 3: claims 10 + 5 scaled to 20/3 and 10/3
    assert game.rewards[:, 0, 0].tolist() == pytest.approx([5 * 10 + 10 * 1 + 20 / 3 * 1, 5 * 1 + 0 + 10 / 3 * 1])


@pytest.mark.parametrize("pair, reference", [
    (("cooperative", "cooperative"), (127.5, 127.5)),
    (("greedy", "greedy"), (82.5, 82.5)),
    (("greedy", "cooperative"), (425 / 3, 205 / 3)),  # 141.7 / 68.3
    (("cooperative", "greedy"), (205 / 3, 425 / 3)),
])
def test_split_reference_rewards_exact_and_simulated(pair, reference):
    assert expected_round_rewards(SplitNoComm(), list(pair)).tolist() == pytest.approx(reference)
    rewards = play_scripted(SplitNoComm(), list(pair), batch_size=1024, seed=11).reshape(2, -1)
    error = rewards.std(1) / rewards.shape[1] ** 0.5
    assert ((rewards.mean(1) - torch.tensor(reference)).abs() < 4 * error).all()


def test_split_parsing_rule_and_fallback_counted():
    game = SplitNoComm()
    assert game.parse_answer("<take> 3 10 0 </take>") == (3, 10, 0)
    assert game.parse_answer("I claim <take>3 10 0</take> .") == (3, 10, 0)
    for bad in ("<take> 11 0 0 </take>", "<take> 1 2 </take>", "take 1 2 3", "<take> -1 2 3 </take>", "",
                "<take> 1 2 3 </take> <take> 1 2 3 </take>"):
        assert game.parse_answer(bad) is None, bad
    game.reset(2, seed=0)
    turn = game.next_turn()
    result = game.answer(turn, {0: ["<take> 10 10 10 </take>", "all of it"], 1: ["<take> 0 0 0 </take>"] * 2})
    assert result.parsed_ok[0].tolist() == [True, False]
    assert game.actions[0, 1, 0].tolist() == [0, 0, 0] and game.parse_failures.tolist() == [1, 0]
    assert game.rewards[0, 1, 0] == 0 and game.rewards[0, 0, 0] == 10 * game.values[0, 0, 0].sum()


def test_split_prompts_tell_values_and_the_others_last_claims():
    game = SplitNoComm()
    game.reset(1, seed=2)
    game.answer(game.next_turn(), {0: ["<take> 1 2 3 </take>"], 1: ["<take> 4 5 6 </take>"]})
    prompts = game.next_turn().prompts
    v = game.values[:, 0, 1].tolist()
    assert prompts[0] == [f"Other claimed 4 5 6 . Values : you {' '.join(map(str, v[0]))} , "
                          f"other {' '.join(map(str, v[1]))} ."]
    assert prompts[1][0].startswith("Other claimed 1 2 3 . Values : you ")


# ---------------------------------------------------------------------- Trust-and-Split
@pytest.mark.parametrize("pair, reference", [
    (("cooperative", "cooperative"), (50.0, 50.0)),   # welfare 100
    (("greedy", "greedy"), (27.5, 27.5)),             # welfare 55
    (("greedy", "cooperative"), (52.5, 25.0)),
    (("cooperative", "greedy"), (25.0, 52.5)),
    (("liar", "cooperative"), (53.75, 12.5)),         # lying as second speaker, truthful as first
])
def test_trust_split_reference_rewards_exact_and_simulated(pair, reference):
    assert expected_round_rewards(TrustAndSplit(), list(pair)).tolist() == pytest.approx(reference)
    rewards = play_scripted(TrustAndSplit(), list(pair), batch_size=1024, seed=11).reshape(2, -1)
    error = rewards.std(1) / rewards.shape[1] ** 0.5
    assert ((rewards.mean(1) - torch.tensor(reference)).abs() < 4 * error + 1e-6).all()


def test_trust_split_turn_order_hands_and_messages():
    game = TrustAndSplit(n_rounds=2, max_message_words=4)
    assert [(s.kind, s.seats, s.round) for s in game.schedule] == [
        ("message", (0,), 0), ("message", (1,), 0), ("action", (0, 1), 0),
        ("message", (1,), 1), ("message", (0,), 1), ("action", (0, 1), 1)]
    game.reset(2, seed=4)
    hands = game.hands.tolist()
    assert all(hands[0][b][r] != hands[1][b][r] for b in range(2) for r in range(2))
    names = ["rock", "paper", "scissors"]
    seen = {0: [], 1: []}  # every prompt of round 1, per seat: lists of B texts
    turn = game.next_turn()
    seen[0].append(turn.prompts[0])
    assert turn.kind == "message" and turn.choices is None and turn.max_words == 4
    assert turn.prompts[0] == [f"Your hand is {names[hands[0][b][0]]} . Send a message ." for b in range(2)]
    game.answer(turn, {0: ["hello   there", "one two three four five six"]})
    assert game.messages[0][0] == ["hello there", "one two three four"]  # normalised and cut to 4 words
    turn = game.next_turn()
    seen[1].append(turn.prompts[1])
    assert turn.prompts[1][1] == (f"Your hand is {names[hands[1][1][0]]} . Other says <msg> one two three four </msg> "
                                  "Send a message .")
    game.answer(turn, {1: ["hi", ""]})
    turn = game.next_turn()
    assert turn.prompts[0] == ["Other says <msg> hi </msg> Claim coins .", "Other says <msg> </msg> Claim coins ."]
    assert turn.prompts[1] == ["Claim coins ."] * 2
    assert turn.choices == [f"<keep> {n} </keep>" for n in range(11)]
    # neither seat was told the other's hand before the claims
    for seat in (0, 1):
        for texts in seen[seat] + [turn.prompts[seat]]:
            assert all(names[hands[1 - seat][b][0]] not in words(texts[b]) for b in range(2))
    result = game.answer(turn, {0: ["<keep> 10 </keep>", "<keep> 4 </keep>"], 1: ["<keep> 10 </keep>", "keep 6"]})
    assert result.round_finished and result.parsed_ok[1].tolist() == [True, False]
    values = game.values[:, :, 0].float()
    assert torch.allclose(game.rewards[:, :, 0], torch.tensor([[5.0, 4.0], [5.0, 0.0]]) * values)
    assert game.parse_failures.tolist() == [0, 1]
    # round 2: seat 1 speaks first and hears the other's hand and claim of round 1
    turn = game.next_turn()
    assert turn.seats == (1,)
    assert turn.prompts[1][1].startswith(f"Other had {names[hands[0][1][0]]} and kept 4 . Your hand is ")


def test_trust_split_parsing_and_reported_hands():
    game = TrustAndSplit()
    assert game.parse_answer("<keep> 7 </keep>") == 7 and game.parse_answer("<keep>0</keep>") == 0
    for bad in ("<keep> 11 </keep>", "7", "<keep> 1 </keep> <keep> 2 </keep>", "<keep> x </keep>"):
        assert game.parse_answer(bad) is None, bad
    assert reported_hand("I have Rock .") == 0 and reported_hand("scissors!") == 2
    assert reported_hand("rock or paper") is None and reported_hand("rocket") is None


# ---------------------------------------------------------------------- the lecture's Splitting Game
@pytest.mark.parametrize("pair, coins", [
    (("fair", "fair"), (5, 5)),
    (("greedy", "fair"), (0, 0)),
    (("fair", "greedy"), (0, 0)),
    (("greedy", "accepting"), (10, 0)),
    (("greedy", "greedy"), (0, 0)),
])
def test_splitting_game_agreement_table(pair, coins):
    rewards = play_scripted(SplittingGame(), list(pair), batch_size=2, seed=0)
    assert rewards.shape == (2, 2, 1)
    assert rewards[:, :, 0].tolist() == [[float(coins[0])] * 2, [float(coins[1])] * 2]


def test_splitting_game_follows_the_lecture_prompt_and_format():
    game = SplittingGame()
    game.reset(3, seed=0)
    rules = game.system_prompt(0)[0]
    for fact in ("Welcome to the Splitting Game .", "Two agents divide 10 coins .",
                 "Both agents must agree on a division to receive the coins . If not , both receive zero coins .",
                 "The game is played only once .", "Responses must be within <finalize> </finalize> tags .",
                 "Goal : Aim to be fair with both the other agent and yourself ."):
        assert fact in rules
    turn = game.next_turn()
    assert turn.seats == (0,) and turn.prompts[0][0] == "You are the first agent . It is your turn to play ."
    assert len(turn.choices) == 66  # i_take + other_agent_gets <= 10
    lecture = '<finalize> {"i_take": {"coins": 5}, "other_agent_gets": {"coins": 5}} </finalize>'
    game.answer(turn, {0: [lecture, '<finalize> {"i_take": {"coins": 7}, "other_agent_gets": {"coins": 3}} '
                                    '</finalize>', "I take 5"]})
    turn = game.next_turn()
    assert turn.seats == (1,)
    assert turn.prompts[1][0] == ('The other agent\'s finalization was { "i_take" : { "coins" : 5 } , '
                                  '"other_agent_gets" : { "coins" : 5 } } . You are the second agent . '
                                  'It is your turn to play .')
    assert turn.prompts[1][2].startswith("The other agent made no valid finalization .")
    assert set(words(turn.prompts[1][2])) <= game.vocabulary()
    mirror = game.format_action((3, 7))
    game.answer(turn, {1: [lecture, mirror, game.format_action((5, 5))]})
    assert game.rewards[:, :, 0].tolist() == [[5.0, 7.0, 0.0], [5.0, 3.0, 0.0]]
    assert game.parse_failures.tolist() == [1, 0] and game.actions[0, 2, 0].tolist() == [-1, -1]
    assert game.next_turn() is None


def test_splitting_game_parsing_rule():
    game = SplittingGame()
    ok = '<finalize> { "i_take" : { "coins" : 4 } , "other_agent_gets" : { "coins" : 6 } } </finalize>'
    assert game.parse_answer(ok) == (4, 6)
    assert game.parse_answer('<finalize>{"other_agent_gets":{"coins":0},"i_take":{"coins":3}}</finalize>') == (3, 0)
    for bad in ('<finalize> {"i_take": {"coins": 6}, "other_agent_gets": {"coins": 6}} </finalize>',  # > 10
                '<finalize> {"i_take": {"coins": -1}, "other_agent_gets": {"coins": 6}} </finalize>',
                '<finalize> {"i_take": {"coins": 5.0}, "other_agent_gets": {"coins": 5}} </finalize>',
                '<finalize> {"i_take": {"coins": true}, "other_agent_gets": {"coins": 5}} </finalize>',
                '<finalize> {"i_take": {"coins": 5}} </finalize>',
                '<finalize> {"i_take": {"coins": 5}, "other_agent_gets": {"coins": 5}, "x": 1} </finalize>',
                '<finalize> {i_take: 5} </finalize>', '{"i_take": {"coins": 5}, "other_agent_gets": {"coins": 5}}',
                ok + " " + ok):
        assert game.parse_answer(bad) is None, bad


# ---------------------------------------------------------------------- seed groups and determinism
@pytest.mark.parametrize("cls, draws", [(SplitNoComm, "values"), (TrustAndSplit, "hands")])
def test_games_of_a_seed_group_share_their_draws(cls, draws):
    game = cls()
    game.reset(32, seed=9, group_size=8)
    assert game.group_ids.tolist() == [b // 8 for b in range(32)]
    drawn = getattr(game, draws).transpose(0, 1).reshape(4, 8, -1)  # [group, game, everything]
    assert (drawn == drawn[:, :1]).all()  # one draw per group, every round
    assert len({tuple(g[0].tolist()) for g in drawn}) == 4  # groups differ
    game.reset(32, seed=9)
    assert game.group_ids.tolist() == list(range(32))
    assert len({tuple(x.tolist()) for x in getattr(game, draws).transpose(0, 1).reshape(32, -1)}) > 16
    # same seed (int or generator), same draws; another seed, other draws
    game.reset(8, seed=3)
    first = getattr(game, draws).clone()
    game.reset(8, seed=make_generator(3))
    assert torch.equal(first, getattr(game, draws))
    game.reset(8, seed=4)
    assert not torch.equal(first, getattr(game, draws))


def test_ipd_has_no_draws_and_distinct_groups_without_group_size():
    game = TextIPD()
    assert not game.random_draws
    game.reset(4, seed=0, group_size=2)
    assert game.group_ids.tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="no random draws"):
        game.reset_to_draws(torch.zeros(1, 10, dtype=torch.long))


def test_reset_to_draws_checks_its_index():
    game = SplitNoComm(n_rounds=2)
    with pytest.raises(ValueError, match="draw_index"):
        game.reset_to_draws(torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="draw_index"):
        game.reset_to_draws(torch.full((3, 2), 12))


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
    assert set(w for c in choices for w in words(c)) <= game.vocabulary()
    assert all(" ".join(words(c)) == c for c in choices)


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


def test_transcripts_follow_the_agents_the_mixture_and_the_noise():
    game = TextIPD()
    transcripts = scripted_transcripts(game, ["tit_for_tat", "always_defect"], n=2, seed=0)
    answers = [[m["content"] for m in t[0] if m["role"] == "assistant"] for t in transcripts]
    assert answers == [["<A>"] + ["<B>"] * 9] * 2
    mixture = scripted_transcripts(game, {"always_cooperate": 0.3, "always_defect": 0.7}, n=400, seed=1)
    defectors = sum(t[0][1]["content"] == "<B>" for t in mixture) / 400
    assert abs(defectors - 0.7) < 0.07  # binomial sd 0.023
    noisy = scripted_transcripts(game, ["always_cooperate", "always_cooperate"], n=200, seed=2, action_noise=0.5)
    flipped = sum(m["content"] == "<B>" for t in noisy for m in t[1] if m["role"] == "assistant") / 2000
    assert abs(flipped - 0.25) < 0.03  # half the answers redrawn, half of those <B>; sd 0.01
    with pytest.raises(ValueError, match="action_noise"):
        scripted_transcripts(game, ["grim", "grim"], n=2, seed=0, action_noise=1.5)
    with pytest.raises(ValueError, match="mixture"):
        scripted_transcripts(game, {"grim": -1.0}, n=2, seed=0)
    with pytest.raises(ValueError, match="n must"):
        scripted_transcripts(game, ["grim", "grim"], n=0, seed=0)
