"""Adapters to other ecosystems (the top layer, next to :mod:`aa_lib.viz`).

- :mod:`aa_lib.interop.pettingzoo`: every batched game of :data:`aa_lib.games.GAMES` as a
  ``pettingzoo.ParallelEnv`` (``pip install pettingzoo gymnasium``; both are in the ``dev`` and
  ``interop`` extras). Import it explicitly: this package imports nothing optional by itself.
"""
