"""Neighbouring relations: which pairs of datasets a DP guarantee protects.

A privacy claim means nothing without its relation. Every event's noise parameter is
relative to one record's (one client's) contribution bound ``C``, the add/remove
sensitivity of a sum; each accountant is built for one relation and accounts every event
under it (see ``docs/dp/accountant.md`` for the table of what is accounted how):

* ``"add_remove"`` (the default): the datasets differ by one record present in one and
  absent from the other. With a fixed-size cohort this includes *displacement*: an added
  client that is selected takes the place of another, so the sum moves by up to ``2C``.
* ``"zero_out"``: one record is replaced by a null record that contributes zero (Kairouz
  et al. 2021, "Practical and private (deep) learning without sampling or shuffling").
  Equal to add/remove for Poisson sampling and un-sampled mechanisms; with a fixed-size
  cohort the null record occupies a slot, and it is accounted as ``replace_one``.
* ``"replace_one"``: one record is replaced by any other (substitution); the sensitivity of
  a sum doubles to ``2C``.
"""

from __future__ import annotations

from typing import Literal

from dp.errors import InvalidArgument

__all__ = ["Neighbouring", "NEIGHBOURING_RELATIONS", "check_neighbouring"]

Neighbouring = Literal["add_remove", "zero_out", "replace_one"]
"""The neighbouring relations the accountants know."""

NEIGHBOURING_RELATIONS: tuple[Neighbouring, ...] = ("add_remove", "zero_out", "replace_one")
"""Every valid relation, the default first."""


def check_neighbouring(value: object) -> Neighbouring:
    """Return ``value`` as a :data:`Neighbouring` relation, or raise :class:`InvalidArgument`."""
    for relation in NEIGHBOURING_RELATIONS:
        if value == relation and isinstance(value, str):
            return relation
    raise InvalidArgument(
        f"neighbouring must be one of {', '.join(NEIGHBOURING_RELATIONS)}; got {value!r}"
    )
