package dev.attention4j.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Bad options and mismatched tensors get an IllegalArgumentException naming the numbers. */
class OptionsAndShapeTest {

  static Tensor t(int... shape) {
    return Tensor.zeros(DType.F32, shape);
  }

  static Stream<Arguments> badCalls() {
    AttentionOptions none = AttentionOptions.defaults();
    return Stream.of(
        Arguments.of("infinite scale", (org.junit.jupiter.api.function.Executable)
            () -> AttentionOptions.builder().scale(Double.NEGATIVE_INFINITY), "scale"),
        Arguments.of("NaN scale", (org.junit.jupiter.api.function.Executable)
            () -> AttentionOptions.builder().scale(Double.NaN), "scale"),
        Arguments.of("negative softcap", (org.junit.jupiter.api.function.Executable)
            () -> AttentionOptions.builder().softcap(-2), "softcap"),
        Arguments.of("window -2", (org.junit.jupiter.api.function.Executable)
            () -> AttentionOptions.builder().window(-2, 0), "window (-2, 0)"),
        Arguments.of("negative kvLens", (org.junit.jupiter.api.function.Executable)
            () -> AttentionOptions.builder().kvLens(3, -1), "kvLens[1] = -1"),
        Arguments.of("rank", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(2, 3, 4), t(1, 1, 3, 4), t(1, 1, 3, 4), null, null, none),
            "Q has rank 3"),
        Arguments.of("head dim", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(1, 2, 3, 64), t(1, 1, 3, 80), t(1, 1, 3, 4), null, null,
                none), "K head dim 80 != Q head dim 64"),
        Arguments.of("gqa", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(1, 6, 3, 8), t(1, 4, 3, 8), t(1, 4, 3, 8), null, null,
                none), "query heads 6 are not a multiple of KV heads 4"),
        Arguments.of("v length", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(1, 2, 3, 8), t(1, 1, 5, 8), t(1, 1, 4, 8), null, null,
                none), "V length 4 != K length 5"),
        Arguments.of("out shape", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(1, 2, 3, 8), t(1, 1, 5, 8), t(1, 1, 5, 8), t(1, 2, 3, 9),
                null, none), "O has shape [1, 2, 3, 9]"),
        Arguments.of("alibi length", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(1, 2, 3, 8), t(1, 1, 5, 8), t(1, 1, 5, 8), null, null,
                AttentionOptions.builder().alibiSlopes(1, 2, 3).build()),
            "alibi slopes have 3 entries, expected one per query head (2)"),
        Arguments.of("kvLens beyond Sk", (org.junit.jupiter.api.function.Executable)
            () -> AttentionShape.of(t(1, 2, 3, 8), t(1, 1, 5, 8), t(1, 1, 5, 8), null, null,
                AttentionOptions.builder().kvLens(6).build()), "kvLens[0] = 6 exceeds"),
        Arguments.of("D = 0 without a scale", (org.junit.jupiter.api.function.Executable)
            () -> ReferenceAttention.INSTANCE.forward(t(1, 1, 3, 0), t(1, 1, 4, 0),
                t(1, 1, 4, 2), none), "head dim D = 0 has no default scale"),
        Arguments.of("view out of bounds", (org.junit.jupiter.api.function.Executable)
            () -> t(4).view(new int[] {5}, new long[] {1}, 0), "outside the backing array"),
        Arguments.of("element overflow", (org.junit.jupiter.api.function.Executable)
            () -> Tensor.zeros(DType.F32, 1 << 20, 1 << 20, 1 << 20, 1 << 20),
            "more elements than a long can count"),
        Arguments.of("too large for an array", (org.junit.jupiter.api.function.Executable)
            () -> Tensor.zeros(DType.F32, 1 << 16, 1 << 16), "more than one array can hold"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badCalls")
  void rejectedWithAClearMessage(String name, org.junit.jupiter.api.function.Executable call,
      String fragment) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
    assertTrue(e.getMessage().contains(fragment), "message was: " + e.getMessage());
  }

  @Test
  void causalWithWindowIsTheIntersection() {
    AttentionOptions o = AttentionOptions.builder().causal(true).window(4, 3).build();
    assertEquals(new Mask.Band(4, 0), o.mask());
    assertEquals(new Mask.Band(-1, 0), AttentionOptions.builder().causal(true).build().mask());
    assertEquals(null, AttentionOptions.defaults().mask());
  }

  @Test
  void defaultScaleIsInverseSqrtOfHeadDim() {
    assertEquals(0.125, AttentionOptions.defaults().scale(64));
    assertEquals(2.0, AttentionOptions.builder().scale(2).build().scale(64));
    assertEquals(2.0, AttentionOptions.builder().scale(2).build().scale(0));
  }
}
