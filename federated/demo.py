"""The fedcrypt demo: ``python -m federated.demo`` (what ``make demo`` runs).

Part 1 reproduces the seed's example, federated: y = 2x + noise spread over 100 clients, a
``torch.nn.Linear(1, 1)`` trained with SecAgg+ masking and distributed DP, next to the truth
and a plain (insecure, non-private) FedAvg baseline. Part 2 trains a small MLP on
scikit-learn's digits split non-IID over 100 clients, comparing plain FedAvg, masking only,
and masking with distributed DP on accuracy and epsilon, and repeats the private run with
canary clients (:mod:`federated.audit`) to print the empirical audit of its epsilon. The
privacy report of the private linear run is written as JSON, Markdown, HTML and PNG to the
output folder. ``--poisoning`` adds part 3 (off by default: its validated run proves every
update, about 30 s of CPU): 10% of the line's clients replace the model, unseen under
masking, rejected under validated aggregation (:mod:`federated.adversary`).

The private runs' epsilons are those of the corrected accounting: a client added to a
fixed-size cohort displaces another, so under add/remove each round is the Poisson-sampled
mechanism at twice the sensitivity, and clients that may collude with the server (by default
as many as SecAgg+ tolerates) are assumed to subtract their own noise shares; the distributed
discrete Gaussian is accounted by the tight PLD (with a certified lower bound) where it was
accounted by RDP. The first raises epsilon, the second lowers it: the demo prints the figure
earlier releases printed, what that configuration costs now, and what the run spends.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import dp
from federated._demo_data import (
    TRUE_BIAS,
    TRUE_WEIGHT,
    make_digits_task,
    make_linear_task,
)
from federated._privacy import PrivacyTracker
from federated.adversary import Adversary, Attack
from federated.audit import AuditConfig
from federated.config import (
    Aggregation,
    DPMode,
    DropoutSimulation,
    FederatedConfig,
    MaskingSettings,
    PrivacyConfig,
    Stage,
    UniformSelection,
)
from federated.history import History, RoundStatus
from federated.runner import run
from federated.torch import initial_parameters

__all__ = ["main"]

DELTA = 1e-4
"""Delta of every private run: well below 1 / (number of clients) = 0.01."""

SECAGG_PLUS = MaskingSettings(neighbours=10, threshold_fraction=0.6, modulus_bits=32)
"""SecAgg+ with 10 neighbours per client; 60% of a neighbourhood must survive to unmask.

Its Shamir threshold is 7 of a neighbourhood of 11, so up to 6 clients colluding with the
server are tolerated by the masking, and assumed by the distributed DP accounting."""

LINEAR_NOISE = 3.0
"""Noise multiplier of the private linear run (3.0 before the accounting was corrected)."""

DIGITS_NOISE = 2.0
"""Noise multiplier of the private digits run (1.0 with 30 clients before the correction)."""

DIGITS_COHORT = 50
"""Clients per digits round: a larger cohort carries the larger noise at the same accuracy."""

DIGITS_CANARIES = 20
"""Canary directions of the audited digits run; about half join its 100 clients.

