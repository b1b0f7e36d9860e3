"""Command line: ``python -m dp report ...``, ``calibrate ...`` and ``audit ...``.

``report`` accounts a mechanism given by flags or by a TOML/JSON file (noise multiplier,
steps, the sampling scheme with its rate or cohort size, delta, the neighbouring relation,
or a saved ledger) and prints a :class:`~dp.report.PrivacyReport` as a table (default),
JSON, Markdown or HTML; ``--plot FILE`` also writes the PNG plot. ``calibrate`` answers
"what noise multiplier gives epsilon = 3?" (or, given the noise, how many steps fit).

The mechanism is accounted as it ran: ``--sampling fixed_size`` builds
:class:`~dp.SampledWithoutReplacement` events (never Poisson ones), and ``--steps S`` is one
ledger run ``(event, S)`` composed by counts, so any step count up to 10^12 answers in
seconds. There is no default delta: ``--delta`` (or ``delta`` in the file) is required, and
a delta above ``1/N`` for a given population ``N`` is refused. Every bad flag or file gives
one line on stderr naming the bad value and exit status 2, never a traceback. Installed as
the ``fedcrypt-dp`` console script.

``audit FILE`` reads saved :class:`~dp.audit.AuditResult` records (one, a list, or a
privacy report's ``audits``), prints each one's ``describe()`` line (or JSON) and exits
with status 1 when any of them refutes its claimed epsilon, so a pipeline can fail on it;
``--ledger FILE --delta D`` first recomputes the claim from a saved ledger.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

PROG = "fedcrypt-dp"
EXIT_USAGE = 2
EXIT_REFUTED = 1
"""``audit``: some audit's lower bound exceeds its claimed epsilon."""

MAX_FILE_BYTES = 32 * 1024 * 1024
"""Largest settings or ledger file read."""

MAX_TOML_BYTES = 1024 * 1024
"""Largest TOML settings file read (the pure-Python parser takes ~2 s per MiB)."""

MAX_COUNT = 2**53
"""Largest step count, population or cohort size accepted (exact in a float)."""

