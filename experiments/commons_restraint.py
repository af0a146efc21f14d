"""What is restraint worth in a Commons Harvest setting, in self-play and against greedy invaders?

Scripted populations only (no training): the greedy harvester and *restrained*
harvesters that never eat an apple with fewer than ``K`` apples within the
regrowth radius (L2 radius 2) in their view. They are measured with the
protocol of :func:`aa_lib.evaluation.commons.focal_evaluation`: the population
in every seat (self-play), then in all but ``n`` seats with ``n`` greedy
invaders. If no restrained population beats the greedy one against the
invaders, the invader evaluation does not reward this kind of restraint in
that setting: greedy harvesting is the focal population's best reply among
these rules. ``--zap`` lets the greedy and restrained focal agents zap whoever
stands in their beam; ``--guards`` adds :class:`PatchGuard` populations (stay by a
patch and zap whoever comes into the beam there).

    python experiments/commons_restraint.py                          # the classroom preset
    python experiments/commons_restraint.py --steps 200 --invaders 1 2
    python experiments/commons_restraint.py --zap --guards               # zapping, patch guards
    python experiments/commons_restraint.py --layout open --players 7 --steps 1000 \\
        --regrowth 0 0.0025 0.005 0.025 --view 9 5                     # Melting Pot's setting

Prints one markdown table; the numbers quoted in
``experiments/results/commons/NOTES.md`` (session 10) come from it.
(Exercise 2 of notebook 10 asks the student to write this agent; its
solution is in ``course/solutions/10_commons_harvest.md``.)
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from aa_lib.agents.scripted import GreedyHarvester
from aa_lib.evaluation.commons import focal_evaluation
from aa_lib.games.commons import ACTIONS, CHANNELS
from aa_lib.training.presets import preset
from aa_lib.games import make_env


class RestrainedHarvester(GreedyHarvester):
    """A greedy harvester that leaves alone every apple with fewer than ``k`` visible neighbours.

    Protected apples are hidden from the greedy rule and shown as walls, so it
    neither targets nor steps on them. Neighbours are counted within L2 radius
    ``config.regrowth_radius`` in the egocentric view ``[B, C, rows, cols]``.
    """

    name = "Restrained"

    def __init__(self, config, k: int):
        super().__init__(config)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.k = k
        r = int(config.regrowth_radius)
        offsets = torch.arange(-r, r + 1, dtype=torch.float32)
        within = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= config.regrowth_radius ** 2
        within[r, r] = False  # the spot itself is not its own neighbour
        self._disc = within.float()[None, None]  # [1, 1, 2r+1, 2r+1]

    def protected(self, obs: torch.Tensor) -> torch.Tensor:
        """``[B, rows, cols]`` bool: visible apples with fewer than ``k`` visible neighbours."""
        apples = obs[:, CHANNELS.index("apple")] > 0.5  # [B, rows, cols]
        pad = self._disc.shape[-1] // 2
        neighbours = F.conv2d(apples.float()[:, None], self._disc.to(obs.device), padding=pad)[:, 0]
        return apples & (neighbours < self.k)

    def act(self, obs, generator=None):
        apple, wall = CHANNELS.index("apple"), CHANNELS.index("wall")
        apples = obs[:, apple] > 0.5  # [B, rows, cols]
        protected = self.protected(obs)
        masked = obs.clone()
        masked[:, apple] = (apples & ~protected).float()
        masked[:, wall] = torch.maximum(masked[:, wall], protected.float())
        return super().act(masked, generator)


class PatchGuard(RestrainedHarvester):
    """A restrained harvester that guards the patch it stands by (a scripted take on the paper's bush guarding).

    Next to a patch (a visible apple within L1 distance ``radius``) it zaps whoever stands
    in its beam, and when it may eat nothing there it stays (turning now and then to sweep
    its beam) instead of wandering off. Elsewhere it acts as :class:`RestrainedHarvester`.
    """

    name = "Guard"

    def __init__(self, config, k: int, radius: int = 2, turn_probability: float = 0.3):
        super().__init__(config, k)
        self.radius, self.turn_probability = int(radius), float(turn_probability)

    def act(self, obs, generator=None):
        c, B, dev = self.config, obs.shape[0], obs.device
        rows, cols = obs.shape[-2:]
        apples = obs[:, CHANNELS.index("apple")] > 0.5  # [B, rows, cols]
        r, q = torch.arange(rows, device=dev)[:, None], torch.arange(cols, device=dev)[None, :]
        close = ((r - c.view_ahead).abs() + (q - c.view_sides).abs()) <= self.radius  # [rows, cols]
        at_patch = (apples & close).flatten(1).any(1)  # [B]
        edible = (apples & ~self.protected(obs)).flatten(1).any(1)
        stay = torch.where(torch.rand(B, generator=generator, device=dev) < self.turn_probability,
                           ACTIONS.index("turn_left"), ACTIONS.index("noop"))
        action = torch.where(at_patch & ~edible, stay, super().act(obs, generator))
        return torch.where(self.can_zap(obs) & at_patch, ACTIONS.index("zap"), action)


def populations(config, ks, zap: bool = False, guards: bool = False):
    """``(name, agent)`` of the focal populations compared: greedy, restrained for each K, guards."""
    out = [("greedy" + (" (zaps)" if zap else ""), GreedyHarvester(config, zap=zap))]
    for k in ks:
        agent = RestrainedHarvester(config, k)
        agent.zap = zap  # GreedyHarvester's rule: zap whoever stands in the beam
        out.append((f"restrained K={k}" + (" (zaps)" if zap else ""), agent))
    if guards:
        out += [(f"guard K={k}", PatchGuard(config, k)) for k in ks]
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    classroom = preset("commons", "ppo").game_options
    parser.add_argument("--layout", default=classroom["layout"])
    parser.add_argument("--players", type=int, default=classroom["n_players"])
    parser.add_argument("--steps", type=int, default=classroom["min_steps"], help="episode length")
    parser.add_argument("--regrowth", type=float, nargs=4, default=classroom["regrowth_probabilities"])
    parser.add_argument("--view", type=int, nargs=2, default=(classroom["view_ahead"], classroom["view_sides"]),
                        metavar=("AHEAD", "SIDES"))
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 3], help="restraint levels K")
    parser.add_argument("--invaders", type=int, nargs="+", default=[2])
    parser.add_argument("--episodes", type=int, default=128)
    parser.add_argument("--zap", action="store_true", help="greedy and restrained focal agents zap whoever is "
                        "in their beam (the invaders never zap)")
    parser.add_argument("--guards", action="store_true", help="add PatchGuard populations")
    args = parser.parse_args(argv)
    if any(k < 1 for k in args.ks):
        parser.error(f"--ks: restraint levels must be positive integers (K = 0 is the greedy row, always shown), "
                     f"got {args.ks}")
    torch.set_num_threads(1)
    env = make_env("commons", layout=args.layout, n_players=args.players, min_steps=args.steps,
                   max_steps=args.steps, end_interval=20, regrowth_probabilities=list(args.regrowth),
                   view_ahead=args.view[0], view_sides=args.view[1])
    print(f"{args.layout} map, {args.players} players, {args.steps} steps, regrowth {tuple(args.regrowth)}, "
          f"{args.episodes} games per setting (seed 1)")
    print("| population | invaders | self return | patches alive (self) | focal return (± s.e.) "
          "| patches alive (focal) | invader return |")
    print("|---|---|---|---|---|---|---|")
    start = time.time()
    for name, agent in populations(env.config, args.ks, args.zap, args.guards):
        for i, n in enumerate(args.invaders):
            # the same call as in exercise 2's solution: self-play first, then the focal games (same seed)
            ev = focal_evaluation(agent, env, n_invaders=n, episodes=args.episodes, seed=1)
            m, e = ev.metrics, ev.errors
            self_part = (f"{m['return/self']:.2f} | {m['patches_alive/self']:.2f}" if i == 0 else " | ")
            print(f"| {name} | {n} | {self_part} | {m['return/focal']:.2f} ± {e['return/focal']:.2f} "
                  f"| {m['patches_alive/focal']:.2f} | {m['return/invader']:.2f} |", flush=True)
    print(f"({time.time() - start:.0f} s)")


if __name__ == "__main__":
    main()
