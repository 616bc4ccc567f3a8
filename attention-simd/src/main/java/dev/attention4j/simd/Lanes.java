package dev.attention4j.simd;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The vector width of an engine. Each width is a tiny class holding its species in a
 * {@code static final} field (TOOLCHAIN.md pitfall 1), and the hot loops call
 * {@link #species()} on a {@code Lanes} argument. While only one width is loaded in the JVM (the
 * preferred one, in production), C2 devirtualises that call by class-hierarchy analysis and
 * folds the species to a constant, so the single copy of each microkernel compiles to plain
 * AVX code. Tests that load several widths stay correct, only slower.
 */
abstract sealed class Lanes permits Lanes.W128, Lanes.W256, Lanes.W512 {

  /** The float species of this width. */
  abstract VectorSpecies<Float> species();

  /**
   * The byte species with as many lanes as {@link #species()} (8-bit codes loaded for
   * conversion), or null where no vector shape is that small (128 bits: 4 bytes).
   */
  abstract VectorSpecies<Byte> bytes();

  /** The int species of the same width as {@link #species()}. */
  abstract VectorSpecies<Integer> ints();

  /** The byte species of the same width as {@link #species()} (scans over 8-bit codes). */
  abstract VectorSpecies<Byte> wideBytes();

  /**
   * The width for {@code bits} (128, 256 or 512), or the preferred one for 0.
   *
   * @throws IllegalStateException naming {@code --add-modules jdk.incubator.vector} when the
   *     Vector API is not in the JVM (class path without the flag), instead of a
   *     {@link NoClassDefFoundError} from the first vector class
   */
  static Lanes of(int bits) {
    requireVectorApi();
    int b = bits == 0 ? FloatVector.SPECIES_PREFERRED.vectorBitSize() : bits;
    return switch (b) {
      case 128 -> new W128();
      case 256 -> new W256();
      case 512 -> new W512();
      default -> throw new IllegalArgumentException("vector width " + bits
          + " bits is not supported: use 128, 256 or 512 (or 0 for the preferred width "
          + FloatVector.SPECIES_PREFERRED.vectorBitSize() + ")");
    };
  }

  /** Throws the exception of {@link #of} when the Vector API is not readable. */
  static void requireVectorApi() {
    requireVectorApi(Lanes.class.getModule().isNamed()
        || ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent());
  }

  /** Throws the exception of {@link #of} when {@code readable} is false. */
  static void requireVectorApi(boolean readable) {
    if (!readable) {
      throw new IllegalStateException("Java Vector API is not readable: add --add-modules"
          + " jdk.incubator.vector to the java command line (or to Surefire's argLine) to use the"
          + " SIMD kernels of attention4j");
    }
  }

  static final class W128 extends Lanes {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_128;
    private static final VectorSpecies<Byte> B = null;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_128;
    private static final VectorSpecies<Byte> WIDE = ByteVector.SPECIES_128;

    @Override
    VectorSpecies<Byte> wideBytes() {
      return WIDE;
    }

    @Override
    VectorSpecies<Byte> bytes() {
      return B;
    }

    @Override
    VectorSpecies<Integer> ints() {
      return I;
    }

    @Override
    VectorSpecies<Float> species() {
      return S;
    }
  }

  static final class W256 extends Lanes {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_256;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final VectorSpecies<Byte> WIDE = ByteVector.SPECIES_256;

    @Override
    VectorSpecies<Byte> wideBytes() {
      return WIDE;
    }

    @Override
    VectorSpecies<Byte> bytes() {
      return B;
    }

    @Override
    VectorSpecies<Integer> ints() {
      return I;
    }

    @Override
    VectorSpecies<Float> species() {
      return S;
    }
  }

  static final class W512 extends Lanes {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_512;
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_128;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_512;
    private static final VectorSpecies<Byte> WIDE = ByteVector.SPECIES_512;

    @Override
    VectorSpecies<Byte> wideBytes() {
      return WIDE;
    }

    @Override
    VectorSpecies<Byte> bytes() {
      return B;
    }

    @Override
    VectorSpecies<Integer> ints() {
      return I;
    }

    @Override
    VectorSpecies<Float> species() {
      return S;
    }
  }
}