_RELATIONS = ("add_remove", "zero_out", "replace_one")
_SCHEMES = ("poisson", "fixed_size", "shuffled", "full_batch", "participation_schema")
_UNITS = ("example", "client")
_THREATS = ("trusted_server", "distributed", "two_aggregators")
_MECHANISM_KEYS = ("sampling_rate", "noise_multiplier", "steps", "sample_size")


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _show(value: object) -> str:
    """A bad value as it appears in a one-line error (long values cut short)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------- value checks
# Each takes a parsed value (from a flag or a file) and returns it checked, or raises
# ValueError with a message naming the value; the callers prefix the setting's name.


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"is too large: {_show(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"must be finite, got {_show(value)}")
    return number


def _positive(value: object) -> float:
    number = _number(value)
    if number <= 0:
        raise ValueError(f"must be > 0, got {_show(value)}")
    return number


def _rate(value: object) -> float:
    number = _number(value)
    if not 0 < number <= 1:
        raise ValueError(f"must be in (0, 1], got {_show(value)}")
    return number


def _delta(value: object) -> float:
    number = _number(value)
    if not 0 < number < 1:
        raise ValueError(f"must be in (0, 1), got {_show(value)}")
    return number


def _integer(low: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, got {_show(value)}")
        if not low <= value <= MAX_COUNT:
            raise ValueError(f"must be in [{low}, 2^53], got {_show(value)}")
        return value

    return check


def _curve_points(value: object) -> int:
    from dp.report import MAX_CURVE_POINTS

    points = _integer(2)(value)
    if points > MAX_CURVE_POINTS:
        raise ValueError(f"must be at most {MAX_CURVE_POINTS}, got {_show(value)}")
    return points


def _choice(options: Sequence[str]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"must be one of {', '.join(options)}; got {_show(value)}")
        return value

    return check


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {_show(value)}")
    return value


def _table(value: object) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("must be a table / JSON object")
    return value


_SETTINGS: dict[str, Callable[[object], Any]] = {
    "sampling_rate": _rate,
    "noise_multiplier": _positive,
    "steps": _integer(1),
    "delta": _delta,
    "population": _integer(2),
    "sample_size": _integer(1),
    "target_epsilon": _positive,
    "privacy_unit": _choice(_UNITS),
    "sampling": _choice(_SCHEMES),
    "neighbouring": _choice(_RELATIONS),
    "threat_model": _choice(_THREATS),
    "n_min": _integer(1),
    "min_survivors": _integer(1),
    "colluders": _integer(0),
    "clip_norm": _positive,
    "released": _text,
    "title": _text,
    "ledger": _table,
    "ledger_file": _text,
    "curve_points": _curve_points,
}
"""Every setting a report file may hold, with its check (flags use the same checks)."""


def _flag(check: Callable[[object], Any], kind: type) -> Callable[[str], Any]:
    """An argparse type: parse the text as ``kind``, then apply the setting's check."""

    def convert(text: str) -> Any:
        value: object = text
        if kind is int:
            digits = text.strip().lstrip("+-")
            if not digits.isascii() or not digits.isdigit():
                raise argparse.ArgumentTypeError(f"not an integer: {_show(text)}")
            if len(digits) > 20:
                raise argparse.ArgumentTypeError(f"too large: {_show(text)}")
            value = int(text)
        elif kind is float:
            try:
                value = float(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"not a number: {_show(text)}") from None
        try:
            return check(value)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Differential privacy budgets for fedcrypt runs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = _SETTINGS

    rep = sub.add_parser("report", help="compute a privacy report")
    rep.add_argument("--config", metavar="FILE", help="TOML or JSON file with the settings")
    rep.add_argument("--ledger", metavar="FILE", help="a saved ledger (JSON)")
    rep.add_argument(
        "--sampling-rate", type=_flag(s["sampling_rate"], float), help="rate q in (0, 1]"
    )
    rep.add_argument(
        "--noise-multiplier", type=_flag(s["noise_multiplier"], float), help="Gaussian sigma / C"
    )
    rep.add_argument("--steps", type=_flag(s["steps"], int), help="number of rounds (steps)")
    rep.add_argument("--delta", type=_flag(s["delta"], float), help="target delta (required)")
    rep.add_argument("--population", type=_flag(s["population"], int), help="N records or clients")
    rep.add_argument("--sample-size", type=_flag(s["sample_size"], int), help="fixed-size cohort m")
    rep.add_argument("--target-epsilon", type=_flag(s["target_epsilon"], float))
    rep.add_argument("--privacy-unit", choices=_UNITS)
    rep.add_argument("--sampling", choices=_SCHEMES, help="how participants were selected")
    rep.add_argument("--neighbouring", choices=_RELATIONS, help="default add_remove")
    rep.add_argument("--threat-model", choices=_THREATS)
    rep.add_argument(
        "--n-min", type=_flag(s["n_min"], int), help="distributed DP: survivors noise is sized for"
    )
    rep.add_argument(
        "--min-survivors", type=_flag(s["min_survivors"], int), help="distributed DP: fewest seen"
    )
    rep.add_argument(
        "--colluders", type=_flag(s["colluders"], int), help="distributed DP: colluding clients"
    )
    rep.add_argument(
        "--clip-norm", type=_flag(s["clip_norm"], float), help="L2 bound per record/client"
    )
    rep.add_argument("--released", help="what the adversary sees")
    rep.add_argument("--title", help="report title")
    rep.add_argument(
        "--curve-points", type=_flag(s["curve_points"], int), help="rounds evaluated (default 25)"
    )
    rep.add_argument("--no-pld", action="store_true", help="skip the (slower) PLD accountant")
    rep.add_argument("--format", choices=("table", "json", "markdown", "html"), default="table")
    rep.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    rep.add_argument("--plot", metavar="FILE", help="also write the epsilon plot as PNG")
    rep.add_argument(
        "--plot-inverse-n",
        action="store_true",
        help="add the delta = 1/N comparison curve to the plot",
    )

    cal = sub.add_parser("calibrate", help="noise multiplier (or steps) for a target epsilon")
    cal.add_argument("--epsilon", type=_flag(_positive, float), required=True)
    cal.add_argument("--delta", type=_flag(_delta, float), help="target delta (required)")
    cal.add_argument("--sampling-rate", type=_flag(_rate, float))
    cal.add_argument(
        "--sampling",
        choices=("poisson", "fixed_size", "full_batch"),
        help="default poisson for a rate < 1, else full_batch",
    )
    cal.add_argument(
        "--sample-size", type=_flag(_integer(1), int), help="fixed-size cohort m (of --population)"
    )
    cal.add_argument("--steps", type=_flag(_integer(1), int), help="rounds: solve for the noise")
    cal.add_argument(
        "--noise-multiplier", type=_flag(_positive, float), help="noise: solve for steps"
    )
    cal.add_argument("--neighbouring", choices=_RELATIONS, default="add_remove")
    cal.add_argument("--population", type=_flag(_integer(2), int), help="N: refuse delta > 1/N")
    cal.add_argument("--accountant", choices=("pld", "rdp"), default="pld")
    cal.add_argument("--format", choices=("table", "json"), default="table")

    aud = sub.add_parser(
        "audit",
        help="check saved audit results against their claimed epsilon (exit 1 if refuted)",
    )
    aud.add_argument(
        "file", metavar="FILE", help="an audit result, a list of them, or a privacy report (JSON)"
    )
    aud.add_argument(
        "--ledger",
        metavar="FILE",
        help="recompute the claimed epsilon from this saved ledger (needs --delta)",
    )
    aud.add_argument(
        "--delta", type=_flag(_delta, float), help="with --ledger: the audits' delta (required)"
    )
    aud.add_argument("--format", choices=("text", "json"), default="text")
    return parser


