"""Rewrite an event into the form the accountants compute with, under one relation.

The accountants compute in one *accounting form*: every parameter is relative to the
sensitivity of the pair of datasets being compared; a :class:`PoissonSampled` event is a
Poisson-subsampled mechanism under add/remove (Zhu, Dong, Wang 2022, Theorem 11; Zhu and
Wang 2019, Theorem 5); a :class:`SampledWithoutReplacement` event is the replace-one
amplification of its base (Wang, Balle, Kasiviswanathan 2019, Theorem 9; the base is
already the replace-one mechanism). :func:`accounting_form` maps a user's event, whose
parameters are relative to one record's contribution bound ``C``, to that form:

================  ===========================  ===============================================
relation          fixed-size sample (N, m)     everything else
================  ===========================  ===============================================
add_remove        Poisson(m/N) of base at 2C   unchanged (Poisson: add/remove pairs at C)
zero_out          WBK replace-one, base at 2C  unchanged (a null record contributes 0)
replace_one       WBK replace-one, base at 2C  base at 2C; Poisson sampling is refused
================  ===========================  ===============================================

Fixed-size selection under add/remove is the *displacement* pair. Let ``D'`` be ``D`` plus a
client ``x``; a cohort of ``m`` drawn from ``D'`` holds ``x`` with probability
``q = m/|D'|``, and then ``x`` stands where a uniformly chosen member ``y`` of ``D`` would
have stood. Conditioning on the other ``m - 1`` members ``T``, the outputs are
``P_T = E_y M(T + y)`` and ``(1 - q) P_T + q M(T + x)``, with every ``M(T + y)`` and
``M(T + x)`` a replace-one pair (sum distance ``<= 2C``). Hockey-stick divergences
``H_a(P || Q) = sup_E P(E) - a Q(E)`` are jointly convex for every ``a >= 0`` (and the
Renyi moments ``E_Q[(P/Q)^alpha]`` for ``alpha > 1``), so the mixture over ``T`` and ``y``
is dominated by its worst component, and a Gaussian (Laplace) pair at distance ``d <= 2C``
is a post-processing of the pair at ``2C`` (Blackwell), which maps the sampled pair to the
sampled pair. So the Poisson pair of rate ``q`` at sensitivity ``2C`` dominates one round
in each direction for all ``a >= 0``, which is what composition needs (Zhu, Dong, Wang 2022,
Theorem 10; Lebeda, Regehr, Kamath, Steinke 2024 show why a pair valid only for
``a >= 1`` would not be). ``q = m/N`` (a record removed from the ``N`` present) is the larger
of the two directions' rates (``m/(N+1)`` for a record added), and privacy is monotone in
``q``, so one rate serves both.

Zero-out and replace-one pairs under fixed-size sampling have common cohort members on
both sides; for those only the replace-one RDP bound of Wang et al. is proven sound under
composition here, and the PLD accountant refuses them (its two-direction Poisson pairs
would not dominate for ``a < 1``, the pitfall of Lebeda et al. 2024).
"""

from __future__ import annotations

from dp.errors import InvalidArgument, UnsupportedEvent
from dp.events import (
    ZCDP,
    Composed,
    DiscreteGaussian,
    DiscreteLaplace,
    DistributedDiscreteGaussian,
    DpEvent,
    Gaussian,
    Laplace,
    MatrixFactorizationGaussian,
    PoissonSampled,
    SampledWithoutReplacement,
    SelfComposed,
    Skellam,
)
from dp.neighbouring import Neighbouring

__all__ = ["accounting_form", "doubled"]


def doubled(event: DpEvent) -> DpEvent:
    """The same un-sampled mechanism on a query whose sensitivity is twice as large.

    Raises:
        UnsupportedEvent: ``event`` contains a sampling event (nested sampling has no
            bound here) or its doubled sensitivity leaves the representable range.
    """
    try:
        return _doubled(event)
    except InvalidArgument as error:
        raise UnsupportedEvent(f"cannot double the sensitivity of {event!r}: {error}") from error


def _doubled(event: DpEvent) -> DpEvent:
    if isinstance(event, Gaussian):
        return Gaussian(event.noise_multiplier / 2.0)
    if isinstance(event, Laplace):
        return Laplace(event.scale / 2.0)
    if isinstance(event, DiscreteLaplace):
        return DiscreteLaplace(event.scale, 2 * event.sensitivity)
    if isinstance(event, DiscreteGaussian):
        return DiscreteGaussian(event.sigma, 2.0 * event.sensitivity_l2)
    if isinstance(event, Skellam):
        return Skellam(event.mu, 2.0 * event.sensitivity_l1, 2.0 * event.sensitivity_l2)
    if isinstance(event, DistributedDiscreteGaussian):
        return DistributedDiscreteGaussian(
            event.sigma,
            event.n_min,
            event.dimension,
            2.0 * event.sensitivity_l1,
            2.0 * event.sensitivity_l2,
        )
    if isinstance(event, ZCDP):
        # Group privacy for two records (Bun and Steinke 2016, Proposition 27): 4 rho.
        return ZCDP(4.0 * event.rho)
    if isinstance(event, SelfComposed):
        return SelfComposed(_doubled(event.event), event.count)
    if isinstance(event, Composed):
        return Composed(tuple(_doubled(inner) for inner in event.events))
    raise UnsupportedEvent(
        f"{event!r} cannot be the base of a sampled or replaced mechanism (nested sampling)"
    )


