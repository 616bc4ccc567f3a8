package dev.attention4j.simd;

import dev.attention4j.core.Alignment;
import dev.attention4j.core.AttentionOptions;
import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The full size sweep (every listed length against every head dim, every width) and many more
 * random problems. Tagged {@code long}: run with {@code -Dtest.groups.excluded=}.
 */
@Tag("long")
class LongSweepTest {

  static final int[] LENGTHS = {1, 2, 7, 63, 64, 65, 127, 257, 1000};
  static final int[] HEAD_DIMS = {1, 13, 32, 64, 80, 96, 128, 256};

  static Stream<Arguments> sizes() {
    Stream.Builder<Arguments> b = Stream.builder();
    for (int sq : LENGTHS) {
      for (int sk : LENGTHS) {
        for (int d : HEAD_DIMS) {
          b.add(Arguments.of(sq, sk, d));
        }
      }
    }
    return b.build();
  }

  @ParameterizedTest(name = "Sq={0} Sk={1} D={2}")
  @MethodSource("sizes")
  void everySizeCausalAndNot(int sq, int sk, int d) {
    long seed = 1_000_003L * sq + 1009L * sk + d;
    System.out.println("sweep seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    Tensor q = Support.gaussian(rnd, DType.F32, 1, 1, 2, sq, d);
    Tensor k = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, d);
    Tensor v = Support.gaussian(rnd, DType.F32, 1, 1, 1, sk, d);
    for (AttentionOptions o : new AttentionOptions[] {
        AttentionOptions.defaults(),
        AttentionOptions.builder().causal(true).build(),
        AttentionOptions.builder().causal(true).alignment(Alignment.TOP_LEFT).window(33, 0)
            .build()}) {
      Support.check(SimdAttentionTest.KERNEL, q, k, v, o, "Sq=" + sq + " Sk=" + sk + " D=" + d
          + " " + o);
    }
  }

  static Stream<Arguments> manySeeds() {
    return IntStream.range(0, 600).mapToObj(c -> Arguments.of(0x10A6L + c, new int[] {0, 128,
        256, 512}[c % 4]));
  }

  @ParameterizedTest(name = "seed {0}, {1} bits")
  @MethodSource("manySeeds")
  void manyRandomProblems(long seed, int bits) {
    SimdAttentionTest.randomCase(seed, bits == 0 ? SimdAttentionTest.KERNEL
        : SimdAttention.withBits(bits), 6_000_000);
  }
}