# ---------------------------------------------------------------------------- files


def _read_bytes(path: str) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CliError(f"{path} is larger than {MAX_FILE_BYTES} bytes")
    return data


def _load_json(path: str) -> object:
    from dp._bounded_json import loads_bounded
    from dp.errors import SerializationError

    try:
        return loads_bounded(_read_bytes(path), what=path)
    except SerializationError as exc:
        raise CliError(str(exc)) from None


def _load_toml(path: str) -> object:
    try:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # the backport, installed with fedcrypt on Python 3.10
            import tomli as tomllib
    except ModuleNotFoundError:
        raise CliError(
            "TOML on Python 3.10 needs tomli: pip install tomli (or give the settings as JSON)"
        ) from None

    from dp._bounded_json import check_depth
    from dp.errors import SerializationError

    raw = _read_bytes(path)
    if len(raw) > MAX_TOML_BYTES:
        raise CliError(
            f"{path} is larger than {MAX_TOML_BYTES} bytes of TOML (the parser is slow): "
            "give a large ledger as a JSON ledger_file"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    try:
        data: object = tomllib.loads(text)
        check_depth(data, what=path)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path}: invalid TOML: {exc}") from None
    except SerializationError as exc:
        raise CliError(str(exc)) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer over Python's digit limit
        raise CliError(f"{path}: invalid TOML: {type(exc).__name__}") from None
    return data


def _load_config(path: str) -> dict[str, Any]:
    data = _load_toml(path) if Path(path).suffix.lower() == ".toml" else _load_json(path)
    if not isinstance(data, dict):
        raise CliError(f"{path}: the settings must be a table / JSON object")
    return _check_config(data, path)