def accounting_form(event: DpEvent, relation: Neighbouring) -> DpEvent:
    """``event`` rewritten for accounting under ``relation`` (see the module docstring).

    Raises:
        UnsupportedEvent: the event has no sound bound under ``relation`` (Poisson sampling
            under replace-one, nested sampling).
    """
    if isinstance(event, SelfComposed):
        return SelfComposed(accounting_form(event.event, relation), event.count)
    if isinstance(event, Composed):
        return Composed(tuple(accounting_form(inner, relation) for inner in event.events))
    if isinstance(event, MatrixFactorizationGaussian):
        return _matrix_factorization_form(event, relation)
    if isinstance(event, SampledWithoutReplacement):
        base = doubled(event.event)
        if relation == "add_remove":
            return PoissonSampled(event.sample_size / event.population, base)
        return SampledWithoutReplacement(event.population, event.sample_size, base)
    _refuse_variable_noise_count(event, relation)
    if relation != "replace_one":
        return event
    if isinstance(event, PoissonSampled):
        raise UnsupportedEvent(
            f"{event!r}: Poisson sampling has no bound here under replace_one; account it "
            "under add_remove (which Poisson sampling satisfies) or zero_out"
        )
    return doubled(event)


def _matrix_factorization_form(
    event: MatrixFactorizationGaussian, relation: Neighbouring
) -> DpEvent:
    """A DP-FTRL entry is a Gaussian under zero-out (at ``2x`` under replace-one), never add/remove.

    See :class:`dp.events.MatrixFactorizationGaussian`: without sampling, an added client
    can displace others from later rounds, which the schema's sensitivity does not cover.
    """
    if relation == "add_remove":
        raise UnsupportedEvent(
            f"{event!r}: a matrix-factorisation (DP-FTRL) mechanism is accounted under "
            "zero_out (or replace_one), the relation its participation-schema sensitivity is "
            "for; under add_remove a client's presence can change who else takes part"
        )
    try:
        return Gaussian(event.gaussian_noise_multiplier(2.0 if relation == "replace_one" else 1.0))
    except InvalidArgument as error:
        raise UnsupportedEvent(f"{event!r} has no representable Gaussian form: {error}") from error


def _refuse_variable_noise_count(event: DpEvent, relation: Neighbouring) -> None:
    """Refuse client-added noise whose number of shares would differ between neighbours.

    The sum of ``n`` clients' noise shares has variance ``n s^2``, so a neighbour that
    changes how many clients add noise changes the noise *variance*, which no shift pair
    covers (with ``d`` coordinates the variance is measured to ``sqrt(2/d)``). Under
    add/remove without a fixed-size cohort the target's own share is present on one side
    only; under Poisson sampling whether the target adds a share depends on its coin, and
    the mixture ``q(S + x) + (1 - q) A`` against ``q S + (1 - q) A`` (``S = A`` plus the
    target's share) is not dominated by the amplified shift pair. Fixed-size cohorts keep
    the count of noise shares fixed on both sides (every relation), and zero_out and
    replace_one keep the target's share on both sides.
    """
    if isinstance(event, DistributedDiscreteGaussian) and relation == "add_remove":
        raise UnsupportedEvent(
            f"{event!r} under add_remove: the target client's own noise share is in the sum "
            "on one side only, so the noise variance differs between neighbours; account "
            "client-added noise under zero_out or replace_one, or with a fixed-size cohort "
            "(SampledWithoutReplacement), which keeps the number of noise shares fixed"
        )
    if isinstance(event, PoissonSampled) and _adds_client_noise(event.event):
        raise UnsupportedEvent(
            f"{event!r}: under Poisson sampling the number of client noise shares depends on "
            "who is sampled, so the amplified shift pair does not bound it; use a fixed-size "
            "cohort (SampledWithoutReplacement) for client-added noise"
        )


def _adds_client_noise(event: DpEvent) -> bool:
    if isinstance(event, DistributedDiscreteGaussian):
        return True
    if isinstance(event, SelfComposed):
        return _adds_client_noise(event.event)
    if isinstance(event, Composed):
        return any(_adds_client_noise(inner) for inner in event.events)
    return False
