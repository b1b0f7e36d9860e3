"""Aggregate clients' MetricRecords the way Flower's FedAvg does: a weighted mean.

Each reply carries one :class:`~flwr.app.MetricRecord` holding a weight (by default
``num-examples``); every other entry is averaged with those weights (lists element-wise)
and the weight itself is left out, so ``SecureFedAvg``'s aggregated train and evaluate
metrics read as FedAvg's would. Replies that do not fit this shape are reported, not
averaged into a wrong number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from flwr.app import MetricRecord, RecordDict

__all__ = ["MetricsAggregationFn", "weighted_mean", "aggregate_or_none"]

MetricsAggregationFn = Callable[[list[RecordDict], str], MetricRecord]
"""Flower's signature: (reply contents, weight key) -> aggregated MetricRecord."""

logger = logging.getLogger("fedcrypt.flower")


def _only_record(content: RecordDict) -> MetricRecord:
    records = list(content.metric_records.values())
    if len(records) != 1:
        raise ValueError(f"expected one MetricRecord per reply, found {len(records)}")
    return records[0]


def weighted_mean(contents: list[RecordDict], weighted_by_key: str) -> MetricRecord:
    """The weighted mean of the replies' metrics (the weight key itself is left out).

    Raises:
        ValueError: a reply without exactly one MetricRecord, records with different keys,
            a missing, non-scalar or negative weight, or weights summing to zero.
    """
    records = [_only_record(content) for content in contents]
    if not records:
        raise ValueError("no replies to aggregate")
    keys = set(records[0].keys())
    if any(set(record.keys()) != keys for record in records[1:]):
        raise ValueError("the replies' MetricRecords have different keys")
    weights: list[float] = []
    for record in records:
        weight = record.get(weighted_by_key)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise ValueError(f"{weighted_by_key!r} must be a number >= 0 in every reply")
        weights.append(float(weight))
    total = sum(weights)
    if total <= 0:
        raise ValueError(f"the {weighted_by_key!r} weights sum to zero")
    out = MetricRecord()
    for key in sorted(keys - {weighted_by_key}):
        values = [record[key] for record in records]
        if all(isinstance(v, list) for v in values):
            lengths = {len(v) for v in values if isinstance(v, list)}
            if len(lengths) != 1:
                raise ValueError(f"metric {key!r} has lists of different lengths")
            columns = zip(*(v for v in values if isinstance(v, list)), strict=True)
            out[key] = [
                sum(w * float(x) for w, x in zip(weights, column, strict=True)) / total
                for column in columns
            ]
        elif all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            scalars = [float(v) for v in values if isinstance(v, int | float)]
            out[key] = sum(w * x for w, x in zip(weights, scalars, strict=True)) / total
        else:
            raise ValueError(f"metric {key!r} mixes lists and numbers")
    return out


def aggregate_or_none(
    fn: MetricsAggregationFn, contents: Sequence[RecordDict], weighted_by_key: str, what: str
) -> MetricRecord | None:
    """``fn(contents, weighted_by_key)``, or ``None`` (and a logged warning) if it fails."""
    if not contents:
        return None
    try:
        return fn(list(contents), weighted_by_key)
    except (ValueError, TypeError, KeyError) as exc:
        logger.warning("%s metrics not aggregated: %s", what, exc)
        return None