def _check_config(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        check = _SETTINGS.get(key)
        if check is None:
            raise CliError(f"{source}: unknown setting {_show(key)}")
        try:
            out[key] = check(value)
        except ValueError as error:
            raise CliError(f"{source}: {key} {error}") from None
    return out


# ---------------------------------------------------------------------------- commands


def _check_delta_population(delta: float, population: int | None) -> None:
    if population is not None and delta > 1.0 / population:
        raise CliError(
            f"delta = {delta:.3g} exceeds 1/N = {1.0 / population:.3g} for N = {population}: "
            "a mechanism could reveal one record outright with probability delta; choose "
            "delta <= 1/N"
        )


def _cohort_size(settings: Mapping[str, Any], population: int) -> int:
    """The fixed cohort size m: ``--sample-size``, or ``ceil(q N)`` from the rate.

    Rounding up is conservative: a larger cohort is a larger sampling fraction.
    """
    size = settings.get("sample_size")
    rate = settings.get("sampling_rate")
    derived = None if rate is None else math.ceil(Fraction(repr(rate)) * population)
    if size is None and derived is None:
        raise CliError("--sampling fixed_size needs --sample-size (or --sampling-rate)")
    if size is not None and derived is not None and size != derived:
        raise CliError(
            f"--sample-size {size} and --sampling-rate {rate} disagree for N = {population} "
            f"(ceil(q N) = {derived}): give one of them"
        )
    m = size if size is not None else derived
    assert m is not None
    if m > population:
        raise CliError(f"the cohort size {m} exceeds the population {population}")
    return m


def _mechanism_ledger(settings: dict[str, Any]) -> list[tuple[Any, int]]:
    """``[(event, steps)]`` for the mechanism given by flags or settings."""
    import dp

    missing = [k for k in ("noise_multiplier", "steps") if k not in settings]
    if missing:
        raise CliError(
            "missing "
            + ", ".join("--" + k.replace("_", "-") for k in missing)
            + " (or give --ledger / --config)"
        )
    rate = settings.get("sampling_rate")
    if "sampling" not in settings:
        if "sample_size" in settings:
            settings["sampling"] = "fixed_size"
        else:
            settings["sampling"] = "poisson" if rate is not None and rate < 1 else "full_batch"
    sampling = settings["sampling"]
    if "sample_size" in settings and sampling != "fixed_size":
        raise CliError(f"--sample-size applies to --sampling fixed_size, not {sampling}")
    gaussian = dp.Gaussian(settings["noise_multiplier"])
    event: dp.DpEvent
    if sampling == "fixed_size":
        population = settings.get("population")
        if population is None:
            raise CliError("--sampling fixed_size needs --population N")
        event = dp.SampledWithoutReplacement(
            population, _cohort_size(settings, population), gaussian
        )
    elif sampling == "poisson":
        if rate is None:
            raise CliError("--sampling poisson needs --sampling-rate")
        event = gaussian if rate >= 1 else dp.PoissonSampled(rate, gaussian)
    elif sampling == "full_batch":
        if rate is not None and rate < 1:
            raise CliError(f"--sampling full_batch contradicts --sampling-rate {rate}")
        event = gaussian
    elif sampling == "participation_schema":
        raise CliError(
            "--sampling participation_schema describes a DP-FTRL run: give its saved ledger "
            "(--ledger), whose entries carry the strategy's sensitivity under the schema"
        )
    else:
        raise CliError(
            "no accountant bounds shuffled selection: give --sampling poisson or fixed_size, "
            "or a saved ledger"
        )
    return [(event, settings["steps"])]


def _ledger_sampling(ledger: Sequence[tuple[Any, int]]) -> str:
    """The selection a ledger's events describe, when ``--sampling`` does not say."""
    import dp

    def kinds(event: Any) -> set[type]:
        found = {type(event)}
        for inner in getattr(event, "events", ()):
            found |= kinds(inner)
        if hasattr(event, "event"):
            found |= kinds(event.event)
        return found

    seen: set[type] = set()
    for event, _ in ledger:
        seen |= kinds(event)
    if dp.MatrixFactorizationGaussian in seen:
        return "participation_schema"
    if dp.SampledWithoutReplacement in seen:
        return "fixed_size"
    if dp.PoissonSampled in seen:
        return "poisson"
    return "full_batch"


def _report(args: argparse.Namespace) -> tuple[str, bytes | None]:
    import dp
    from dp.report import DEFAULT_RELEASED, PrivacyReport, ThreatModel

    settings: dict[str, Any] = _load_config(args.config) if args.config else {}
    flags = {
        key: getattr(args, key)
        for key in _SETTINGS
        if key not in ("ledger", "ledger_file") and getattr(args, key, None) is not None
    }
    settings.update(flags)
    if args.ledger:
        settings["ledger_file"] = args.ledger
    if "ledger_file" in settings:
        base = Path(args.config).parent if args.config and not args.ledger else Path()
        settings["ledger"] = _load_json(str(base / settings.pop("ledger_file")))
    if "delta" not in settings:
        raise CliError("missing --delta (or delta in the settings file): there is no default")
    delta = settings["delta"]
    population = settings.get("population")
    _check_delta_population(delta, population)
    if "ledger" in settings:
        clash = [k for k in _MECHANISM_KEYS if k in settings]
        if clash:
            raise CliError(
                "give either a ledger or the mechanism, not both (got "
                + ", ".join(clash)
                + " with a ledger)"
            )
        ledger = dp.ledger_from_dict(settings["ledger"])
        relation = settings.get("neighbouring", dp.ledger_neighbouring(settings["ledger"]))
        noise_multiplier = None
        settings.setdefault("sampling", _ledger_sampling(ledger))
    else:
        ledger = _mechanism_ledger(settings)
        relation = settings.get("neighbouring", "add_remove")
        noise_multiplier = settings["noise_multiplier"]
    kind = settings.get("threat_model", "trusted_server")
    threat = ThreatModel(
        kind=kind,
        n_min=settings.get("n_min"),
        min_survivors=settings.get("min_survivors"),
        dropouts=kind == "distributed",
        colluders=settings.get("colluders"),
    )
    report = PrivacyReport.from_ledger(
        ledger,
        delta=delta,
        privacy_unit=settings.get("privacy_unit", "example"),
        neighbouring=relation,
        sampling=settings.get("sampling", "poisson"),
        population=population,
        target_epsilon=settings.get("target_epsilon"),
        threat_model=threat,
        clip_norm=settings.get("clip_norm"),
        noise_multiplier=noise_multiplier,
        released=settings.get("released", DEFAULT_RELEASED),
        title=settings.get("title", "Privacy report"),
        curve_points=settings.get("curve_points", 25),
        tight=not args.no_pld,
    )
    png = report.plot_png(include_inverse_n=args.plot_inverse_n) if args.plot else None
    if args.format == "json":
        return report.to_json() + "\n", png
    if args.format == "markdown":
        return report.to_markdown(), png
    if args.format == "html":
        return report.to_html(include_inverse_n=args.plot_inverse_n), png
    return report.to_table(), png


def _calibrate(args: argparse.Namespace) -> str:
    import json

    import dp

    if args.delta is None:
        raise CliError("missing --delta: there is no default")
    _check_delta_population(args.delta, args.population)
    if (args.steps is None) == (args.noise_multiplier is None):
        raise CliError("give exactly one of --steps (solve for noise) or --noise-multiplier")
    rate = args.sampling_rate
    sampling = args.sampling or (
        "fixed_size"
        if args.sample_size is not None
        else "poisson"
        if rate is not None and rate < 1
        else "full_batch"
    )
    if args.sample_size is not None and sampling != "fixed_size":
        raise CliError(f"--sample-size applies to --sampling fixed_size, not {sampling}")
    result: dict[str, Any]
    if sampling == "fixed_size":
        result = _calibrate_fixed_size(args)
    else:
        if sampling == "poisson" and rate is None:
            raise CliError("--sampling poisson needs --sampling-rate")
        if sampling == "full_batch" and rate is not None and rate < 1:
            raise CliError(f"--sampling full_batch contradicts --sampling-rate {rate}")
        rate = 1.0 if rate is None else rate
        if args.steps is not None:
            sigma = dp.calibrate_noise_multiplier(
                args.epsilon,
                args.delta,
                sampling_rate=rate,
                steps=args.steps,
                accountant=args.accountant,
                neighbouring=args.neighbouring,
            )
            result = {"noise_multiplier": sigma, "steps": args.steps}
        else:
            steps = dp.calibrate_steps(
                args.epsilon,
                args.delta,
                noise_multiplier=args.noise_multiplier,
                sampling_rate=rate,
                accountant=args.accountant,
                neighbouring=args.neighbouring,
            )
            result = {"noise_multiplier": args.noise_multiplier, "steps": steps}
        result.update(sampling=sampling, sampling_rate=rate)
    result.update(
        epsilon=args.epsilon,
        delta=args.delta,
        neighbouring=args.neighbouring,
        accountant=args.accountant,
    )
    if args.format == "json":
        return json.dumps(result, indent=2) + "\n"
    width = max(len(k) for k in result)
    return "".join(
        f"{k.ljust(width)}  {v:.6g}\n" if isinstance(v, float) else f"{k.ljust(width)}  {v}\n"
        for k, v in result.items()
    )


def _calibrate_fixed_size(args: argparse.Namespace) -> dict[str, Any]:
    """Calibrate a fixed-size cohort of m out of N, accounted as it runs, and verify it.

    ``dp.calibrate_noise_multiplier`` / ``dp.calibrate_steps`` take the cohort directly
    (under add/remove it is the displacement pair, :mod:`dp.neighbouring`); the answer is
    then composed once more so the output shows the epsilon it was checked at.
    """
    import dp

    population = args.population
    if population is None:
        raise CliError("--sampling fixed_size needs --population N")
    settings = {"sample_size": args.sample_size, "sampling_rate": args.sampling_rate}
    m = _cohort_size({k: v for k, v in settings.items() if v is not None}, population)
    cohort = {"population": population, "sample_size": m}
    if args.steps is not None:
        sigma = dp.calibrate_noise_multiplier(
            args.epsilon,
            args.delta,
            steps=args.steps,
            accountant=args.accountant,
            neighbouring=args.neighbouring,
            **cohort,
        )
        steps = args.steps
    else:
        sigma = args.noise_multiplier
        steps = dp.calibrate_steps(
            args.epsilon,
            args.delta,
            noise_multiplier=sigma,
            accountant=args.accountant,
            neighbouring=args.neighbouring,
            **cohort,
        )
    event = dp.SampledWithoutReplacement(population, m, dp.Gaussian(sigma))
    accountant: dp.PrivacyAccountant = (
        dp.PldAccountant(neighbouring=args.neighbouring)
        if args.accountant == "pld"
        else dp.RdpAccountant(neighbouring=args.neighbouring)
    )
    epsilon = accountant.compose(event, steps).get_epsilon(args.delta)
    if epsilon > args.epsilon:  # pragma: no cover - the calibration checks it already
        raise CliError(f"the fixed-size answer did not verify (epsilon {epsilon:.6g})")
    return {
        "noise_multiplier": sigma,
        "steps": steps,
        "sampling": "fixed_size",
        "population": population,
        "sample_size": m,
        "epsilon_verified": epsilon,
    }


def _load_audits(path: str) -> list[Any]:
    """The :class:`~dp.audit.AuditResult` records a file holds, each validated.

    The file is one record, a JSON list of records, or a privacy report (its ``audits``,
    after the whole report is validated); read through :mod:`dp._bounded_json`.
    """
    from dp.audit import AuditResult
    from dp.errors import SerializationError
    from dp.report import MAX_AUDITS, PrivacyReport

    data = _load_json(path)
    try:
        if isinstance(data, dict) and data.get("type") == "privacy_report":
            audits = list(PrivacyReport.from_dict(data).audits)
        elif isinstance(data, list):
            if len(data) > MAX_AUDITS:
                raise CliError(f"{path} holds more than {MAX_AUDITS} audit results")
            audits = [AuditResult.from_dict(item) for item in data]
        elif isinstance(data, dict):
            audits = [AuditResult.from_dict(data)]
        else:
            raise CliError(
                f"{path}: expected an audit result, a list of them or a privacy report, "
                f"got a JSON {type(data).__name__}"
            )
    except SerializationError as exc:
        raise CliError(f"{path}: {exc}") from None
    if not audits:
        raise CliError(f"{path} holds no audit results: nothing to check")
    return audits


def _ledger_claim(path: str, delta: float) -> tuple[float, str]:
    """The epsilon a privacy report states for a saved ledger at ``delta``, and its relation.

    The same accounting as ``report`` (PLD where it applies, else RDP, composed by counts),
    under the relation the ledger was written under.
    """
    import dp
    from dp.report import PrivacyReport

    raw = _load_json(path)
    ledger = dp.ledger_from_dict(raw)
    relation = dp.ledger_neighbouring(raw)
    epsilon = PrivacyReport.from_ledger(
        ledger, delta=delta, neighbouring=relation, curve_points=2
    ).epsilon
    if not math.isfinite(epsilon):
        raise CliError(f"{path}: the ledger's epsilon at delta {delta:g} is infinite")
    return epsilon, relation


def _audit(args: argparse.Namespace) -> tuple[str, str | None]:
    """The ``audit`` command's output, and the line for stderr when a claim is refuted."""
    import dataclasses
    import json

    audits = _load_audits(args.file)
    head = ""
    if args.ledger is None:
        if args.delta is not None:
            raise CliError("--delta applies with --ledger (an audit states its own delta)")
    else:
        if args.delta is None:
            raise CliError("--ledger needs --delta (the delta the audits are stated at)")
        for audit in audits:
            if not math.isclose(audit.delta, args.delta, rel_tol=1e-9):
                raise CliError(
                    f"an audit is stated at delta {audit.delta:g}, not --delta {args.delta:g}: "
                    "a lower bound and a claim compare only at one delta"
                )
        claim, relation = _ledger_claim(args.ledger, args.delta)
        audits = [dataclasses.replace(audit, claimed_epsilon=claim) for audit in audits]
        head = (
            f"claimed epsilon {claim:.4g} at delta {args.delta:g}, recomputed from "
            f"{args.ledger} under {relation}\n"
        )
    from dp.report import REFUTED_WARNING

    refuted = sum(audit.violation for audit in audits)
    alarm = (
        f"CLAIM REFUTED by {refuted} of {len(audits)} audit{'' if len(audits) == 1 else 's'}: "
        f"{REFUTED_WARNING}"
        if refuted
        else None
    )
    if args.format == "json":
        return json.dumps([audit.to_dict() for audit in audits], indent=2) + "\n", alarm
    return head + "".join(audit.describe() + "\n" for audit in audits), alarm


def _write(path: str, data: bytes | str) -> None:
    """Write to a temporary sibling and rename: never a partial file."""
    target = Path(path)
    temp = target.with_name(target.name + ".partial")
    try:
        if isinstance(data, str):
            temp.write_text(data, encoding="utf-8")
        else:
            temp.write_bytes(data)
        temp.replace(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    0 on success, 2 on a user error (one line on stderr), 1 when ``audit`` finds a refuted
    claim (one line on stderr saying so) or on an internal error.
    """
    from dp.errors import DPError

    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2, one line printed)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        png = None
        alarm = None
        if args.command == "report":
            text, png = _report(args)
        elif args.command == "audit":
            text, alarm = _audit(args)
        else:
            text = _calibrate(args)
        # Everything is computed before anything is written.
        if png is not None:
            _write(args.plot, png)
        if getattr(args, "output", None):
            _write(args.output, text)
        else:
            sys.stdout.write(text)
    except (CliError, DPError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"{PROG} {args.command}: error: {message}\n")
        return EXIT_USAGE
    except Exception as exc:  # the CLI promises no tracebacks
        sys.stderr.write(f"{PROG} {args.command}: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    if alarm is not None:
        sys.stderr.write(f"{PROG} {args.command}: {alarm}\n")
        return EXIT_REFUTED
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
