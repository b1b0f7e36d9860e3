"""Threshold decryption for Paillier: no single key holder can read an update.

With plain Paillier the holder of the private key can decrypt any single client's ciphertext.
Here the decryption key is split among ``n_parties`` key holders so that any ``threshold`` of
them decrypt an aggregate together and any ``threshold - 1`` learn nothing. This is Shoup's
threshold RSA (Shoup 2000, "Practical Threshold Signatures", EUROCRYPT) carried over to
Paillier as in Damgard and Jurik (2001, "A Generalisation, a Simplification and Some
Applications of Paillier's Probabilistic Public-Key System", PKC, section 4.1, s = 1) and
Fouque, Poupard and Stern (2000, "Sharing Decryption in the Context of Voting or Lotteries").

The public key is an ordinary Paillier key (the modulus n = pq of two safe primes), so every
client encrypts exactly as with :func:`secagg.paillier.generate_keypair` keys, and ``phe``
interoperates. Flow::

    keys = deal_threshold_keys(3072, n_parties=5, threshold=3)  # trusted dealer, once
    ct = keys.public_key.encrypt(42)  # any client
    shares = [share.partial_decrypt(ct) for share in keys.shares[:3]]  # 3 key holders
    combine_shares(keys.verification, ct, shares).plaintext  # anyone: 42

Each decryption share carries a non-interactive proof (SHA-256 Fiat-Shamir) that it was made
with the holder's real key share; :func:`combine_shares` checks the proofs, names and skips
the holders whose proofs fail, and raises :class:`~secagg.errors.InsufficientShares` when
fewer than ``threshold`` valid shares remain.

Trust: the dealer (:func:`deal_threshold_keys`) sees the factorisation for the duration of
one call and keeps nothing; it must be trusted not to record it. Nothing published (the public
key, :class:`VerificationKeys`, decryption shares) reveals p, q, p', q' or m = p'q'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from secagg._progress import batched_with_progress
from secagg.errors import (
    InsufficientShares,
    InvalidArgument,
    InvalidProof,
    InvalidShare,
    PlaintextOverflow,
    ProtocolError,
)
from secagg.paillier import _threshold_math as tmath
from secagg.paillier import hazmat
from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._parallel import resolve_workers
from secagg.paillier._threshold_checks import (
    MAX_KEY_HOLDERS,
    ciphertext_int,
    ciphertexts_digest,
    require_unit,
    require_units,
    share_context,
    vector_ints,
)
from secagg.paillier._threshold_keys import (
    THRESHOLD_MIN_BITS,
    KeyShare,
    ThresholdKeys,
    VerificationKeys,
    deal_threshold_keys,
)
from secagg.paillier._threshold_proof import EqualityProof, batch_statement, verify_share
from secagg.paillier._threshold_shares import DecryptionShare, VectorDecryptionShare
from secagg.paillier._vector import EncryptedVector

__all__ = [
    "THRESHOLD_MIN_BITS",
    "MAX_KEY_HOLDERS",
    "deal_threshold_keys",
    "ThresholdKeys",
    "VerificationKeys",
    "KeyShare",
    "DecryptionShare",
    "VectorDecryptionShare",
    "CombinedPlaintext",
    "CombinedVector",
    "verify_decryption_share",
    "verify_vector_share",
    "combine_shares",
    "combine_vector_shares",
]

_Share = TypeVar("_Share", DecryptionShare, VectorDecryptionShare)


def _check_binding(
    verification: VerificationKeys, holder: int, key_fingerprint: bytes, digest: bytes, want: bytes
) -> None:
    if not 1 <= holder <= verification.n_parties:
        raise InvalidShare(f"holder {holder} is not in the committee", party=holder)
    if key_fingerprint != verification.key_fingerprint:
        raise InvalidShare(f"holder {holder}'s share is for another public key", party=holder)
    if digest != want:
        raise InvalidShare(f"holder {holder}'s share is for another ciphertext", party=holder)


def _context(verification: VerificationKeys, kind: bytes, holder: int, digest: bytes) -> bytes:
    return share_context(
        kind,
        verification.key_fingerprint,
        verification.n_parties,
        verification.threshold,
        holder,
        digest,
    )


def _verify_scalar(verification: VerificationKeys, c: int, share: DecryptionShare) -> None:
    n, holder = verification.n, share.holder
    digest = ciphertexts_digest([c], n)
    _check_binding(verification, holder, share.key_fingerprint, share.ciphertext_digest, digest)
    try:
        value = require_unit("share value", share.value, n)
    except InvalidArgument as error:
        raise InvalidShare(f"holder {holder}'s share: {error}", party=holder) from error
    proof = EqualityProof(share.challenge, share.response)
    context = _context(verification, b"scalar", holder, digest)
    key = verification.key_of(holder)
    if not verify_share(context, c, value, verification.base, key, proof, n):
        raise InvalidProof(f"holder {holder}'s decryption proof does not verify", party=holder)


def _verify_vector(
    verification: VerificationKeys,
    ciphertexts: Sequence[int],
    share: VectorDecryptionShare,
    workers: int,
) -> None:
    n, holder = verification.n, share.holder
    digest = ciphertexts_digest(ciphertexts, n)
    _check_binding(verification, holder, share.key_fingerprint, share.ciphertexts_digest, digest)
    if len(share.values) != len(ciphertexts):
        raise InvalidShare(f"holder {holder}'s share has the wrong length", party=holder)
    try:
        values = require_units("share value", share.values, n)
    except InvalidArgument as error:
        raise InvalidShare(f"holder {holder}'s share: {error}", party=holder) from error
    context, folded_c, folded_share = batch_statement(
        _context(verification, b"vector", holder, digest), ciphertexts, values, n, workers
    )
    proof = EqualityProof(share.challenge, share.response)
    key = verification.key_of(holder)
    if not verify_share(context, folded_c, folded_share, verification.base, key, proof, n):
        raise InvalidProof(f"holder {holder}'s decryption proof does not verify", party=holder)


def verify_decryption_share(
    verification: VerificationKeys, ciphertext: Ciphertext | int, share: DecryptionShare
) -> None:
    """Check one decryption share against the ciphertext and the holder's verification key.

    Raises:
        InvalidProof: The proof does not verify (``party`` is the holder id).
        InvalidShare: The share is for another key or ciphertext (``party`` is the holder id).
        KeyMismatch: The ciphertext belongs to another key.
    """
    _verify_scalar(verification, ciphertext_int(ciphertext, verification.n), share)


def verify_vector_share(
    verification: VerificationKeys,
    vector: EncryptedVector,
    share: VectorDecryptionShare,
    *,
    workers: int | None = None,
) -> None:
    """Check one vector decryption share against the encrypted vector and the holder's key.

    Raises:
        InvalidProof: The batch proof does not verify (``party`` is the holder id).
        InvalidShare: The share is for another key or vector (``party`` is the holder id).
        KeyMismatch: The vector belongs to another key.
    """
    threads = resolve_workers(workers)
    _verify_vector(verification, vector_ints(vector, verification.n), share, threads)


@dataclass(frozen=True, slots=True)
class CombinedPlaintext:
    """The result of a threshold decryption of one ciphertext.

    Attributes:
        plaintext: The plaintext residue in [0, n).
        n: The modulus (for :meth:`to_signed`).
        holders: The ids of the key holders whose shares were combined.
        rejected: The errors of the excluded shares, each naming its ``party``.
    """

    plaintext: int
    n: int
    holders: tuple[int, ...]
    rejected: tuple[InvalidShare, ...]

    def to_signed(self) -> int:
        """Return the plaintext as a signed integer, in the range of ``PublicKey.max_int``.

        Raises:
            PlaintextOverflow: The residue lies in the gap between the two signed ranges.
        """
        value = hazmat.decode_signed_residue(self.n, self.plaintext)
        if value is None:
            raise PlaintextOverflow("the decrypted value overflowed the signed range")
        return value


@dataclass(frozen=True, slots=True, eq=False)
class CombinedVector:
    """The result of a threshold decryption of an ``EncryptedVector``.

    Attributes:
        values: The decoded array (``EncryptedVector.decode`` of the plaintexts).
        holders: The ids of the key holders whose shares were combined.
        rejected: The errors of the excluded shares, each naming its ``party``.
    """

    values: NDArray[Any]
    holders: tuple[int, ...]
    rejected: tuple[InvalidShare, ...]


def _choose(
    verification: VerificationKeys,
    shares: Iterable[_Share],
    expected: type[_Share],
    check: Callable[[_Share], None],
    strict: bool,
) -> tuple[dict[int, _Share], tuple[InvalidShare, ...]]:
    """Verify shares in holder order until ``threshold`` are valid; collect the failures."""
    ordered = list(shares)
    for share in ordered:
        if not isinstance(share, expected):
            raise InvalidArgument(f"expected {expected.__name__}, got {type(share).__name__}")
    ordered.sort(key=lambda share: share.holder)
    valid: dict[int, _Share] = {}
    rejected: list[InvalidShare] = []
    seen: set[int] = set()
    for share in ordered:
        if len(valid) == verification.threshold:
            break
        try:
            if share.holder in seen:
                raise InvalidShare(f"holder {share.holder} sent two shares", party=share.holder)
            seen.add(share.holder)
            check(share)
        except InvalidShare as error:
            if strict:
                raise
            rejected.append(error)
            continue
        valid[share.holder] = share
    if len(valid) < verification.threshold:
        names = ", ".join(str(error.party) for error in rejected) or "none"
        raise InsufficientShares(
            f"{len(valid)} valid decryption shares, {verification.threshold} needed "
            f"(rejected holders: {names})"
        )
    return valid, tuple(rejected)


def combine_shares(
    verification: VerificationKeys,
    ciphertext: Ciphertext | int,
    shares: Iterable[DecryptionShare],
    *,
    strict: bool = False,
) -> CombinedPlaintext:
    """Verify decryption shares and combine ``threshold`` valid ones into the plaintext.

    Computes c' = prod c_i^(2 lambda_i) = c^(4 Delta^2 d) and m = L(c') (4 Delta^2)^(-1)
    mod n (Damgard and Jurik 2001, section 4.1). Shares are checked in holder order, and
    checking stops once ``threshold`` are valid.

    Args:
        verification: The public verification keys of the threshold key.
        ciphertext: The ``Ciphertext`` (or raw integer) the shares were made for.
        shares: Decryption shares from distinct key holders.
        strict: Raise on the first invalid share instead of excluding it.

    Returns:
        The plaintext residue, the holders used and the rejected shares.

    Raises:
        InsufficientShares: Fewer than ``threshold`` shares are valid.
        InvalidShare: Only with ``strict``: the first bad share (``party`` = holder id);
            :class:`~secagg.errors.InvalidProof` when its proof fails.
        KeyMismatch: The ciphertext belongs to another key.
    """
    c = ciphertext_int(ciphertext, verification.n)

    def check(share: DecryptionShare) -> None:
        _verify_scalar(verification, c, share)

    valid, rejected = _choose(verification, shares, DecryptionShare, check, strict)
    values = {holder: share.value for holder, share in valid.items()}
    try:
        plaintext = tmath.combine(values, verification.n, verification.delta)
    except ArithmeticError as error:  # pragma: no cover - ruled out by the proofs
        raise ProtocolError("verified shares failed to combine") from error
    return CombinedPlaintext(plaintext, verification.n, tuple(sorted(valid)), rejected)


def combine_vector_shares(
    verification: VerificationKeys,
    vector: EncryptedVector,
    shares: Iterable[VectorDecryptionShare],
    *,
    strict: bool = False,
    workers: int | None = None,
) -> CombinedVector:
    """Verify vector decryption shares, combine ``threshold`` valid ones, decode the array.

    Each ciphertext is combined as in :func:`combine_shares` (t short exponentiations each:
    the Lagrange weights have about log2(Delta) + t log2(l) bits); the plaintexts then go
    through ``vector.decode`` (fixed point, packing, signs) to give the numpy array.

    Args:
        verification: The public verification keys of the threshold key.
        vector: The ``EncryptedVector`` the shares were made for.
        shares: Vector decryption shares from distinct key holders.
        strict: Raise on the first invalid share instead of excluding it.
        workers: Threads for the exponentiations (default: the usable CPUs, at most 2).

    Returns:
        The decoded array, the holders used and the rejected shares.

    Raises:
        InsufficientShares: Fewer than ``threshold`` shares are valid.
        InvalidShare: Only with ``strict``: the first bad share (``party`` = holder id);
            :class:`~secagg.errors.InvalidProof` when its proof fails.
        KeyMismatch: The vector belongs to another key.
        PlaintextOverflow: A decoded slot overflowed (from ``EncryptedVector.decode``).
    """
    threads = resolve_workers(workers)
    ciphertexts = vector_ints(vector, verification.n)

    def check(share: VectorDecryptionShare) -> None:
        _verify_vector(verification, ciphertexts, share, threads)

    valid, rejected = _choose(verification, shares, VectorDecryptionShare, check, strict)
    values = {holder: share.values for holder, share in valid.items()}

    def combine(indices: Sequence[int]) -> list[int]:
        start, stop = indices[0], indices[-1] + 1
        part = {holder: v[start:stop] for holder, v in values.items()}
        return tmath.combine_many(part, verification.n, verification.delta, threads)

    try:
        plaintexts = batched_with_progress(
            combine, range(len(ciphertexts)), desc="Paillier combine shares", unit="ciphertext"
        )
    except ArithmeticError as error:  # pragma: no cover - ruled out by the proofs
        raise ProtocolError("verified shares failed to combine") from error
    decoded = np.asarray(vector.decode(plaintexts))
    return CombinedVector(decoded, tuple(sorted(valid)), rejected)
