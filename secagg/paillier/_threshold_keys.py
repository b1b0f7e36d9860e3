"""Threshold Paillier keys: the trusted dealer, verification keys and key shares (internal).

The dealer follows Damgard and Jurik (2001, section 4.1, s = 1), itself Shoup's dealer
(Shoup 2000, section 2) for Paillier: safe primes p = 2p' + 1, q = 2q' + 1, n = pq,
m = p'q', d = 0 (mod m) and d = 1 (mod n), shared with a random polynomial of degree t - 1
over Z_{nm}. Published: n, a random square v of full order in Z*_{n^2} and v_i = v^(Delta s_i).
Public names are re-exported by :mod:`secagg.paillier.threshold`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import gmpy2  # type: ignore[import-untyped]

from secagg._progress import batched_with_progress
from secagg.errors import DeserializationError, InsecureParameters, InvalidArgument
from secagg.paillier import _threshold_math as tmath
from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._derive import fingerprint_of
from secagg.paillier._keys import MAX_BITS, PublicKey
from secagg.paillier._parallel import resolve_workers
from secagg.paillier._threshold_checks import (
    FINGERPRINT_BYTES,
    INSECURE_FLOOR_BITS,
    check_committee,
    check_modulus,
    ciphertext_int,
    ciphertexts_digest,
    require_int,
    require_unit,
    share_context,
    vector_ints,
)
from secagg.paillier._threshold_codec import FORMAT_VERSION, Reader, int_bytes, pack_int
from secagg.paillier._threshold_proof import batch_statement, prove_share
from secagg.paillier._threshold_shares import DecryptionShare, VectorDecryptionShare
from secagg.paillier._vector import EncryptedVector

__all__ = [
    "THRESHOLD_MIN_BITS",
    "VerificationKeys",
    "KeyShare",
    "ThresholdKeys",
    "deal_threshold_keys",
]

THRESHOLD_MIN_BITS = 2048

_MAGIC_VERIFICATION = b"FCTV"
_MAGIC_KEY_SHARE = b"FCTK"
_FINGERPRINT_LABEL = b"fedcrypt/secagg/paillier/threshold/verification/v1"
# The public key's own cap (PublicKey refuses longer moduli): it also bounds the work a
# hostile key share can cause, one exponentiation modulo n^2 on load.
_MAX_MODULUS = (1 << MAX_BITS) - 1


@dataclass(frozen=True, slots=True)
class VerificationKeys:
    """Everything public about a threshold key: n, the committee and the verification keys.

    ``base`` is v, a random square of full order in Z*_{n^2}; ``keys[i - 1]`` is
    v_i = v^(Delta s_i) of key holder i (Shoup 2000, section 2). These reveal neither the
    key shares nor the factorisation of n.

    Attributes:
        n: The Paillier modulus.
        threshold: Number of key holders t needed to decrypt.
        n_parties: Number of key holders l.
        base: The verification base v.
        keys: The verification keys v_1, ..., v_l.

    Raises:
        InvalidArgument: A field is out of range, or not a square unit modulo n^2.
    """

    n: int
    threshold: int
    n_parties: int
    base: int
    keys: tuple[int, ...]

    def __post_init__(self) -> None:
        n = require_int("n", self.n, 3, _MAX_MODULUS)
        check_modulus(n)
        check_committee(self.n_parties, self.threshold)
        if not isinstance(self.keys, tuple) or len(self.keys) != self.n_parties:
            raise InvalidArgument("keys must be a tuple with one key per holder")
        base = require_unit("base", self.base, n)
        keys = tuple(require_unit("verification key", key, n) for key in self.keys)
        # A square modulo n^2 is a square modulo n, so its Jacobi symbol is 1.
        if any(gmpy2.jacobi(x % n, n) != 1 for x in (base, *keys)):
            raise InvalidArgument("verification data must be squares (Jacobi symbol 1)")
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "threshold", int(self.threshold))
        object.__setattr__(self, "n_parties", int(self.n_parties))
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "keys", keys)

    @property
    def delta(self) -> int:
        """Delta = n_parties!, the factor that keeps Lagrange coefficients integral."""
        return tmath.holder_delta(self.n_parties)

    @property
    def key_fingerprint(self) -> bytes:
        """The Paillier key's fingerprint (equal to ``PublicKey.fingerprint``)."""
        return fingerprint_of(self.n)

    @property
    def fingerprint(self) -> bytes:
        """8 bytes of SHA-256 over the whole serialised verification data."""
        return hashlib.sha256(_FINGERPRINT_LABEL + self.to_bytes()).digest()[:FINGERPRINT_BYTES]

    def public_key(self, *, allow_insecure: bool = False) -> PublicKey:
        """Return the ordinary Paillier public key ``PublicKey(n)`` clients encrypt with.

        Raises:
            InsecureParameters: n is shorter than 2048 bits and ``allow_insecure`` is false.
        """
        return PublicKey(self.n, allow_insecure=allow_insecure)

    def key_of(self, holder: int) -> int:
        """Return v_i, the verification key of key holder ``holder`` (1-based)."""
        return self.keys[require_int("holder", holder, 1, self.n_parties) - 1]

    def to_bytes(self) -> bytes:
        """Serialise: magic, version, width of n, t, l, then n, v and every v_i (fixed width)."""
        n_width = int_bytes(self.n + 1)
        width = 2 * n_width
        return (
            _MAGIC_VERIFICATION
            + bytes([FORMAT_VERSION])
            + pack_int(n_width, 2)
            + pack_int(self.threshold, 2)
            + pack_int(self.n_parties, 2)
            + pack_int(self.n, n_width)
            + pack_int(self.base, width)
            + b"".join(pack_int(key, width) for key in self.keys)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> VerificationKeys:
        """Parse and validate the output of :meth:`to_bytes`.

        Raises:
            DeserializationError: wrong magic, version or length, or an invalid field.
        """
        reader = Reader(data, _MAGIC_VERIFICATION, "verification keys")
        n_width, threshold, n_parties = reader.uint(2), reader.uint(2), reader.uint(2)
        width = 2 * n_width
        reader.expect_length(5 + 6 + n_width + width * (1 + n_parties))
        n = reader.uint(n_width)
        if n.bit_length() <= 8 * (n_width - 1):
            raise DeserializationError("n is not encoded in its minimal width")
        base = reader.uint(width)
        keys = tuple(reader.uint(width) for _ in range(n_parties))
        reader.finish()
        try:
            return cls(n, threshold, n_parties, base, keys)
        except InvalidArgument as error:
            raise DeserializationError(f"invalid verification keys: {error}") from error


@dataclass(frozen=True, slots=True)
class KeyShare:
    """One key holder's secret share s_i of the decryption exponent, with its public context.

    Keep it secret: any ``threshold`` key shares decrypt everything. ``secret`` is left out of
    ``repr``.

    Attributes:
        holder: The key holder's id i (1 to n_parties).
        n: The Paillier modulus.
        threshold: Number of key holders t needed to decrypt.
        n_parties: Number of key holders l.
        base: The public verification base v.
        verification_key: The public v_i = v^(Delta s_i).
        secret: The share s_i = f(i) mod nm.

    Raises:
        InvalidArgument: A field is out of range.
    """

    holder: int
    n: int
    threshold: int
    n_parties: int
    base: int
    verification_key: int
    secret: int = field(repr=False)

    def __post_init__(self) -> None:
        n = require_int("n", self.n, 3, _MAX_MODULUS)
        check_modulus(n)
        check_committee(self.n_parties, self.threshold)
        object.__setattr__(self, "n", n)
        object.__setattr__(self, "holder", require_int("holder", self.holder, 1, self.n_parties))
        object.__setattr__(self, "base", require_unit("base", self.base, n))
        object.__setattr__(
            self, "verification_key", require_unit("verification key", self.verification_key, n)
        )
        object.__setattr__(self, "secret", require_int("secret", self.secret, 0, n * n - 1))

    @property
    def key_fingerprint(self) -> bytes:
        """The fingerprint of the Paillier public key this share decrypts for."""
        return fingerprint_of(self.n)

    def _context(self, kind: bytes, digest: bytes) -> bytes:
        return share_context(
            kind, self.key_fingerprint, self.n_parties, self.threshold, self.holder, digest
        )

    def partial_decrypt(
        self, ciphertext: Ciphertext | int, *, constant_time: bool = False
    ) -> DecryptionShare:
        """Return this holder's decryption share c^(2 Delta s_i) of one ciphertext, with proof.

        Args:
            ciphertext: A ``Ciphertext`` of this key (or its raw integer value).
            constant_time: Exponentiate with the secret share and the proof nonce through
                ``gmpy2.powmod_sec`` (slower; a best effort against timing attacks).

        Raises:
            KeyMismatch: The ciphertext belongs to another key.
            InvalidArgument: The ciphertext is not a unit modulo n^2.
        """
        c = ciphertext_int(ciphertext, self.n)
        delta = tmath.holder_delta(self.n_parties)
        value = tmath.partial_decrypt(
            c, self.secret, delta, self.n * self.n, constant_time=constant_time
        )
        digest = ciphertexts_digest([c], self.n)
        proof = prove_share(
            self._context(b"scalar", digest),
            c,
            value,
            self.base,
            self.verification_key,
            delta * self.secret,
            self.n,
            delta,
            constant_time=constant_time,
        )
        return DecryptionShare(
            self.holder, self.key_fingerprint, digest, value, proof.challenge, proof.response
        )

    def partial_decrypt_vector(
        self, vector: EncryptedVector, *, workers: int | None = None, constant_time: bool = False
    ) -> VectorDecryptionShare:
        """Return decryption shares of every ciphertext of an ``EncryptedVector``, one proof.

        One proof covers all the shares through a hashed random linear combination
        (Bellare, Garay and Rabin 1998), so it costs one scalar proof plus two short
        multi-exponentiations; the shares themselves cost one exponentiation each.

        Args:
            vector: An ``EncryptedVector`` of this key (typically a sum of many clients').
            workers: Threads for the exponentiations (default: the usable CPUs, at most 2).
            constant_time: Use ``gmpy2.powmod_sec`` for every exponentiation with a secret.

        Raises:
            KeyMismatch: The vector belongs to another key.
        """
        threads = resolve_workers(workers)
        ciphertexts = vector_ints(vector, self.n)
        delta = tmath.holder_delta(self.n_parties)
        nsquare = self.n * self.n
        values = batched_with_progress(
            lambda chunk: tmath.partial_decrypt_many(
                chunk, self.secret, delta, nsquare, threads, constant_time=constant_time
            ),
            ciphertexts,
            desc=f"Paillier decryption share {self.holder}",
            unit="ciphertext",
        )
        digest = ciphertexts_digest(ciphertexts, self.n)
        context, folded_c, folded_share = batch_statement(
            self._context(b"vector", digest), ciphertexts, values, self.n, threads
        )
        proof = prove_share(
            context,
            folded_c,
            folded_share,
            self.base,
            self.verification_key,
            delta * self.secret,
            self.n,
            delta,
            constant_time=constant_time,
        )
        return VectorDecryptionShare(
            self.holder,
            self.key_fingerprint,
            digest,
            tuple(values),
            proof.challenge,
            proof.response,
        )

    def to_bytes(self) -> bytes:
        """Serialise the share, secret included: store it encrypted, it is key material."""
        n_width = int_bytes(self.n + 1)
        width = 2 * n_width
        return (
            _MAGIC_KEY_SHARE
            + bytes([FORMAT_VERSION])
            + pack_int(n_width, 2)
            + pack_int(self.threshold, 2)
            + pack_int(self.n_parties, 2)
            + pack_int(self.holder, 2)
            + pack_int(self.n, n_width)
            + pack_int(self.base, width)
            + pack_int(self.verification_key, width)
            + pack_int(self.secret, width)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyShare:
        """Parse, validate and check the share against its own verification key.

        Raises:
            DeserializationError: wrong magic, version or length, a field out of range, or
                a secret that does not match its verification key v_i = v^(Delta s_i).
        """
        reader = Reader(data, _MAGIC_KEY_SHARE, "key share")
        n_width = reader.uint(2)
        threshold, n_parties, holder = reader.uint(2), reader.uint(2), reader.uint(2)
        reader.expect_length(5 + 8 + 7 * n_width)
        n = reader.uint(n_width)
        if n.bit_length() <= 8 * (n_width - 1):
            raise DeserializationError("n is not encoded in its minimal width")
        base = reader.uint(2 * n_width)
        verification_key = reader.uint(2 * n_width)
        secret = reader.uint(2 * n_width)
        reader.finish()
        try:
            share = cls(holder, n, threshold, n_parties, base, verification_key, secret)
        except InvalidArgument as error:
            raise DeserializationError(f"invalid key share: {error}") from error
        delta = tmath.holder_delta(n_parties)
        if gmpy2.powmod(base, delta * secret, n * n) != verification_key:
            raise DeserializationError("the key share does not match its verification key")
        return share


@dataclass(frozen=True, slots=True)
class ThresholdKeys:
    """The dealer's output: the public key, the verification keys and one share per holder.

    Send ``shares[i - 1]`` to key holder i over a private channel, publish the rest, and drop
    this object.

    Attributes:
        public_key: The ordinary Paillier public key clients encrypt with.
        verification: The public verification data every combiner needs.
        shares: The key shares, in holder order (ids 1 to n_parties).
    """

    public_key: PublicKey
    verification: VerificationKeys
    shares: tuple[KeyShare, ...]


def keys_from_dealt(dealt: tmath.DealtKey, *, allow_insecure: bool) -> ThresholdKeys:
    """Wrap the dealer's integers into the public objects (internal; used by tests too)."""
    verification = VerificationKeys(
        dealt.n, dealt.threshold, dealt.n_parties, dealt.base, dealt.verification_keys
    )
    shares = tuple(
        KeyShare(
            holder,
            dealt.n,
            dealt.threshold,
            dealt.n_parties,
            dealt.base,
            dealt.verification_keys[holder - 1],
            dealt.secrets[holder - 1],
        )
        for holder in range(1, dealt.n_parties + 1)
    )
    public_key = verification.public_key(allow_insecure=allow_insecure)
    return ThresholdKeys(public_key, verification, shares)


def deal_threshold_keys(
    bits: int, n_parties: int, threshold: int, *, allow_insecure: bool = False
) -> ThresholdKeys:
    """Generate a threshold Paillier key as a trusted dealer, and forget the factorisation.

    Picks two safe primes with :mod:`secrets`, shares d (d = 0 mod m, d = 1 mod n) with a
    random polynomial of degree ``threshold - 1`` over Z_{nm}, and computes the verification
    keys (Damgard and Jurik 2001, section 4.1). Safe-prime generation dominates the cost.
    Nothing about p, q or m outlives the call (Python cannot wipe the memory it used).

    Args:
        bits: Modulus length; at least 2048 unless ``allow_insecure``.
        n_parties: Number of key holders l (1 to 1024).
        threshold: Number of holders t needed to decrypt (1 to ``n_parties``).
        allow_insecure: Accept a modulus shorter than 2048 bits (tests only; floor 256).

    Returns:
        The public key, the verification keys and the key shares (holder ids 1 to l).

    Raises:
        InsecureParameters: ``bits`` is below 2048 without ``allow_insecure``.
        InvalidArgument: The committee sizes are out of range.
    """
    require_int("bits", bits, INSECURE_FLOOR_BITS, MAX_BITS)
    if bits < THRESHOLD_MIN_BITS and not allow_insecure:
        raise InsecureParameters(
            f"a {bits}-bit modulus is below the {THRESHOLD_MIN_BITS}-bit minimum; "
            "pass allow_insecure=True for tests only"
        )
    check_committee(n_parties, threshold)
    p, q = tmath.generate_safe_modulus(bits)
    dealt = tmath.deal_from_primes(p, q, n_parties, threshold)
    return keys_from_dealt(dealt, allow_insecure=allow_insecure)
