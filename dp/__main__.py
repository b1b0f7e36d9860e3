"""Command line: ``python -m dp report ...`` and ``python -m dp calibrate ...``.

``report`` accounts a mechanism given by flags or by a TOML/JSON file (sampling rate, noise
multiplier, steps, delta, or a saved ledger) and prints a :class:`~dp.report.PrivacyReport`
as a table (default), JSON, Markdown or HTML; ``--plot FILE`` also writes the PNG plot.
``calibrate`` answers "what noise multiplier gives epsilon = 3?" (or, given the noise, how
many steps fit). Bad flags or files give a one-line error and exit status 2, never a
traceback. Installed as the ``fedcrypt-dp`` console script.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

PROG = "fedcrypt-dp"
EXIT_USAGE = 2

_REPORT_KEYS = {
    "sampling_rate": float,
    "noise_multiplier": float,
    "steps": int,
    "delta": float,
    "population": int,
    "target_epsilon": float,
    "privacy_unit": str,
    "sampling": str,
    "threat_model": str,
    "n_min": int,
    "min_survivors": int,
    "title": str,
    "ledger": dict,
    "ledger_file": str,
    "curve_points": int,
}


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be finite and > 0: {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Differential privacy budgets for fedcrypt runs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    rep = sub.add_parser("report", help="compute a privacy report")
    rep.add_argument("--config", metavar="FILE", help="TOML or JSON file with the settings")
    rep.add_argument("--ledger", metavar="FILE", help="a saved ledger (JSON)")
    rep.add_argument("--sampling-rate", type=_positive_float, help="Poisson rate q in (0, 1]")
    rep.add_argument("--noise-multiplier", type=_positive_float, help="Gaussian sigma / C")
    rep.add_argument("--steps", type=_positive_int, help="number of rounds (steps)")
    rep.add_argument("--delta", type=_positive_float, help="target delta (default 1e-5)")
    rep.add_argument("--population", type=_positive_int, help="N, for epsilon at delta = 1/N")
    rep.add_argument("--target-epsilon", type=_positive_float, help="the privacy budget")
    rep.add_argument("--privacy-unit", choices=("example", "client"))
    rep.add_argument("--sampling", choices=("poisson", "fixed_size", "shuffled", "full_batch"))
    rep.add_argument("--threat-model", choices=("trusted_server", "distributed"))
    rep.add_argument(
        "--n-min", type=_positive_int, help="distributed DP: survivors noise is sized for"
    )
    rep.add_argument("--min-survivors", type=_positive_int, help="distributed DP: fewest seen")
    rep.add_argument("--title", help="report title")
    rep.add_argument("--curve-points", type=_positive_int, help="rounds evaluated (default 25)")
    rep.add_argument("--no-pld", action="store_true", help="skip the (slower) PLD accountant")
    rep.add_argument("--format", choices=("table", "json", "markdown", "html"), default="table")
    rep.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    rep.add_argument("--plot", metavar="FILE", help="also write the epsilon plot as PNG")

    cal = sub.add_parser("calibrate", help="noise multiplier (or steps) for a target epsilon")
    cal.add_argument("--epsilon", type=_positive_float, required=True, help="target epsilon")
    cal.add_argument("--delta", type=_positive_float, default=1e-5)
    cal.add_argument("--sampling-rate", type=_positive_float, default=1.0)
    cal.add_argument("--steps", type=_positive_int, help="rounds: solve for the noise")
    cal.add_argument("--noise-multiplier", type=_positive_float, help="noise: solve for steps")
    cal.add_argument("--accountant", choices=("pld", "rdp"), default="pld")
    cal.add_argument("--format", choices=("table", "json"), default="table")
    return parser


# ---------------------------------------------------------------------------- config


def _load_config(path: str) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CliError(f"{path} is not UTF-8 text") from exc
    if file.suffix.lower() == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:
            raise CliError("TOML needs Python 3.11+; give the settings as JSON") from None
        try:
            data: object = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CliError(f"{path}: invalid TOML: {exc}") from exc
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CliError(f"{path}: invalid JSON: {exc.msg} (line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise CliError(f"{path}: the settings must be a table / JSON object")
    return _check_config(data, path)


def _check_config(data: Mapping[str, Any], source: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in _REPORT_KEYS:
            raise CliError(f"{source}: unknown setting {key!r}")
        kind = _REPORT_KEYS[key]
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise CliError(f"{source}: {key} must be a {kind.__name__}")
        out[key] = value
    return out


def _read_json_file(path: str) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{path}: invalid JSON: {exc}") from exc


# ---------------------------------------------------------------------------- commands


def _report(args: argparse.Namespace) -> str:
    import dp
    from dp.report import PrivacyReport, ThreatModel

    settings: dict[str, Any] = _load_config(args.config) if args.config else {}
    flags = {
        key: getattr(args, key)
        for key in _REPORT_KEYS
        if hasattr(args, key) and getattr(args, key) is not None
    }
    settings.update(flags)
    if args.ledger:
        settings["ledger_file"] = args.ledger
    if "ledger_file" in settings:
        base = Path(args.config).parent if args.config and not args.ledger else Path()
        settings["ledger"] = _read_json_file(str(base / settings.pop("ledger_file")))
    if "ledger" in settings:
        if any(k in settings for k in ("sampling_rate", "noise_multiplier", "steps")):
            raise CliError("give either a ledger or sampling rate / noise / steps, not both")
        ledger = dp.ledger_from_dict(settings["ledger"])
    else:
        missing = [k for k in ("noise_multiplier", "steps") if k not in settings]
        if missing:
            raise CliError(
                "missing "
                + ", ".join("--" + k.replace("_", "-") for k in missing)
                + " (or give --ledger / --config)"
            )
        rate = settings.get("sampling_rate", 1.0)
        gaussian = dp.Gaussian(settings["noise_multiplier"])
        event = gaussian if rate >= 1.0 else dp.PoissonSampled(rate, gaussian)
        ledger = [(event, 1)] * settings["steps"]
        settings.setdefault("sampling", "poisson" if rate < 1.0 else "full_batch")
    threat = ThreatModel(
        kind=settings.get("threat_model", "trusted_server"),
        n_min=settings.get("n_min"),
        min_survivors=settings.get("min_survivors"),
        dropouts=settings.get("threat_model") == "distributed",
    )
    report = PrivacyReport.from_ledger(
        ledger,
        delta=settings.get("delta", 1e-5),
        privacy_unit=settings.get("privacy_unit", "example"),
        sampling=settings.get("sampling", "poisson"),
        population=settings.get("population"),
        target_epsilon=settings.get("target_epsilon"),
        threat_model=threat,
        title=settings.get("title", "Privacy report"),
        curve_points=settings.get("curve_points", 25),
        tight=not args.no_pld,
    )
    if args.plot:
        png = report.plot_png()
        _write(args.plot, png)
    if args.format == "json":
        return report.to_json() + "\n"
    if args.format == "markdown":
        return report.to_markdown()
    if args.format == "html":
        return report.to_html()
    return report.to_table()


def _calibrate(args: argparse.Namespace) -> str:
    import dp

    if (args.steps is None) == (args.noise_multiplier is None):
        raise CliError("give exactly one of --steps (solve for noise) or --noise-multiplier")
    if args.steps is not None:
        sigma = dp.calibrate_noise_multiplier(
            args.epsilon,
            args.delta,
            sampling_rate=args.sampling_rate,
            steps=args.steps,
            accountant=args.accountant,
        )
        result: dict[str, Any] = {"noise_multiplier": sigma, "steps": args.steps}
    else:
        steps = dp.calibrate_steps(
            args.epsilon,
            args.delta,
            noise_multiplier=args.noise_multiplier,
            sampling_rate=args.sampling_rate,
            accountant=args.accountant,
        )
        result = {"noise_multiplier": args.noise_multiplier, "steps": steps}
    result.update(
        epsilon=args.epsilon,
        delta=args.delta,
        sampling_rate=args.sampling_rate,
        accountant=args.accountant,
    )
    if args.format == "json":
        return json.dumps(result, indent=2) + "\n"
    width = max(len(k) for k in result)
    return "".join(
        f"{k.ljust(width)}  {v:.6g}\n" if isinstance(v, float) else f"{k.ljust(width)}  {v}\n"
        for k, v in result.items()
    )


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
        raise CliError(f"cannot write {path}: {exc.strerror or exc}") from exc


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 user error, 1 internal)."""
    from dp.errors import DPError

    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        text = _report(args) if args.command == "report" else _calibrate(args)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
