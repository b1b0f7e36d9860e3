"""Convert keys, integer ciphertexts and encoded (float) numbers to and from ``phe``.

Both libraries use Paillier with ``g = n + 1`` and encode a signed integer ``m`` as
``m mod n`` with ``max_int = n // 3 - 1``, so a ciphertext is the same integer in both: ours
decrypt under ``phe`` and ``phe``'s under ours. A ``phe`` number also carries a base-16
exponent: it stands for ``mantissa * 16^exponent`` (python-paillier's ``EncodedNumber``).
Integers (exponent 0) become a plain :class:`Ciphertext`; any number, floats included,
converts with its exponent as an :class:`EncodedCiphertext` (:func:`from_phe_number`), and
:func:`to_phe` turns one back into a ``phe.EncryptedNumber`` with the same exponent.

Mapping to packed vectors: an :class:`~secagg.paillier.EncryptedVector` holds
``round(x 2^scale_bits)`` in each slot, one scale for the whole vector, and many slots per
ciphertext. A ``phe`` number with exponent ``e <= 0`` is the same fixed point with
``scale_bits = -4 e`` but one value per ciphertext and one exponent per value. So a vector's
decrypted values equal ``phe`` numbers of exponent ``-scale_bits / 4`` when ``scale_bits`` is
a multiple of 4 (the default 16 is ``e = -4``), and ``phe`` floats become a vector by
decrypting and calling :meth:`~secagg.paillier.PublicKey.encrypt_vector` with that scale.
Slots cannot be taken out of a packed ciphertext, or put into one, without the private key
(that is what packing saves), so there is no ciphertext-level conversion of vectors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, overload

from secagg.errors import EncodingMismatch, InvalidArgument, KeyMismatch
from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._keys import PrivateKey, PublicKey

__all__ = ["to_phe", "from_phe", "from_phe_number", "EncodedCiphertext", "PHE_BASE"]

#: The base of python-paillier's exponent (``EncodedNumber.BASE``).
PHE_BASE = 16
# phe's exponents are small ints; this bound keeps 16^|e| a reasonable integer.
_MAX_EXPONENT = 4096


def _check_exponent(exponent: object) -> int:
    if isinstance(exponent, bool) or not isinstance(exponent, int):
        raise InvalidArgument(f"exponent must be an int, got {exponent!r}")
    if abs(exponent) > _MAX_EXPONENT:
        raise InvalidArgument(f"|exponent| must be at most {_MAX_EXPONENT}")
    return exponent


@dataclass(frozen=True, slots=True)
class EncodedCiphertext:
    """An encrypted ``mantissa * 16^exponent``: python-paillier's float encoding, ours.

    ``ciphertext`` encrypts the signed integer mantissa; ``exponent`` is public, as in
    ``phe``. Sums align exponents the way ``phe`` does (the larger exponent is lowered by
    multiplying its ciphertext by ``16^(difference)``), so results match ``phe``'s exactly.

    Attributes:
        ciphertext: Our ciphertext of the mantissa.
        exponent: The base-16 exponent; ``e <= 0`` is fixed point with ``scale_bits = -4 e``.
    """

    ciphertext: Ciphertext
    exponent: int

    def __post_init__(self) -> None:
        if not isinstance(self.ciphertext, Ciphertext):
            raise InvalidArgument("ciphertext must be a Ciphertext")
        _check_exponent(self.exponent)

    @classmethod
    def encrypt(
        cls, public_key: PublicKey, value: float, *, exponent: int = -4
    ) -> EncodedCiphertext:
        """Encrypt ``round(value / 16^exponent)`` with ``exponent`` (default ``-4``: 2^-16 steps).

        Rounding is exact (rational arithmetic, ties to even). ``phe`` picks a per-value
        exponent from the float's precision instead; pass ``exponent`` to match it.

        Raises:
            InvalidArgument: ``value`` is not a finite real number or ``exponent`` not an int.
            PlaintextOverflow: The mantissa exceeds the key's ``max_int``.
        """
        exponent = _check_exponent(exponent)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidArgument(f"value must be an int or float, got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidArgument("cannot encrypt NaN or infinity")
        mantissa = round(Fraction(value) / Fraction(PHE_BASE) ** exponent)
        return cls(public_key.encrypt(mantissa), exponent)

    def decrypt(self, private_key: PrivateKey) -> int | float:
        """Return the value as ``phe`` decodes it: an int for ``exponent >= 0``, else a float.

        Raises:
            KeyMismatch: Another key.
            PlaintextOverflow: The mantissa overflowed the signed range.
        """
        mantissa = int(private_key.decrypt(self.ciphertext))
        power: int = PHE_BASE ** abs(self.exponent)
        if self.exponent >= 0:
            return mantissa * power
        return mantissa / power  # int / int: correctly rounded, as in phe

    def decrypt_exact(self, private_key: PrivateKey) -> Fraction:
        """Return the value as an exact fraction ``mantissa * 16^exponent``."""
        return private_key.decrypt(self.ciphertext) * Fraction(PHE_BASE) ** self.exponent

    def with_exponent(self, exponent: int) -> EncodedCiphertext:
        """Lower the exponent (``phe``'s ``decrease_exponent_to``): same value, finer grid.

        The mantissa grows by ``16^(old - new)`` and must stay within the key's ``max_int``;
        that cannot be checked on a ciphertext (``phe`` has the same limit), so keep
        exponent gaps small: with ``|mantissa| < 2^53`` (a float's) and a 2048-bit key,
        gaps up to 490 are safe (2^(53 + 4 * 490) < n // 3).

        Raises:
            InvalidArgument: ``exponent`` is above the current one.
        """
        exponent = _check_exponent(exponent)
        if exponent > self.exponent:
            raise InvalidArgument("an exponent can only be lowered without decrypting")
        factor = PHE_BASE ** (self.exponent - exponent)
        return EncodedCiphertext(self.ciphertext * factor, exponent)

    def __add__(self, other: EncodedCiphertext) -> EncodedCiphertext:
        if not isinstance(other, EncodedCiphertext):
            return NotImplemented
        if other.ciphertext.public_key != self.ciphertext.public_key:
            raise KeyMismatch("the numbers belong to different keys")
        exponent = min(self.exponent, other.exponent)
        left, right = self.with_exponent(exponent), other.with_exponent(exponent)
        return EncodedCiphertext(left.ciphertext + right.ciphertext, exponent)


def _phe() -> Any:
    try:
        import phe
    except ImportError as exc:  # pragma: no cover - phe is a declared dependency
        raise InvalidArgument("phe_compat needs the 'phe' package") from exc
    return phe


@overload
def to_phe(obj: PublicKey) -> Any: ...
@overload
def to_phe(obj: PrivateKey) -> Any: ...
@overload
def to_phe(obj: Ciphertext) -> Any: ...
@overload
def to_phe(obj: EncodedCiphertext) -> Any: ...
def to_phe(obj: PublicKey | PrivateKey | Ciphertext | EncodedCiphertext) -> Any:
    """Return the ``phe`` equivalent of a key, a ciphertext or an encoded number.

    A :class:`Ciphertext` becomes a ``phe.EncryptedNumber`` with exponent 0, an
    :class:`EncodedCiphertext` one with its exponent, under a fresh ``phe.PaillierPublicKey``
    of the same ``n`` (``phe`` compares keys by ``n``).

    Raises:
        InvalidArgument: ``obj`` is of another type.
    """
    phe = _phe()
    if isinstance(obj, PublicKey):
        return phe.PaillierPublicKey(obj.n)
    if isinstance(obj, PrivateKey):
        return phe.PaillierPrivateKey(phe.PaillierPublicKey(obj.public_key.n), obj.p, obj.q)
    if isinstance(obj, Ciphertext):
        public = phe.PaillierPublicKey(obj.public_key.n)
        return phe.EncryptedNumber(public, int(obj.value), 0)
    if isinstance(obj, EncodedCiphertext):
        public = phe.PaillierPublicKey(obj.ciphertext.public_key.n)
        return phe.EncryptedNumber(public, int(obj.ciphertext.value), obj.exponent)
    raise InvalidArgument(f"cannot convert {type(obj).__name__} to phe")


def from_phe(
    obj: Any, *, public_key: PublicKey | None = None, allow_insecure: bool = False
) -> PublicKey | PrivateKey | Ciphertext:
    """Return our equivalent of a ``phe`` public key, private key or ``EncryptedNumber``.

    Args:
        obj: ``phe.PaillierPublicKey``, ``phe.PaillierPrivateKey`` or ``phe.EncryptedNumber``.
        public_key: Our key to attach a converted ciphertext to (so it combines with other
            ciphertexts of that key); by default a new :class:`PublicKey` of the same ``n``.
        allow_insecure: Accept a modulus below 2048 bits.

    Raises:
        InvalidArgument: ``obj`` is of another type.
        KeyMismatch: ``public_key`` has another modulus than ``obj``.
        EncodingMismatch: An ``EncryptedNumber`` with a non-zero exponent (a float): convert
            it with :func:`from_phe_number`, which keeps the exponent.
        InsecureParameters: A short modulus without ``allow_insecure``.
    """
    phe = _phe()
    if isinstance(obj, phe.PaillierPublicKey):
        return _ours(obj.n, public_key, allow_insecure)
    if isinstance(obj, phe.PaillierPrivateKey):
        ours = _ours(obj.public_key.n, public_key, allow_insecure)
        return PrivateKey(ours, obj.p, obj.q)
    if isinstance(obj, phe.EncryptedNumber):
        if obj.exponent != 0:
            raise EncodingMismatch(
                f"phe number has exponent {obj.exponent}, not an integer: use "
                "from_phe_number, which returns an EncodedCiphertext with its exponent"
            )
        ours = _ours(obj.public_key.n, public_key, allow_insecure)
        return Ciphertext(ours, obj.ciphertext(be_secure=False))
    raise InvalidArgument(f"cannot convert {type(obj).__name__} from phe")


def from_phe_number(
    obj: Any, *, public_key: PublicKey | None = None, allow_insecure: bool = False
) -> EncodedCiphertext:
    """Return a ``phe.EncryptedNumber`` of any exponent (floats too) as an encoded ciphertext.

    The ciphertext integer is taken as is (``phe``'s obfuscation already applied or not,
    decryption is the same); the exponent is kept, so :meth:`EncodedCiphertext.decrypt`
    returns what ``phe``'s ``decrypt`` returns.

    Raises:
        InvalidArgument: ``obj`` is not a ``phe.EncryptedNumber``.
        KeyMismatch: ``public_key`` has another modulus than ``obj``.
        InsecureParameters: A short modulus without ``allow_insecure``.
    """
    phe = _phe()
    if not isinstance(obj, phe.EncryptedNumber):
        raise InvalidArgument(f"expected a phe.EncryptedNumber, got {type(obj).__name__}")
    ours = _ours(obj.public_key.n, public_key, allow_insecure)
    return EncodedCiphertext(Ciphertext(ours, obj.ciphertext(be_secure=False)), obj.exponent)


def _ours(n: int, public_key: PublicKey | None, allow_insecure: bool) -> PublicKey:
    if public_key is None:
        return PublicKey(n, allow_insecure=allow_insecure)
    public_key.check_same(PublicKey(n, allow_insecure=True))
    return public_key
