"""Configuration of a federated run: frozen dataclasses, validated when built.

A run is described entirely by a :class:`FederatedConfig`; the runner reads nothing else.
Every check happens in ``__post_init__`` so that a bad configuration fails before any client
trains, with a :class:`federated.InvalidArgument` that names the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

import dp
from dp import Neighbouring
from federated.adversary import Adversary
from federated.errors import InvalidArgument
from secagg.masking import Stage

__all__ = [
    "Aggregation",
    "DPMode",
    "Weighting",
    "BudgetPolicy",
    "Stage",
    "UniformSelection",
    "PoissonSelection",
    "ParticipationSelection",
    "Selection",
    "FtrlSettings",
    "PrivacyConfig",
    "MaskingSettings",
    "PaillierSettings",
    "ValidatedSettings",
    "DropoutSimulation",
    "FederatedConfig",
]


class Aggregation(str, Enum):
    """How the server learns the sum of the clients' updates.

    ``MASKING`` (SecAgg+, the default) and ``PAILLIER`` never show the server a single
    client's update. ``VALIDATED`` (Prio3 with a bounded-L2 proof, :mod:`secagg.validated`)
    does not either, and also rejects any update whose clipping bound a malicious client did
    not respect: the server and a helper aggregator check each client's proof on their
    shares. ``PLAIN_INSECURE`` is a baseline for comparison only: the server sees every
    update in the clear, and its name and every report say so.
    """

    MASKING = "masking"
    PAILLIER = "paillier"
    VALIDATED = "validated"
    PLAIN_INSECURE = "plain_insecure"


class DPMode(str, Enum):
    """Where the differential-privacy noise is added.

    ``CENTRAL``: the server adds Gaussian noise to the unmasked sum, so the server is trusted
    with the un-noised sum. ``DISTRIBUTED``: each client adds an integer noise share before
    masking (Kairouz et al. 2021), so the server never sees an un-noised sum.
    """

    NONE = "none"
    CENTRAL = "central"
    DISTRIBUTED = "distributed"


class Weighting(str, Enum):
    """How client updates are weighted in FedAvg.

    ``EXAMPLES`` weights by (capped) example counts, as in McMahan et al. 2017. It is only
    allowed without DP: a client's weight scales its sensitivity, which would break the
    clipping bound the accountant relies on. Under DP every client weighs the same.
    """

    UNIFORM = "uniform"
    EXAMPLES = "examples"


class BudgetPolicy(str, Enum):
    """What to do when the planned run would exceed the target epsilon.

    ``STOP`` runs rounds while the next one fits in the budget, then stops and records why.
    ``REFUSE`` refuses to start a run whose planned rounds (worst case) exceed the target.
    """

    STOP = "stop"
    REFUSE = "refuse"


@dataclass(frozen=True, slots=True)
class UniformSelection:
    """Select exactly ``sample_size`` clients per round, uniformly without replacement.

    Accounted as sampling without replacement (Wang, Balle, Kasiviswanathan 2019), never as
    Poisson sampling, which it is not.
    """

    sample_size: int

    def __post_init__(self) -> None:
        if isinstance(self.sample_size, bool) or not isinstance(self.sample_size, int):
            raise InvalidArgument("UniformSelection.sample_size must be an int")
        if self.sample_size < 1:
            raise InvalidArgument("UniformSelection.sample_size must be at least 1")


@dataclass(frozen=True, slots=True)
class PoissonSelection:
    """Include every client independently with probability ``rate`` each round.

    Accounted as Poisson subsampling (Abadi et al. 2016; Mironov, Talwar, Zhang 2019). The
    FedAvg denominator is the expected cohort size, so that the DP sensitivity does not
    depend on the random cohort size (McMahan et al. 2018): ``expected_cohort`` when given
    (a public constant), else ``rate * population``. Under DP with the add/remove relation
    the population itself differs between neighbouring datasets, and a denominator that
    follows it releases the noise at a data-dependent scale, so such runs must declare
    ``expected_cohort`` (the runner refuses them otherwise).

    Attributes:
        rate: the inclusion probability, in (0, 1].
        expected_cohort: the public FedAvg denominator, > 0 (``None``: ``rate`` times the
            population, allowed without DP or under zero_out / replace_one).
    """

    rate: float
    expected_cohort: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.rate, (int, float)) or not 0.0 < float(self.rate) <= 1.0:
            raise InvalidArgument("PoissonSelection.rate must be in (0, 1]")
        cohort = self.expected_cohort
        if cohort is not None and (
            isinstance(cohort, bool)
            or not isinstance(cohort, (int, float))
            or not math.isfinite(cohort)
            or cohort <= 0
        ):
            raise InvalidArgument("PoissonSelection.expected_cohort must be finite and > 0")


@dataclass(frozen=True, slots=True)
class ParticipationSelection:
    """No sampling: each round takes up to ``cohort_size`` of the clients the schema allows.

    DP-FTRL's guarantee rests on a participation schema, not on sampling (Kairouz et al.
    2021; Choquette-Choo et al. 2023, "Multi-epoch matrix factorization mechanisms"): over
    the run's ``rounds`` a client takes part in at most ``max_participations`` rounds, any
    two at least ``min_separation`` rounds apart. The runner tracks who took part when
    (:class:`federated.selection.ParticipationTracker`) and never admits a client that
    would break the schema, and the accountant uses exactly this schema. Which eligible
    clients take part is drawn from the OS CSPRNG, simulating devices that check in when
    they can (``availability``), but no privacy claim depends on that draw.

    Attributes:
        cohort_size: the most clients per round, >= 1.
        max_participations: ``k``, the most rounds one client takes part in, >= 1.
        min_separation: ``b``, the fewest rounds between two participations, >= 1.
        availability: probability that an eligible client checks in for a round, in
            (0, 1] (a simulation of device availability; never used by the accounting).
    """

    cohort_size: int
    max_participations: int = 1
    min_separation: int = 1
    availability: float = 1.0

    def __post_init__(self) -> None:
        for name in ("cohort_size", "max_participations", "min_separation"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"ParticipationSelection.{name} must be an int >= 1")
        if not _is_real(self.availability) or not 0.0 < self.availability <= 1.0:
            raise InvalidArgument("ParticipationSelection.availability must be in (0, 1]")


Selection = UniformSelection | PoissonSelection | ParticipationSelection

_FTRL_MECHANISMS = ("blt", "banded", "tree")


@dataclass(frozen=True, slots=True)
class FtrlSettings:
    """DP-FTRL as the server optimiser: correlated noise from a matrix factorisation.

    The server adds round ``t``'s noise ``w_t`` (:meth:`dp.ftrl.Strategy.noise_stream`) to
    the securely aggregated sum and updates the model with it, as DP-FedAvg does; the
    noise of the rounds is correlated so that the model, a prefix sum of the updates, is
    less noisy than with independent noise at the same privacy (Kairouz et al. 2021; BLT:
    Dvijotham et al. 2024, McMahan et al. 2024). The run is accounted as one Gaussian
    mechanism under the selection's participation schema
    (:class:`dp.MatrixFactorizationGaussian`), under ``zero_out`` or ``replace_one``.

    Attributes:
        mechanism: ``"blt"`` (the default), ``"banded"`` or ``"tree"`` (tree aggregation
            with Honaker's estimator, for comparison).
        buffers: BLT only: the number of buffers (noise state ``buffers * d`` floats).
        bands: banded only: the number of bands (``None``: the optimiser's default).
        cache_dir: a directory caching optimised strategies by schema (``None``: none).
    """

    mechanism: str = "blt"
    buffers: int = 4
    bands: int | None = None
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.mechanism not in _FTRL_MECHANISMS:
            raise InvalidArgument(
                f"FtrlSettings.mechanism must be one of {', '.join(_FTRL_MECHANISMS)}"
            )
        if isinstance(self.buffers, bool) or not isinstance(self.buffers, int):
            raise InvalidArgument("FtrlSettings.buffers must be an int")
        if not 1 <= self.buffers <= 16:
            raise InvalidArgument("FtrlSettings.buffers must be in [1, 16]")
        if self.bands is not None and (
            isinstance(self.bands, bool) or not isinstance(self.bands, int) or self.bands < 1
        ):
            raise InvalidArgument("FtrlSettings.bands must be None or an int >= 1")
        if self.cache_dir is not None and not isinstance(self.cache_dir, str):
            raise InvalidArgument("FtrlSettings.cache_dir must be None or a path string")


@dataclass(frozen=True, slots=True)
class PrivacyConfig:
    """Differential privacy of a run, at the level of one client (user-level DP).

    The privacy unit is one client: two neighbouring populations differ in one client's
    whole data (add/remove by default), so the guarantee covers everything a client
    contributes over the whole run.

    Attributes:
        mode: where the noise is added (see :class:`DPMode`); noise without a mode is
            refused, so a run cannot silently go without DP.
        noise_multiplier: standard deviation of the noise on the sum, in units of
            ``clip_norm`` (the z of McMahan et al. 2018). Under distributed DP it is the
            noise of the honest survivors alone (see ``colluders``).
        delta: the delta at which epsilon is reported; required when DP is on (there is no
            safe default: it must be well below ``1 / population``, and a run with more
            clients than ``1 / delta`` is refused).
        target_epsilon: the budget; ``None`` means no budget is enforced.
        budget_policy: stop when the budget is reached, or refuse to start.
        accountant: ``"auto"`` (the default: the tight PLD accountant when it supports the
            run's event, else RDP), ``"pld"`` or ``"rdp"``.
        neighbouring: the relation the epsilon is for: ``"add_remove"`` (the default: one
            client added to or removed from the population), ``"zero_out"`` (one client's
            data replaced by a null client that contributes nothing: the relation several
            production systems report; it says nothing about a client's presence, so it is
            only ever an explicit choice, and fixed-size cohorts are accounted under it as
            a replacement) or ``"replace_one"`` (one client's data replaced by another's).
        colluders: distributed DP only: how many clients may collude with the server. A
            colluding client knows, and can subtract, its own noise share, so the noise is
            sized for, and every round accounted with, the honest survivors only
            (survivors minus colluders). ``None`` (the default) assumes as many colluders
            as the SecAgg+ configuration already tolerates (its Shamir threshold minus
            one), so the DP claim assumes nothing the cryptography does not.
    """

    mode: DPMode = DPMode.NONE
    noise_multiplier: float = 0.0
    delta: float | None = None
    target_epsilon: float | None = None
    budget_policy: BudgetPolicy = BudgetPolicy.STOP
    accountant: str = "auto"
    neighbouring: Neighbouring = "add_remove"
    colluders: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.mode, DPMode):
            raise InvalidArgument("PrivacyConfig.mode must be a DPMode")
        if not isinstance(self.budget_policy, BudgetPolicy):
            raise InvalidArgument("PrivacyConfig.budget_policy must be a BudgetPolicy")
        if not _is_real(self.noise_multiplier) or not (
            math.isfinite(self.noise_multiplier) and self.noise_multiplier >= 0
        ):
            raise InvalidArgument("PrivacyConfig.noise_multiplier must be finite and >= 0")
        if self.mode is not DPMode.NONE and self.noise_multiplier <= 0:
            raise InvalidArgument("a DP mode needs noise_multiplier > 0")
        if self.mode is DPMode.NONE and self.noise_multiplier > 0:
            raise InvalidArgument(
                "noise_multiplier > 0 without a DP mode would run with no DP at all; "
                "set mode=DPMode.CENTRAL or DPMode.DISTRIBUTED"
            )
        if self.delta is None:
            if self.mode is not DPMode.NONE:
                raise InvalidArgument(
                    "PrivacyConfig.delta is required with DP (well below 1 / population)"
                )
        elif not _is_real(self.delta) or not 0.0 < self.delta < 1.0:
            raise InvalidArgument("PrivacyConfig.delta must be in (0, 1)")
        if self.target_epsilon is not None and not (
            _is_real(self.target_epsilon)
            and math.isfinite(self.target_epsilon)
            and self.target_epsilon > 0
        ):
            raise InvalidArgument("PrivacyConfig.target_epsilon must be finite and > 0")
        if self.target_epsilon is not None and self.mode is DPMode.NONE:
            raise InvalidArgument("a target_epsilon needs a DP mode")
        if self.accountant not in ("auto", "pld", "rdp"):
            raise InvalidArgument("PrivacyConfig.accountant must be 'auto', 'pld' or 'rdp'")
        try:
            dp.check_neighbouring(self.neighbouring)
        except dp.DPError as exc:
            raise InvalidArgument(f"PrivacyConfig.neighbouring: {exc}") from exc
        if self.colluders is not None:
            if isinstance(self.colluders, bool) or not isinstance(self.colluders, int):
                raise InvalidArgument("PrivacyConfig.colluders must be None or an int")
            if self.colluders < 0:
                raise InvalidArgument("PrivacyConfig.colluders must be >= 0")
            if self.mode is not DPMode.DISTRIBUTED:
                raise InvalidArgument(
                    "PrivacyConfig.colluders applies to distributed DP only (under central "
                    "DP the trusted server adds all the noise)"
                )

    @property
    def enabled(self) -> bool:
        """Whether any noise is added."""
        return self.mode is not DPMode.NONE

    @property
    def run_delta(self) -> float:
        """The delta of a private run (``delta``, which DP requires).

        Raises:
            InvalidArgument: if this configuration adds no noise.
        """
        if self.delta is None:
            raise InvalidArgument("this run has no DP, hence no delta")
        return self.delta


def _is_real(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float))


@dataclass(frozen=True, slots=True)
class MaskingSettings:
    """SecAgg+ parameters (Bonawitz et al. 2017; Bell et al. 2020).

    Attributes:
        threshold_fraction: the Shamir threshold as a fraction of the cohort size; a round
            with fewer survivors is skipped. Above one half, as SecAgg+ requires.
        modulus_bits: the masked sum lives in Z_{2^modulus_bits}.
        neighbours: neighbours per client in the SecAgg+ graph; ``None`` for the complete
            graph of the original SecAgg.
        signed: sign advertised keys and consistency checks with Ed25519 (the
            malicious-server variant, Bonawitz et al. 2017, section 6.2). The simulation
            plays the PKI: it gives each client of a round a fresh signing key whose public
            half every party trusts.
    """

    threshold_fraction: float = 0.6
    modulus_bits: int = 32
    neighbours: int | None = None
    signed: bool = False

    def __post_init__(self) -> None:
        if not 0.5 < self.threshold_fraction <= 1.0:
            raise InvalidArgument("MaskingSettings.threshold_fraction must be in (0.5, 1]")
        if not 16 <= self.modulus_bits <= 64:
            raise InvalidArgument("MaskingSettings.modulus_bits must be in [16, 64]")
        if self.neighbours is not None and (self.neighbours < 2 or self.neighbours % 2):
            raise InvalidArgument("MaskingSettings.neighbours must be None or even and >= 2")

    def threshold(self, cohort_size: int) -> int:
        """The number of survivors needed to unmask a cohort of ``cohort_size`` clients."""
        return max(1, math.ceil(self.threshold_fraction * cohort_size))

    def shamir_threshold(self, cohort_size: int) -> int:
        """The Shamir threshold ``t`` for a cohort: a fraction (> 1/2) of one neighbourhood.

        SecAgg+ keeps an honest client's input hidden from the server plus up to ``t - 1``
        colluding clients (Bonawitz et al. 2017; Bell et al. 2020), and no more.
        """
        if self.neighbours is None:
            neighbourhood = cohort_size
        else:
            neighbourhood = min(self.neighbours, cohort_size - 1) + 1
        return max(1, math.ceil(self.threshold_fraction * neighbourhood))


@dataclass(frozen=True, slots=True)
class PaillierSettings:
    """Paillier aggregation parameters (threshold decryption by a key-holder committee).

    The key is dealt once per run by :func:`secagg.paillier.threshold.deal_threshold_keys`
    (a trusted dealer that forgets the factorisation); ``decryption_threshold`` of the
    ``key_holders`` must cooperate to decrypt the aggregate, and fewer learn nothing.

    Attributes:
        key_bits: modulus size; below 2048 needs ``allow_insecure_key`` (tests and demos only).
        allow_insecure_key: explicit opt-in to short keys, printed in every report.
        scale_bits: fixed-point fraction bits of the encoding (stochastic rounding).
        key_holders: size of the decryption committee.
        decryption_threshold: key holders needed to decrypt.
    """

    key_bits: int = 2048
    allow_insecure_key: bool = False
    scale_bits: int = 20
    key_holders: int = 3
    decryption_threshold: int = 2

    def __post_init__(self) -> None:
        if self.key_bits < 2048 and not self.allow_insecure_key:
            raise InvalidArgument(
                "Paillier keys below 2048 bits need allow_insecure_key=True (tests only)"
            )
        if not 1 <= self.scale_bits <= 40:
            raise InvalidArgument("PaillierSettings.scale_bits must be in [1, 40]")
        if not 1 <= self.decryption_threshold <= self.key_holders:
            raise InvalidArgument("need 1 <= decryption_threshold <= key_holders")


_VALIDATED_FIELDS = ("Field64", "Field128")


@dataclass(frozen=True, slots=True)
class ValidatedSettings:
    """Validated aggregation parameters (Prio3 over a bounded-L2 circuit, secagg.validated).

    Each client rounds its clipped update onto a fixed-point grid whose scale is the largest
    power of two keeping every coordinate of a clipped update inside ``bits`` signed bits,
    and proves that the squared L2 norm of the integers is at most the clip bound's (plus
    the rounding's, see ``docs/federated/index.md``).

    Attributes:
        bits: signed bits per coordinate, in [4, 32]: the grid's fineness.
        field: ``"Field64"`` (the default, with 3 proofs) or ``"Field128"`` (1 proof).
        proofs: independent proofs per report; the configuration must meet a soundness
            error of ``2^-64`` against ``2^40`` XOF calls (checked when the run starts).
        circuit: ``"pine"`` (the default: PINE's exact L2 check, an upload of about one
            field vector) or ``"bits"`` (every coordinate bit-decomposed and range-checked:
            ``bits`` field elements per coordinate, so proofs cost ``bits`` times more).
    """

    bits: int = 16
    field: str = "Field64"
    proofs: int = 3
    circuit: str = "pine"

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, int):
            raise InvalidArgument("ValidatedSettings.bits must be an int")
        if not 4 <= self.bits <= 32:
            raise InvalidArgument("ValidatedSettings.bits must be in [4, 32]")
        if self.field not in _VALIDATED_FIELDS:
            raise InvalidArgument("ValidatedSettings.field must be 'Field64' or 'Field128'")
        if isinstance(self.proofs, bool) or not isinstance(self.proofs, int):
            raise InvalidArgument("ValidatedSettings.proofs must be an int")
        if not 1 <= self.proofs <= 255:
            raise InvalidArgument("ValidatedSettings.proofs must be in [1, 255]")
        if self.circuit not in ("pine", "bits"):
            raise InvalidArgument("ValidatedSettings.circuit must be 'pine' or 'bits'")


@dataclass(frozen=True, slots=True)
class DropoutSimulation:
    """Simulated client dropouts, per protocol stage.

    Attributes:
        rates: probability that a selected client drops at each stage (independently per
            client and round, drawn from the OS CSPRNG).
        schedule: deterministic dropouts for tests: ``{round: {client_id: stage}}``; takes
            precedence over ``rates`` for the clients it names.
    """

    rates: Mapping[Stage, float] = field(default_factory=dict)
    schedule: Mapping[int, Mapping[int, Stage]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stage, rate in self.rates.items():
            if not isinstance(stage, Stage):
                raise InvalidArgument("DropoutSimulation.rates keys must be Stage members")
            if not 0.0 <= rate <= 1.0:
                raise InvalidArgument("DropoutSimulation rates must be in [0, 1]")
        for per_round in self.schedule.values():
            for stage in per_round.values():
                if not isinstance(stage, Stage):
                    raise InvalidArgument("DropoutSimulation.schedule values must be Stages")

    @property
    def active(self) -> bool:
        """Whether any client can drop."""
        return bool(self.schedule) or any(rate > 0 for rate in self.rates.values())


@dataclass(frozen=True, slots=True)
class FederatedConfig:
    """Everything that defines a federated run.

    Attributes:
        rounds: number of rounds to run (fewer if the privacy budget stops the run).
        selection: how clients are picked each round.
        aggregation: the secure-aggregation backend (masking by default).
        privacy: the DP configuration (none by default).
        clip_norm: per-client L2 bound on an update; always applied, since the encodings
            need a bound even without DP.
        server_learning_rate: eta in theta_{t+1} = theta_t + eta * mean update.
        weighting: uniform or by example counts (the latter only without DP).
        example_weight_cap: example counts are capped here and divided by it, so weights
            lie in (0, 1] and the clipping bound still holds.
        masking: SecAgg+ settings.
        paillier: Paillier settings.
        validated: validated-aggregation settings.
        dropout: simulated dropouts.
        min_clients: rounds with fewer selected clients are skipped.
        ftrl: DP-FTRL as the server optimiser (:class:`FtrlSettings`); needs central DP,
            a :class:`ParticipationSelection` and the ``zero_out`` or ``replace_one``
            relation. ``None`` (the default): DP-FedAvg.
        adversary: simulated malicious clients that skip clipping and poison their updates
            (:mod:`federated.adversary`); ``None`` (the default): every client is honest.
    """

    rounds: int
    selection: Selection
    aggregation: Aggregation = Aggregation.MASKING
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    clip_norm: float = 1.0
    server_learning_rate: float = 1.0
    weighting: Weighting = Weighting.UNIFORM
    example_weight_cap: int = 1000
    masking: MaskingSettings = field(default_factory=MaskingSettings)
    paillier: PaillierSettings = field(default_factory=PaillierSettings)
    validated: ValidatedSettings = field(default_factory=ValidatedSettings)
    dropout: DropoutSimulation = field(default_factory=DropoutSimulation)
    min_clients: int = 2
    ftrl: FtrlSettings | None = None
    adversary: Adversary | None = None

    def __post_init__(self) -> None:
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 1:
            raise InvalidArgument("FederatedConfig.rounds must be an int >= 1")
        if not isinstance(
            self.selection, (UniformSelection, PoissonSelection, ParticipationSelection)
        ):
            raise InvalidArgument(
                "FederatedConfig.selection must be Uniform/Poisson/ParticipationSelection"
            )
        _check_ftrl(self)
        if not isinstance(self.aggregation, Aggregation):
            raise InvalidArgument("FederatedConfig.aggregation must be an Aggregation")
        if not isinstance(self.weighting, Weighting):
            raise InvalidArgument("FederatedConfig.weighting must be a Weighting")
        if not (math.isfinite(self.clip_norm) and self.clip_norm > 0):
            raise InvalidArgument("FederatedConfig.clip_norm must be finite and > 0")
        if not (math.isfinite(self.server_learning_rate) and self.server_learning_rate > 0):
            raise InvalidArgument("FederatedConfig.server_learning_rate must be finite and > 0")
        if self.example_weight_cap < 1:
            raise InvalidArgument("FederatedConfig.example_weight_cap must be >= 1")
        if self.min_clients < 1:
            raise InvalidArgument("FederatedConfig.min_clients must be >= 1")
        if self.adversary is not None and not isinstance(self.adversary, Adversary):
            raise InvalidArgument("FederatedConfig.adversary must be None or an Adversary")
        if self.privacy.enabled and self.weighting is Weighting.EXAMPLES:
            raise InvalidArgument(
                "weighting by example counts breaks the DP sensitivity bound; use UNIFORM"
            )
        if self.privacy.mode is DPMode.DISTRIBUTED and self.aggregation is Aggregation.VALIDATED:
            raise InvalidArgument(
                "validated aggregation takes DPMode.CENTRAL: each of its two aggregators adds "
                "the whole noise to its share of the sum, so neither can remove it; client "
                "noise shares would have to fit inside the proven norm bound (see "
                "docs/federated/index.md)"
            )
        if self.privacy.mode is DPMode.DISTRIBUTED:
            if self.aggregation is not Aggregation.MASKING:
                raise InvalidArgument("distributed DP needs the masking aggregation")
            if not isinstance(self.selection, UniformSelection):
                raise InvalidArgument(
                    "distributed DP sizes the noise shares for a fixed cohort; use UniformSelection"
                )
            if self.masking.modulus_bits > 62:
                raise InvalidArgument("distributed DP supports modulus_bits up to 62")
            cohort = self.selection.sample_size
            colluders = self.colluders(cohort)
            tolerated = self.masking.shamir_threshold(cohort) - 1
            if colluders > tolerated:
                raise InvalidArgument(
                    f"{colluders} colluding clients: SecAgg+ with Shamir threshold "
                    f"{tolerated + 1} only hides an honest client's input from the server "
                    f"plus {tolerated} colluders; raise threshold_fraction or neighbours"
                )
            if self.honest_survivor_threshold(cohort) < 1:
                raise InvalidArgument(
                    f"with {colluders} colluders a round may complete with "
                    f"{self.survivor_threshold(cohort)} survivors and no honest one: the "
                    "released sum could carry no noise the server cannot subtract; raise "
                    "min_clients or threshold_fraction, or lower colluders"
                )

    def survivor_threshold(self, cohort_size: int) -> int:
        """The fewest clients whose inputs must be in a released sum for this cohort size.

        ``max(min_clients, ceil(threshold_fraction * cohort_size))``. A round with fewer
        survivors is skipped before anything is unmasked; under distributed DP the noise
        shares are sized for it minus the colluders (:meth:`honest_survivor_threshold`).
        """
        return max(self.min_clients, self.masking.threshold(cohort_size))

    def colluders(self, cohort_size: int) -> int:
        """Clients of a cohort assumed to collude with the server (distributed DP; else 0).

        ``privacy.colluders`` when set, else the SecAgg+ Shamir threshold minus one: as many
        corrupt clients as the masking is already assumed to tolerate.
        """
        if self.privacy.mode is not DPMode.DISTRIBUTED:
            return 0
        if self.privacy.colluders is not None:
            return self.privacy.colluders
        return self.masking.shamir_threshold(cohort_size) - 1

    def honest_survivor_threshold(self, cohort_size: int) -> int:
        """The fewest honest (non-colluding) clients in a released sum: ``n_min``.

        ``survivor_threshold(cohort_size) - colluders(cohort_size)``: under distributed DP
        each client sizes its noise share so that this many honest shares reach the target
        noise, since the colluders' shares are known to the server.
        """
        return self.survivor_threshold(cohort_size) - self.colluders(cohort_size)


_FTRL_MAX_ROUNDS = 100_000


def _check_ftrl(config: FederatedConfig) -> None:
    """DP-FTRL needs central noise, a participation schema and a relation it holds under."""
    ftrl, selection, privacy = config.ftrl, config.selection, config.privacy
    if ftrl is not None and not isinstance(ftrl, FtrlSettings):
        raise InvalidArgument("FederatedConfig.ftrl must be None or an FtrlSettings")
    participation = isinstance(selection, ParticipationSelection)
    if ftrl is None:
        if participation and privacy.enabled:
            raise InvalidArgument(
                "ParticipationSelection samples nothing, so DP-FedAvg's amplification by "
                "sampling does not apply; use DP-FTRL (FederatedConfig(ftrl=FtrlSettings()))"
            )
        return
    if not participation:
        raise InvalidArgument(
            "DP-FTRL is accounted under a participation schema: use ParticipationSelection"
        )
    if privacy.mode is not DPMode.CENTRAL:
        raise InvalidArgument(
            "DP-FTRL needs PrivacyConfig(mode=DPMode.CENTRAL): the server adds the correlated "
            "noise to the securely aggregated sum"
        )
    if privacy.neighbouring == "add_remove":
        raise InvalidArgument(
            "DP-FTRL is accounted under neighbouring='zero_out' (or 'replace_one'): without "
            "sampling, adding a client can change who else takes part in later rounds, which "
            "the participation schema's sensitivity does not cover"
        )
    if config.aggregation.value not in ("masking", "paillier", "plain_insecure"):
        raise InvalidArgument(
            "DP-FTRL runs with the masking, paillier or plain_insecure aggregation (the "
            "helper aggregator of validated aggregation does not add its noise yet)"
        )
    if config.rounds > _FTRL_MAX_ROUNDS:
        raise InvalidArgument(f"DP-FTRL supports up to {_FTRL_MAX_ROUNDS} rounds")
