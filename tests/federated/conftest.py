from __future__ import annotations

import pytest

from federated.config import PaillierSettings
from secagg.paillier.threshold import ThresholdKeys, deal_threshold_keys


@pytest.fixture(scope="session")
def committee_keys() -> ThresholdKeys:
    """One threshold key (3 holders, threshold 2) shared by the Paillier tests.

    INSECURE: 1024 bits, with the explicit opt-in, to keep the tests fast.
    """
    return deal_threshold_keys(1024, n_parties=3, threshold=2, allow_insecure=True)


TEST_PAILLIER = PaillierSettings(
    key_bits=1024, allow_insecure_key=True, key_holders=3, decryption_threshold=2
)