The model has 2,410 parameters, so 20 random directions stay nearly orthogonal. So few
canaries certify nothing at this size (the bound is 0; it needs hundreds of canaries and a
large population), but they show the audit next to the claim at no accuracy cost visible
over the run-to-run spread; 50 or 100 canaries in 100 clients take cohort slots from real
clients and cost 10 to 25 points of accuracy (docs/federated/index.md)."""


@dataclass(frozen=True)
class Earlier:
    """A private run as configured, and reported, before the accounting was corrected.

    Attributes:
        noise_multiplier: its noise multiplier.
        cohort: its clients per round.
        rounds: its rounds (the demo's default).
        reported: the epsilon earlier releases reported for it (fedcrypt 0.1, ``make demo``).
    """

    noise_multiplier: float
    cohort: int
    rounds: int
    reported: float


POISON_TARGET = (-2.0, 1.0)
"""``--poisoning``: the line (weight, bias) the poisoners want; the truth is (2, 0)."""

EARLIER_LINEAR = Earlier(noise_multiplier=3.0, cohort=30, rounds=30, reported=5.66)
EARLIER_DIGITS = Earlier(noise_multiplier=1.0, cohort=30, rounds=20, reported=11.6)


@dataclass(frozen=True)
class Outcome:
    """One demo run, summarised."""

    name: str
    history: History
    seconds: float

    @property
    def epsilon(self) -> float | None:
        """The run's final epsilon (``None`` without DP)."""
        return self.history.final_epsilon


def _timed(
    name: str,
    config: FederatedConfig,
    clients: Any,
    start: Any,
    evaluate: Any,
    audit: AuditConfig | None = None,
) -> Outcome:
    began = time.perf_counter()
    history = run(config, clients, start, evaluate=evaluate, audit=audit)
    return Outcome(name, history, time.perf_counter() - began)


def _epsilon_text(epsilon: float | None) -> str:
    return "none (not private)" if epsilon is None else f"{epsilon:.2f} (delta = {DELTA:g})"


def _linear_part(rounds: int) -> tuple[Outcome, Outcome]:
    task = make_linear_task(n_clients=100)
    start = initial_parameters(task.model_fn)
    cohort = UniformSelection(30)
    plain = FederatedConfig(
        rounds=rounds,
        selection=cohort,
        aggregation=Aggregation.PLAIN_INSECURE,
        clip_norm=0.2,
    )
    private = FederatedConfig(
        rounds=rounds,
        selection=cohort,
        aggregation=Aggregation.MASKING,
        masking=SECAGG_PLUS,
        clip_norm=0.2,
        privacy=PrivacyConfig(mode=DPMode.DISTRIBUTED, noise_multiplier=LINEAR_NOISE, delta=DELTA),
        dropout=DropoutSimulation(rates={Stage.SHARE_KEYS: 0.03, Stage.UNMASK: 0.03}),
    )
    baseline = _timed("plain_insecure FedAvg", plain, task.clients, start, task.evaluate)
    secure = _timed("SecAgg+ masking + distributed DP", private, task.clients, start, task.evaluate)
    return baseline, secure


def _digits_part(rounds: int) -> tuple[list[Outcome], Outcome]:
    """The three digits runs of the table, and the private one again with canaries."""
    task = make_digits_task(n_clients=100)
    start = initial_parameters(task.model_fn)
    cohort = UniformSelection(DIGITS_COHORT)
    common: dict[str, Any] = {"rounds": rounds, "selection": cohort, "clip_norm": 1.0}
    configs = [
        (
            "plain FedAvg (plain_insecure)",
            FederatedConfig(aggregation=Aggregation.PLAIN_INSECURE, **common),
        ),
        ("SecAgg+ masking only", FederatedConfig(masking=SECAGG_PLUS, **common)),
        (
            "SecAgg+ masking + distributed DP",
            FederatedConfig(
                masking=SECAGG_PLUS,
                privacy=PrivacyConfig(
                    mode=DPMode.DISTRIBUTED, noise_multiplier=DIGITS_NOISE, delta=DELTA
                ),
                **common,
            ),
        ),
    ]
    outcomes = [_timed(name, cfg, task.clients, start, task.evaluate) for name, cfg in configs]
    audited = _timed(
        f"  + {DIGITS_CANARIES} canary clients (audit)",
        configs[-1][1],
        task.clients,
        start,
        task.evaluate,
        audit=AuditConfig(canaries=DIGITS_CANARIES),
    )
    return outcomes, audited


def _poisoning_part(rounds: int) -> list[Outcome]:
    """``--poisoning``: 10% of the line's clients replace the model (Bagdasaryan et al. 2020).

    The malicious clients (drawn per run with the OS CSPRNG) skip clipping and send
    ``n / (eta m) * (target - theta)``; under masking it goes into the sum unseen, under
    validated aggregation its proof fails and it is rejected (docs/federated/poisoning.md).
    """
    task = make_linear_task(n_clients=100)
    start = initial_parameters(task.model_fn)
    poisoners = Adversary(0.1, Attack.REPLACE, target=np.array(POISON_TARGET))
    common: dict[str, Any] = {"rounds": rounds, "selection": UniformSelection(30), "clip_norm": 0.2}
    runs = [
        ("no attack, SecAgg+ masking", Aggregation.MASKING, None),
        ("10% poisoners, SecAgg+ masking", Aggregation.MASKING, poisoners),
        ("10% poisoners, validated", Aggregation.VALIDATED, poisoners),
    ]
    return [
        _timed(
            name,
            FederatedConfig(aggregation=aggregation, adversary=adversary, **common),
            task.clients,
            start,
            task.evaluate,
        )
        for name, aggregation, adversary in runs
    ]


def _print_poisoning(outcomes: Sequence[Outcome]) -> None:
    target = ", ".join(f"{v:g}" for v in POISON_TARGET)
    print(f"\nPart 3: 10% of the line's clients poison it, replacing the model with ({target})")
    print(f"{'':32} {'weight':>7} {'bias':>6} {'sent':>5} {'rejected':>8} {'in sum':>6} {'s':>4}")
    for outcome in outcomes:
        records = outcome.history.records
        weight, bias = outcome.history.parameters
        print(
            f"{outcome.name:32} {weight:7.3f} {bias:6.3f} {sum(r.attackers for r in records):5d} "
            f"{sum(r.rejected for r in records):8d} {sum(r.attackers_in_sum for r in records):6d} "
            f"{outcome.seconds:4.0f}"
        )
    print(
        "sent: poisoned updates uploaded; rejected: reports whose proof of a bounded update "
        "failed;\nin sum: poisoned updates in the released sums (docs/federated/poisoning.md)"
    )


def _print_linear(baseline: Outcome, secure: Outcome) -> float:
    print("\nPart 1: y = 2x + noise over 100 clients, torch.nn.Linear(1, 1)")
    print(f"{'':36} {'weight':>8} {'bias':>8} {'seconds':>8}")
    print(f"{'truth':36} {TRUE_WEIGHT:8.3f} {TRUE_BIAS:8.3f}")
    for outcome in (baseline, secure):
        weight, bias = outcome.history.parameters
        print(f"{outcome.name:36} {weight:8.3f} {bias:8.3f} {outcome.seconds:8.1f}")
    skipped = secure.history.skipped_rounds
    print(
        f"private run: {secure.history.completed_rounds} rounds completed, {skipped} skipped "
        f"(simulated dropouts), epsilon spent {_epsilon_text(secure.epsilon)}"
    )
    _print_tight(secure.history)
    return _print_correction(secure.history, EARLIER_LINEAR)


def _print_tight(history: History) -> None:
    """Say which accountant gave the epsilon: the tight PLD, with its lower bound and the RDP."""
    accountant = history.privacy.accountant
    if not isinstance(accountant, dp.PldAccountant) or not accountant.ledger:
        return
    lower = accountant.get_epsilon(DELTA, bound="lower")
    rdp = dp.RdpAccountant(neighbouring=accountant.neighbouring).compose_ledger(accountant.ledger)
    print(
        f"  tight (PLD) accounting of the distributed discrete Gaussian: certified between "
        f"{lower:.2f} and {accountant.get_epsilon(DELTA):.2f}; the RDP route says "
        f"{rdp.get_epsilon(DELTA):.2f}"
    )


def _print_digits(outcomes: Sequence[Outcome], audited: Outcome) -> float:
    print("\nPart 2: scikit-learn digits, non-IID (2 digits per client), 100 clients, MLP")
    print(f"{'':36} {'accuracy':>9} {'epsilon':>9} {'seconds':>8}")
    for outcome in outcomes:
        _print_row(outcome)
    corrected = _print_correction(outcomes[-1].history, EARLIER_DIGITS)
    print("The private run again, audited by canary clients (extra clients, so they cost some")
    print("accuracy, and they join the population the accountant counts):")
    _print_row(audited)
    audit = audited.history.audit
    assert audit is not None
    joined = audited.history.privacy.population - outcomes[-1].history.privacy.population
    print(f"  {joined} of the {audit.canaries} canaries joined; audit: {audit.describe()}")
    return corrected


def _print_row(outcome: Outcome) -> None:
    accuracy = outcome.history.metric("accuracy")[-1]
    epsilon = "-" if outcome.epsilon is None else f"{outcome.epsilon:.2f}"
    print(f"{outcome.name:36} {accuracy:9.3f} {epsilon:>9} {outcome.seconds:8.1f}")


def earlier_config_epsilon(history: History, earlier: Earlier) -> tuple[float, str]:
    """What the earlier configuration costs under the corrected accounting.

    The run's own configuration with the earlier noise multiplier and cohort, accounted
    for the same number of completed rounds, each with as many survivors as the run had
    (scaled to the earlier cohort when it differs): the accountant alone, no training.
    Returns the epsilon and which accountant gave it.
    """
    config = history.config
    earlier_config = dataclasses.replace(
        config,
        selection=UniformSelection(earlier.cohort),
        privacy=dataclasses.replace(config.privacy, noise_multiplier=earlier.noise_multiplier),
    )
    tracker = PrivacyTracker(
        earlier_config, history.privacy.population, history.privacy.vector_length
    )
    selection = config.selection
    assert isinstance(selection, UniformSelection)
    for record in history.records:
        if record.status is RoundStatus.COMPLETED:
            lost = selection.sample_size - record.survivors
            tracker.record_round(max(earlier.cohort - lost, tracker.n_min + tracker.colluders))
    epsilon = tracker.epsilon()
    assert epsilon is not None
    name = "tight PLD" if isinstance(tracker.accountant, dp.PldAccountant) else "RDP"
    return epsilon, name


def _print_correction(history: History, earlier: Earlier) -> float:
    """Say why the epsilon differs from the one earlier releases printed, in numbers.

    Returns the corrected epsilon of the earlier configuration.
    """
    privacy = history.privacy
    corrected, accountant = earlier_config_epsilon(history, earlier)
    spent = history.final_epsilon
    assert spent is not None
    rounds = history.completed_rounds
    before = (
        f"earlier releases reported epsilon {earlier.reported:.2f} for this run"
        if rounds == earlier.rounds
        else f"earlier releases printed epsilon {earlier.reported:.2f} for {earlier.rounds} rounds"
    )
    z = history.config.privacy.noise_multiplier
    print(
        f"  Corrected accounting: {before},\n"
        f"  at noise multiplier {earlier.noise_multiplier:g} with {earlier.cohort} clients "
        "per round; correctly accounted, that configuration\n"
        f"  costs {corrected:.2f} over these {rounds} rounds ({accountant}). "
        "A client added to a fixed-size\n"
        "  cohort displaces another (twice the sensitivity under add/remove), and up to "
        f"{privacy.colluders} clients\n"
        "  colluding with the server (as many as SecAgg+ tolerates) may subtract their own "
        "noise\n"
        "  shares, which cost more; the tight PLD of the distributed discrete Gaussian "
        "(earlier: RDP)\n"
        f"  costs less. This run: noise multiplier {z:g}, {_cohort(history)} clients per "
        f"round, epsilon {spent:.2f}."
    )
    return corrected


def _cohort(history: History) -> int:
    selection = history.config.selection
    assert isinstance(selection, UniformSelection)
    return selection.sample_size


def _summary(
    linear: tuple[Outcome, Outcome],
    digits: Sequence[Outcome],
    audited: Outcome,
    corrected: tuple[float, float],
) -> dict[str, Any]:
    def describe(outcome: Outcome) -> dict[str, Any]:
        return {
            "name": outcome.name,
            "seconds": outcome.seconds,
            "final_parameters": np.asarray(outcome.history.parameters).tolist()
            if outcome.history.parameters.size <= 2
            else None,
            "history": outcome.history.to_dict(),
        }

    return {
        "delta": DELTA,
        "linear": {
            "truth": {"weight": TRUE_WEIGHT, "bias": TRUE_BIAS},
            "runs": [describe(o) for o in linear],
        },
        "digits": {"runs": [describe(o) for o in digits], "audited_run": describe(audited)},
        "accounting_correction": {
            "why": (
                "fixed-size cohorts under add/remove are accounted as the displacement pair "
                "(twice the sensitivity), and distributed DP counts only the honest "
                "survivors' noise shares (colluders as many as SecAgg+ tolerates)"
            ),
            "linear": _correction(EARLIER_LINEAR, corrected[0]),
            "digits": _correction(EARLIER_DIGITS, corrected[1]),
        },
    }


def _correction(earlier: Earlier, corrected: float) -> dict[str, Any]:
    return {
        "earlier_noise_multiplier": earlier.noise_multiplier,
        "earlier_cohort": earlier.cohort,
        "earlier_rounds": earlier.rounds,
        "earlier_reported_epsilon": earlier.reported,
        "earlier_configuration_corrected_epsilon": corrected,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; return the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m federated.demo", description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("fedcrypt-output"))
    parser.add_argument("--linear-rounds", type=int, default=30)
    parser.add_argument("--digits-rounds", type=int, default=20)
    parser.add_argument(
        "--poisoning",
        action="store_true",
        help="also run part 3: 10%% of the line's clients poison it, masking vs validated",
    )
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # tiny models: threads only add contention
    torch.manual_seed(0)  # reproducible model initialisation (not a security parameter)
    began = time.perf_counter()
    print("fedcrypt demo: federated learning whose server only sees masked sums")

    linear = _linear_part(args.linear_rounds)
    corrected_linear = _print_linear(*linear)
    digits, audited = _digits_part(args.digits_rounds)
    corrected_digits = _print_digits(digits, audited)
    if args.poisoning:
        _print_poisoning(_poisoning_part(args.linear_rounds))

    output: Path = args.output
    output.mkdir(parents=True, exist_ok=True)
    summary = output / "summary.json"
    summary.write_text(
        json.dumps(
            _summary(linear, digits, audited, (corrected_linear, corrected_digits)), indent=2
        )
        + "\n"
    )
    written = [summary, *_write_report(linear[1].history, output)]
    print(f"\nfinished in {time.perf_counter() - began:.0f} s; files written:")
    for path in written:
        print(f"  {path}")
    return 0


def _write_report(history: History, output: Path) -> list[Path]:
    """The privacy report of the private linear run, in every format."""
    return history.write_privacy_report(
        output,
        title="fedcrypt demo: y = 2x, SecAgg+ masking with distributed DP, 100 clients",
    )


if __name__ == "__main__":
    sys.exit(main())
