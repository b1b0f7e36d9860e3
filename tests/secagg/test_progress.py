"""Progress of long Paillier calls: who sees a bar, and that batching never changes results."""

from __future__ import annotations

import io
from typing import Any, ClassVar

import numpy as np
import pytest

from secagg import _progress
from secagg.paillier.threshold import combine_vector_shares
from tests.secagg.strategies_paillier import keypair
from tests.secagg.test_threshold_support import committee

PK, SK = keypair()


class _Recorder:
    """Stands in for a tqdm bar: records its total and every update."""

    bars: ClassVar[list[_Recorder]] = []

    def __init__(self, total: int | None, **kwargs: Any) -> None:
        self.total, self.desc, self.updates = total, kwargs["desc"], []
        _Recorder.bars.append(self)

    def __enter__(self) -> _Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, count: int) -> None:
        self.updates.append(count)


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[_Recorder]:
    monkeypatch.setenv("FEDCRYPT_PROGRESS", "1")
    _Recorder.bars = []
    monkeypatch.setattr(_progress, "progress_bar", _Recorder)
    return _Recorder.bars


def test_who_sees_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEDCRYPT_PROGRESS", raising=False)
    monkeypatch.setenv("CI", "true")
    assert not _progress.progress_enabled()
    assert _progress.progress_enabled(True)
    monkeypatch.setenv("FEDCRYPT_PROGRESS", "1")
    assert _progress.progress_enabled()
    assert not _progress.progress_enabled(False)
    monkeypatch.setenv("FEDCRYPT_PROGRESS", "off")
    assert not _progress.progress_enabled()
    monkeypatch.delenv("FEDCRYPT_PROGRESS")
    monkeypatch.delenv("CI")
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    assert not _progress.progress_enabled()


def test_vector_encryption_and_decryption_report_every_ciphertext(
    recorded: list[_Recorder],
) -> None:
    x = np.linspace(-1, 1, 400 * 40)
    ev = PK.encrypt_vector(x, max_summands=4)
    count = len(ev.ciphertexts)
    assert count >= 256
    out = SK.decrypt_vector(ev)
    assert np.array_equal(out, np.ldexp(np.rint(np.ldexp(x, 16)), -16))
    assert [(bar.desc, bar.total, sum(bar.updates)) for bar in recorded] == [
        ("Paillier encrypt", count, count),
        ("Paillier decrypt", count, count),
    ]
    assert all(len(bar.updates) > 1 for bar in recorded)  # several batches


def test_threshold_decryption_reports_progress_and_decodes_the_same(
    recorded: list[_Recorder],
) -> None:
    keys = committee(3, 2)
    values = np.arange(-6000, 6000, dtype=np.int64)
    vector = keys.public_key.encrypt_vector(values, max_abs=6000, max_summands=2)
    shares = [share.partial_decrypt_vector(vector) for share in keys.shares[:2]]
    result = combine_vector_shares(keys.verification, vector, shares)
    assert np.array_equal(result.values, values)
    count = len(vector.ciphertexts)
    assert count >= 256
    descs = [bar.desc for bar in recorded if bar.total == count]
    assert "Paillier combine shares" in descs
    assert sum(d.startswith("Paillier decryption share") for d in descs) == 2


def test_a_real_bar_appears_only_after_its_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    with _progress.progress_bar(10, desc="slow", unit="step", enabled=True, delay=0) as bar:
        bar.update(10)
    assert "slow" in stream.getvalue()
    quiet = io.StringIO()
    monkeypatch.setattr("sys.stderr", quiet)
    with _progress.progress_bar(10, desc="quick", unit="step", enabled=True) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""  # finished before the 2-second delay
