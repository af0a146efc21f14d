"""Gradients of the learning rules: surrogate identities, DiCE, and sampled vs exact on the memory-one IPD."""
import itertools

import pytest
import torch

from aa_lib.agents.policies import DiscretePolicy, MemoryOnePolicy
from aa_lib.algos import (PPO, LOQA, AdvantageAlignment, LearnerBatch, NaiveActorCritic,
                          ProximalAdvantageAlignment, dice_objective, loqa_opponent_probs, magic_box)
from aa_lib.exact.memory_one import SEAT_SWAP, finite_horizon_solution, finite_horizon_values
from aa_lib.games.iterated import IteratedMatrixGame
from aa_lib.games.matrix import PRISONERS_DILEMMA
from aa_lib.training.rollout import collect_rollout


def _grad(loss, params):
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])


def _random_batch(policy, n=6, T=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = torch.nn.functional.one_hot(torch.randint(5, (n, T), generator=g), 5).float()
    actions = torch.randint(2, (n, T), generator=g)
    with torch.no_grad():
        old, _ = policy.evaluate(obs, actions)
    return LearnerBatch(obs=obs, actions=actions, old_log_probs=old,
                        advantages=torch.randn(n, T, generator=g),
                        other_advantages=torch.randn(1, n, T, generator=g), gamma=0.9)


def test_ppo_gradient_equals_policy_gradient_at_ratio_one():
    torch.manual_seed(0)
    policy = DiscretePolicy((5,), 2, hidden=8)
    batch = _random_batch(policy)
    params = list(policy.parameters())
    g_ppo = _grad(PPO(clip=0.2).actor_loss(policy, batch)[0], params)
    g_pg = _grad(NaiveActorCritic().actor_loss(policy, batch)[0], params)
    assert torch.allclose(g_ppo, g_pg, atol=1e-6)
    assert g_pg.abs().max() > 1e-3


def test_proximal_aa_gradient_equals_aa_gradient_at_ratio_one():
    torch.manual_seed(1)
    policy = DiscretePolicy((5,), 2, hidden=8)
    batch = _random_batch(policy, seed=1)
    params = list(policy.parameters())
    g_paa = _grad(ProximalAdvantageAlignment(beta=0.7).actor_loss(policy, batch)[0], params)
    g_aa = _grad(AdvantageAlignment(beta=0.7).actor_loss(policy, batch)[0], params)
    g_naive = _grad(NaiveActorCritic().actor_loss(policy, batch)[0], params)
    assert torch.allclose(g_paa, g_aa, atol=1e-6)
    assert not torch.allclose(g_aa, g_naive, atol=1e-3)  # the shaping term matters here


def test_ppo_clipping_stops_gradient_outside_trust_region():
    policy = MemoryOnePolicy(torch.zeros(5))
    batch = _random_batch(policy, seed=2)
    batch.advantages = torch.ones_like(batch.advantages)
    batch.old_log_probs = batch.old_log_probs - 1.0  # ratio e > 1 + eps, positive advantage: clipped
    loss, _ = PPO(clip=0.2).actor_loss(policy, batch)
    assert torch.all(torch.autograd.grad(loss, policy.theta)[0] == 0)


def test_magic_box_value_and_gradient():
    x = torch.tensor([0.3, -1.2], requires_grad=True)
    box = magic_box(x)
    assert torch.allclose(box, torch.ones(2))
    (grad,) = torch.autograd.grad((box * torch.tensor([2.0, 5.0])).sum(), x)
    assert torch.allclose(grad, torch.tensor([2.0, 5.0]))


def test_first_order_dice_gradient_equals_reinforce():
    """grad_1 DiCE = mean_b sum_t grad log pi1(a_t) sum_{k>=t} gamma^k r_k (REINFORCE, reward-to-go)."""
    env = IteratedMatrixGame(episode_length=6)
    p1, p2 = MemoryOnePolicy(torch.randn(5, generator=torch.Generator().manual_seed(3))), MemoryOnePolicy()
    traj = collect_rollout(env, [p1, p2], 32, torch.Generator().manual_seed(4))
    gamma = 0.8
    logp1, _ = p1.evaluate(traj.obs[0], traj.actions[0])
    logp2, _ = p2.evaluate(traj.obs[1], traj.actions[1])
    g_dice = torch.autograd.grad(dice_objective(logp1 + logp2, traj.rewards[0], gamma), p1.theta,
                                 retain_graph=True)[0]
    discounts = gamma ** torch.arange(6.0)
    to_go = (discounts * traj.rewards[0]).flip(-1).cumsum(-1).flip(-1)  # sum_{k>=t} gamma^k r_k
    g_reinforce = torch.autograd.grad((to_go * logp1).sum(-1).mean(), p1.theta)[0]
    assert torch.allclose(g_dice, g_reinforce, atol=1e-5)
    # The baseline term changes the estimate but not its value of 1 (no bias in expectation).
    values = torch.randn(32, 6)
    with_baseline = dice_objective(logp1 + logp2, traj.rewards[0], gamma, baseline=values)
    assert torch.allclose(with_baseline, dice_objective(logp1 + logp2, traj.rewards[0], gamma))


def test_loqa_opponent_probs_replaces_taken_q_value():
    q = torch.tensor([[1.0, 3.0, 0.0]])
    probs = loqa_opponent_probs(q, torch.tensor([1]), torch.tensor([2.0]))
    expected = torch.exp(torch.tensor(2.0)) / (torch.exp(torch.tensor(1.0)) + torch.exp(torch.tensor(2.0)) + 1.0)
    assert torch.allclose(probs, expected.view(1))


# ---------------------------------------------------------------- sampled vs exact (memory-one IPD)
T, GAMMA = 3, 0.9
THETA1 = torch.tensor([1.0, 0.5, -0.8, 0.3, -0.4], dtype=torch.float64)
THETA2 = torch.tensor([0.2, 0.9, -0.3, -0.6, 0.4], dtype=torch.float64)


def _exact_quantities():
    sol = finite_horizon_solution(THETA1, THETA2, PRISONERS_DILEMMA, GAMMA, T)
    return sol


def _weights(algo, a1, a2, q_probs):
    batch = LearnerBatch(obs=None, actions=None, old_log_probs=None, advantages=a1,
                         other_advantages=a2.unsqueeze(0), gamma=GAMMA,
                         other_q_probs=None if q_probs is None else q_probs.unsqueeze(0))
    return algo.final_weights(batch)


def _step_quantities(sol, states, a, b):
    """Exact advantages of both players and LOQA's pi~^2 at visited (t, state, a, b), ``[N, T]``."""
    t = torch.arange(T).expand_as(states)
    a1 = sol.q1[t, states, a, b] - sol.v1[t, states]
    a2 = sol.q2[t, states, a, b] - sol.v2[t, states]
    q2_all = sol.q2[t, states, a]  # [N, T, 2] over player 2's actions, given a_t (eq. 53)
    q_probs = torch.softmax(q2_all, -1).gather(-1, b.unsqueeze(-1)).squeeze(-1)
    return a1, a2, q_probs


def _exact_gradient(algo, sol):
    """E[sum_t w_t grad log pi1(a_t|s_t)] by enumerating all 4^T joint histories."""
    theta1 = THETA1.clone().requires_grad_(True)
    p1 = torch.sigmoid(theta1)
    p2 = torch.sigmoid(THETA2)[list(SEAT_SWAP)]  # player 2's P(C) in player 1's state order
    total = 0.0
    for joint in itertools.product(range(4), repeat=T):
        a = torch.tensor([[j // 2 for j in joint]])
        b = torch.tensor([[j % 2 for j in joint]])
        states = torch.tensor([[0] + [1 + j for j in joint[:-1]]])
        pi1 = torch.where(a == 0, p1[states], 1 - p1[states])
        pi2 = torch.where(b == 0, p2[states], 1 - p2[states])
        prob = (pi1 * pi2).prod().detach()
        w = _weights(algo, *_step_quantities(sol, states, a, b))
        total = total + prob * (w * torch.log(pi1)).sum()
    return torch.autograd.grad(total, theta1)[0]


def _sampled_gradient(algo, sol, n=40000):
    env = IteratedMatrixGame(episode_length=T)
    p1, p2 = MemoryOnePolicy(THETA1.float()), MemoryOnePolicy(THETA2.float())
    traj = collect_rollout(env, [p1, p2], n, torch.Generator().manual_seed(11))
    states = traj.obs[0].argmax(-1)
    a1, a2, q_probs = (x.float() for x in _step_quantities(sol, states, traj.actions[0], traj.actions[1]))
    batch = LearnerBatch(obs=traj.obs[0], actions=traj.actions[0], old_log_probs=traj.log_probs[0],
                         advantages=a1, other_advantages=a2.unsqueeze(0), gamma=GAMMA,
                         other_q_probs=q_probs.unsqueeze(0))
    loss, _ = algo.actor_loss(p1, batch)
    return -torch.autograd.grad(loss, p1.theta)[0].double() * T  # loss is a mean over steps


def _cosine(x, y):
    return float(torch.nn.functional.cosine_similarity(x, y, dim=0))


def test_exact_naive_gradient_is_the_value_gradient():
    """The enumerated eq.-3 expectation with exact advantages equals autograd of the exact value."""
    sol = _exact_quantities()
    g_enum = _exact_gradient(NaiveActorCritic(discount_weights=True), sol)
    theta1 = THETA1.clone().requires_grad_(True)
    v1, _ = finite_horizon_values(theta1, THETA2, PRISONERS_DILEMMA, GAMMA, T)
    (g_value,) = torch.autograd.grad(v1, theta1)
    assert torch.allclose(g_enum, g_value, atol=1e-10)


@pytest.mark.parametrize("algo", [
    NaiveActorCritic(discount_weights=True),
    AdvantageAlignment(beta=1.0, aa_gamma=None, discount_weights=True),
    LOQA(beta=1.0, aa_gamma=None, discount_weights=True),
], ids=["naive", "aa", "loqa"])
def test_sampled_gradient_agrees_with_exact(algo):
    sol = _exact_quantities()
    exact = _exact_gradient(algo, sol)
    sampled = _sampled_gradient(algo, sol)
    assert _cosine(sampled, exact) > 0.9
    assert torch.allclose(sampled, exact, atol=0.05 * float(exact.norm()) + 0.02)


def test_aa_and_loqa_exact_gradients_differ_from_naive():
    """The shaping terms change the expected update (otherwise the tests above prove little)."""
    sol = _exact_quantities()
    naive = _exact_gradient(NaiveActorCritic(discount_weights=True), sol)
    aa = _exact_gradient(AdvantageAlignment(beta=1.0, aa_gamma=None, discount_weights=True), sol)
    loqa = _exact_gradient(LOQA(beta=1.0, aa_gamma=None, discount_weights=True), sol)
    assert _cosine(aa, naive) < 0.99 and _cosine(loqa, aa) < 0.999


def test_shaping_uses_the_separate_shaping_advantages_when_given():
    from aa_lib.advantages import shaping_term

    policy = MemoryOnePolicy(torch.zeros(5))
    batch = _random_batch(policy, seed=5)
    algo = AdvantageAlignment(beta=2.0)
    default = algo.weights(batch)
    batch.shaping_advantages = torch.randn(batch.advantages.shape, generator=torch.Generator().manual_seed(6))
    expected = batch.advantages + 2.0 * shaping_term(batch.shaping_advantages, batch.other_advantages, 0.9,
                                                     past_discount=0.9)
    assert torch.allclose(algo.weights(batch), expected)
    assert not torch.allclose(algo.weights(batch), default)
