package dev.attention4j.core.io;

import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The safetensors dtype strings this package handles, with their item sizes. All are whole
 * bytes; the sub-byte types ({@code F4}, {@code F6_*}) and the rarer 8-bit float variants are not
 * supported.
 */
enum StDType {
  F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U64(8), U32(4), U16(2), U8(1),
  BOOL(1), F8_E4M3(1), F8_E5M2(1);

  /** Names of the dtypes from the safetensors spec that are recognised but not supported. */
  static final Set<String> KNOWN_UNSUPPORTED = Set.of("C64", "F8_E8M0", "F8_E4M3FNUZ",
      "F8_E5M2FNUZ", "F4", "F6_E2M3", "F6_E3M2");

  /** The supported names, for messages. */
  static final String SUPPORTED = Arrays.stream(values()).map(Enum::name)
      .collect(Collectors.joining(", "));

  final int itemSize;

  StDType(int itemSize) {
    this.itemSize = itemSize;
  }

  /** The dtype named {@code name}, or {@code null}. */
  static StDType byName(String name) {
    for (StDType t : values()) {
      if (t.name().equals(name)) {
        return t;
      }
    }
    return null;
  }

  /** Why {@code name} is not usable, for a message. */
  static String problem(String name) {
    return (KNOWN_UNSUPPORTED.contains(name) ? "unsupported dtype \"" : "unknown dtype \"")
        + name + "\" (supported: " + SUPPORTED + ")";
  }

  boolean isInteger() {
    return switch (this) {
      case I64, I32, I16, I8, U64, U32, U16, U8, BOOL -> true;
      default -> false;
    };
  }

  /** Decodes an OCP FP8 E4M3 ("fn") byte: bias 7, no infinities, NaN = 0x7F / 0xFF. */
  static float e4m3ToFloat(byte b) {
    int v = b & 0xFF;
    int exp = (v >>> 3) & 0xF;
    int man = v & 0x7;
    float sign = (v & 0x80) != 0 ? -1f : 1f;
    if (exp == 0xF && man == 0x7) {
      return Float.NaN;
    }
    if (exp == 0) {
      return sign * man * 0x1p-9f; // subnormal: man/8 * 2^-6
    }
    return sign * (1f + man / 8f) * Math.scalb(1f, exp - 7);
  }

  /** Decodes an FP8 E5M2 byte: the upper half of an IEEE binary16. */
  static float e5m2ToFloat(byte b) {
    return Float.float16ToFloat((short) ((b & 0xFF) << 8));
  }
}
