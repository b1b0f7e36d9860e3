"""Convert keys and scalar ciphertexts to and from python-paillier (``phe``).

Both libraries use Paillier with ``g = n + 1`` and encode a signed integer ``m`` as
``m mod n`` with ``max_int = n // 3 - 1``, so a ciphertext is the same integer in both: ours
decrypt under ``phe`` and ``phe``'s under ours. ``phe`` numbers also carry a base-16 exponent
(``value = mantissa * 16^exponent``); only exponent-0 numbers (integers) are converted, since
our scalars are integers and our vectors use one fixed-point scale per vector instead.
"""

from __future__ import annotations

from typing import Any, overload

from secagg.errors import EncodingMismatch, InvalidArgument
from secagg.paillier._ciphertext import Ciphertext
from secagg.paillier._keys import PrivateKey, PublicKey

__all__ = ["to_phe", "from_phe"]


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
def to_phe(obj: PublicKey | PrivateKey | Ciphertext) -> Any:
    """Return the ``phe`` equivalent of a public key, private key or scalar ciphertext.

    A :class:`Ciphertext` becomes a ``phe.EncryptedNumber`` with exponent 0 under a fresh
    ``phe.PaillierPublicKey`` of the same ``n`` (``phe`` compares keys by ``n``).

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
        EncodingMismatch: An ``EncryptedNumber`` with a non-zero exponent (not an integer).
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
                f"phe number has exponent {obj.exponent}; only integers (exponent 0) convert"
            )
        ours = _ours(obj.public_key.n, public_key, allow_insecure)
        return Ciphertext(ours, obj.ciphertext(be_secure=False))
    raise InvalidArgument(f"cannot convert {type(obj).__name__} from phe")


def _ours(n: int, public_key: PublicKey | None, allow_insecure: bool) -> PublicKey:
    if public_key is None:
        return PublicKey(n, allow_insecure=allow_insecure)
    public_key.check_same(PublicKey(n, allow_insecure=True))
    return public_key
