"""Fixed-point encoding and BatchCrypt-style packing of numpy arrays into Paillier plaintexts.

Each value ``x`` becomes the integer ``v = round(x 2^s)`` (one scale ``s`` for the whole
vector), which must lie in ``[-2^(b-1), 2^(b-1))`` for ``b = value_bits``. The bias
``2^(b-1)`` makes it non-negative: ``u = v + 2^(b-1) < 2^b``. ``slots`` such values sit side by
side in one plaintext, each in a slot of ``b + ceil(log2(max_summands))`` bits, so that the sum
of up to ``max_summands`` encodings never carries into the next slot (Zhang et al. 2020,
"BatchCrypt: Efficient homomorphic encryption for cross-silo federated learning", USENIX ATC,
here with a bias instead of two's complement). After decryption a slot holding the
sum of ``m`` encodings is ``sum(v) + m 2^(b-1)``; subtracting ``m 2^(b-1)`` gives the exact sum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from secagg.errors import InvalidArgument, PlaintextOverflow

__all__ = ["PackingLayout", "MAX_SLOT_BITS", "headroom_bits", "value_bits_for"]

#: Slots are decoded through uint64, so one slot holds at most 64 bits.
MAX_SLOT_BITS = 64
#: Largest fixed-point scale accepted.
MAX_SCALE_BITS = 62
#: Largest summand budget (fits the u32 of the wire header).
MAX_SUMMANDS = (1 << 32) - 1


def headroom_bits(max_summands: int) -> int:
    """Return ``ceil(log2(max_summands))``, the carry headroom of a slot."""
    return (max_summands - 1).bit_length()


def value_bits_for(max_abs: float, scale_bits: int) -> int:
    """Return the narrowest ``value_bits`` holding ``round(x 2^s)`` for every ``|x| <= max_abs``.

    With ``V = ceil(max_abs 2^s)`` (an integer) the answer is ``b = bitlen(V) + 1``.

    Why it is safe (no slot can ever carry into the next one):

    1. ``rint`` is monotone and ``V`` is an integer ``>= max_abs 2^s``, so
       ``|x| <= max_abs`` gives ``|v| = |rint(x 2^s)| <= V``.
    2. ``V < 2^bitlen(V) = 2^(b-1)``, so ``v`` lies in ``[-2^(b-1), 2^(b-1))`` and the biased
       encoding ``u = v + 2^(b-1)`` satisfies ``0 <= u <= 2^b - 1``.
    3. A slot holding ``m <= M = max_summands`` encodings is at most
       ``M (2^b - 1) < 2^b 2^ceil(log2 M) = 2^slot_bits``: it fits its
       ``slot_bits = b + ceil(log2 M)`` bits (the BatchCrypt argument, Zhang et al. 2020).
    4. ``floor((k - 1) / slot_bits)`` slots make a plaintext below ``2^(k-1) <= n`` for a
       ``k``-bit modulus, so the packed sum never wraps modulo ``n``.

    ``b`` is also the narrowest width: ``bitlen(V) - 1`` bits of magnitude would give
    ``2^(b-2) <= V``, outside ``[-2^(b-2), 2^(b-2))``. Example: ``max_abs = 1``, ``s = 16``:
    ``V = 2^16``, ``b = 18``; with ``M = 100`` a slot is ``18 + 7 = 25`` bits, 81 per 2048-bit
    ciphertext (32-bit values gave 52).

    Raises:
        InvalidArgument: ``max_abs`` is not a finite positive number, ``scale_bits`` is out of
            range, or the width would exceed ``MAX_SLOT_BITS - 1``.
    """
    if isinstance(max_abs, bool) or not isinstance(max_abs, int | float | np.integer | np.floating):
        raise InvalidArgument(f"max_abs must be a positive number, got {max_abs!r}")
    if isinstance(scale_bits, bool) or not isinstance(scale_bits, int):
        raise InvalidArgument(f"scale_bits must be an int, got {scale_bits!r}")
    if not 0 <= scale_bits <= MAX_SCALE_BITS:
        raise InvalidArgument(f"scale_bits must be in [0, {MAX_SCALE_BITS}]")
    bound = float(max_abs)
    if not math.isfinite(bound) or bound <= 0:
        raise InvalidArgument(f"max_abs must be a finite positive number, got {max_abs!r}")
    # ldexp by a power of two is exact in binary floating point; ceil of a finite float is an
    # exact Python int, so V is computed without rounding error.
    scaled = math.ldexp(bound, scale_bits)
    if not math.isfinite(scaled):
        raise InvalidArgument("max_abs * 2^scale_bits overflows")
    limit = math.ceil(scaled)
    value_bits = max(2, limit.bit_length() + 1)
    if value_bits > MAX_SLOT_BITS - 1:
        raise InvalidArgument(
            f"max_abs * 2^scale_bits needs {value_bits} value bits, more than "
            f"{MAX_SLOT_BITS - 1}; lower scale_bits or max_abs"
        )
    return value_bits


@dataclass(frozen=True, slots=True)
class PackingLayout:
    """How a vector is scaled, biased and packed into plaintexts.

    Attributes:
        shape: Shape of the original array.
        scale_bits: Fixed-point scale ``s`` (values are multiples of ``2^-s``).
        value_bits: Width ``b`` of one encoded value (signed range ``[-2^(b-1), 2^(b-1))``).
        max_summands: Most encodings a slot may accumulate (weights count with their value).
        slots: Values per ciphertext.
        integer: Decode to ``int64`` (integer input) rather than ``float64``.
    """

    shape: tuple[int, ...]
    scale_bits: int
    value_bits: int
    max_summands: int
    slots: int
    integer: bool

    def __post_init__(self) -> None:
        if any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in self.shape):
            raise InvalidArgument(f"invalid shape {self.shape!r}")
        if self.size == 0:
            raise InvalidArgument("cannot encrypt an empty array")
        if not 0 <= self.scale_bits <= MAX_SCALE_BITS:
            raise InvalidArgument(f"scale_bits must be in [0, {MAX_SCALE_BITS}]")
        if self.integer and self.scale_bits:
            raise InvalidArgument("integer arrays are encoded with scale_bits=0")
        if not 1 <= self.max_summands <= MAX_SUMMANDS:
            raise InvalidArgument(f"max_summands must be in [1, {MAX_SUMMANDS}]")
        if not 2 <= self.value_bits <= MAX_SLOT_BITS - 1:
            raise InvalidArgument(f"value_bits must be in [2, {MAX_SLOT_BITS - 1}]")
        if self.slot_bits > MAX_SLOT_BITS:
            raise InvalidArgument(
                f"value_bits + ceil(log2(max_summands)) = {self.slot_bits} exceeds "
                f"{MAX_SLOT_BITS} bits per slot"
            )
        if self.slots < 1:
            raise InvalidArgument("a layout needs at least one slot per ciphertext")

    @classmethod
    def for_key(
        cls,
        key_bits: int,
        shape: tuple[int, ...],
        *,
        scale_bits: int,
        value_bits: int,
        max_summands: int,
        integer: bool,
    ) -> PackingLayout:
        """Return the layout with as many slots as fit below ``2^(key_bits - 1) <= n``."""
        for name, param in (
            ("scale_bits", scale_bits),
            ("value_bits", value_bits),
            ("max_summands", max_summands),
        ):
            if isinstance(param, bool) or not isinstance(param, int):
                raise InvalidArgument(f"{name} must be an int, got {param!r}")
        slot_bits = value_bits + headroom_bits(max(max_summands, 1))
        slots = (key_bits - 1) // max(slot_bits, 1)
        return cls(shape, scale_bits, value_bits, max_summands, slots, integer)

    def check_key(self, key_bits: int) -> None:
        """Raise unless every packed plaintext stays below ``2^(key_bits - 1) <= n``."""
        if self.slots * self.slot_bits > key_bits - 1:
            raise InvalidArgument("the packing does not fit this key's plaintext space")

    @property
    def size(self) -> int:
        """Number of values."""
        return math.prod(self.shape)

    @property
    def slot_bits(self) -> int:
        """Bits per slot: ``value_bits + ceil(log2(max_summands))``."""
        return self.value_bits + headroom_bits(self.max_summands)

    @property
    def ciphertext_count(self) -> int:
        """Number of ciphertexts: ``ceil(size / slots)``."""
        return -(-self.size // self.slots)

    @property
    def bias(self) -> int:
        """The bias ``2^(value_bits - 1)`` added to every value."""
        return 1 << (self.value_bits - 1)

    # -- encoding ----------------------------------------------------------------------------
    def quantize(self, array: NDArray[Any]) -> NDArray[np.uint64]:
        """Return the biased encodings ``u = round(x 2^s) + 2^(b-1)`` as a flat uint64 array.

        Raises:
            InvalidArgument: NaN or infinite values, or an unsupported dtype.
            PlaintextOverflow: A scaled value outside ``[-2^(b-1), 2^(b-1))``.
        """
        flat = array.reshape(-1)
        half = float(self.bias)
        if self.integer:
            as_int = flat.astype(np.int64)
            low, high = int(as_int.min()), int(as_int.max())
            if low < -self.bias or high >= self.bias:
                exponent = self.value_bits - 1
                raise PlaintextOverflow(f"integer values must lie in [-2^{exponent}, 2^{exponent})")
        else:
            scaled = np.ldexp(flat.astype(np.float64), self.scale_bits)
            if not np.all(np.isfinite(scaled)):
                raise InvalidArgument("cannot encrypt NaN or infinite values")
            rounded = np.rint(scaled)
            if float(rounded.min()) < -half or float(rounded.max()) >= half:
                raise PlaintextOverflow(
                    f"|x| * 2^{self.scale_bits} must stay below 2^{self.value_bits - 1}; "
                    "lower scale_bits, clip the values or raise value_bits"
                )
            as_int = rounded.astype(np.int64)
        return as_int.view(np.uint64) + np.uint64(self.bias)

    def pack(self, encodings: NDArray[np.uint64]) -> list[int]:
        """Pack biased encodings into plaintext integers, ``slots`` per integer (slot 0 lowest)."""
        count, slots, width = self.ciphertext_count, self.slots, self.slot_bits
        padded = np.full(count * slots, 0, dtype="<u8")
        padded[: encodings.size] = encodings
        bits = np.unpackbits(padded.view(np.uint8).reshape(-1, 8), axis=1, bitorder="little")
        rows = bits[:, :width].reshape(count, slots * width)
        row_bytes = np.packbits(rows, axis=1, bitorder="little")
        return [int.from_bytes(row.tobytes(), "little") for row in row_bytes]

    def unpack(self, plaintexts: Sequence[int], summands: int) -> NDArray[Any]:
        """Invert :meth:`pack` for plaintexts holding the sum of ``summands`` encodings.

        Raises:
            PlaintextOverflow: A plaintext or a slot exceeds what ``summands`` encodings can
                produce (wrong count, tampering or a decryption under the wrong key).
        """
        count, slots, width = self.ciphertext_count, self.slots, self.slot_bits
        if len(plaintexts) != count:
            raise InvalidArgument(f"expected {count} plaintexts, got {len(plaintexts)}")
        total_bits = slots * width
        nbytes = (total_bits + 7) // 8
        buffer = bytearray()
        for plaintext in plaintexts:
            value = int(plaintext)
            if value < 0 or value.bit_length() > total_bits:
                raise PlaintextOverflow("a decrypted plaintext exceeds the packed width")
            buffer += value.to_bytes(nbytes, "little")
        raw = np.frombuffer(bytes(buffer), dtype=np.uint8).reshape(count, nbytes)
        bits = np.unpackbits(raw, axis=1, bitorder="little")[:, :total_bits]
        slot_bits = bits.reshape(count * slots, width)[: self.size]
        full = np.zeros((self.size, MAX_SLOT_BITS), dtype=np.uint8)
        full[:, :width] = slot_bits
        sums = np.packbits(full, axis=1, bitorder="little").view("<u8").reshape(-1)
        limit = summands * ((1 << self.value_bits) - 1)
        if summands and sums.size and int(sums.max()) > limit:
            raise PlaintextOverflow("a slot exceeds the range of its summands")
        if summands == 0 and sums.size and int(sums.max()) != 0:
            raise PlaintextOverflow("a zero-weight vector decrypted to non-zero slots")
        offset = np.uint64((summands * self.bias) % (1 << 64))
        signed = (sums - offset).view(np.int64)
        if self.integer:
            return signed.reshape(self.shape)
        return np.ldexp(signed.astype(np.float64), -self.scale_bits).reshape(self.shape)
