package dev.attention4j.linear;

import static dev.attention4j.linear.Fixtures.assertWithinTolerance;
import static dev.attention4j.linear.Fixtures.gaussian;
import static dev.attention4j.linear.Fixtures.reference;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.core.DType;
import dev.attention4j.core.Tensor;
import dev.attention4j.core.io.TensorFileException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The recurrent form equals the quadratic reference (and so the chunked form); save/restore. */
class LinearAttentionStateTest {

  @TempDir
  Path dir;

  static Stream<Arguments> cases() {
    // value dims: one vector and a tail (24), four-vector blocks and tails (71, 136)
    return Stream.of(Arguments.of("elu1", "normalized", 31L, 24), Arguments.of("hedgehog",
        "normalized", 32L, 71), Arguments.of("hedgehog-exp", "decay", 33L, 136),
        Arguments.of("identity", "unnormalized", 34L, 24), Arguments.of("relu", "decay", 35L, 71),
        Arguments.of("elu1", "decay", 36L, 136));
  }

  @ParameterizedTest(name = "{0} {1} seed={2} Dv={3}")
  @MethodSource("cases")
  void recurrentEqualsPrefill(String mapName, String mode, long seed, int dv) throws IOException {
    System.out.println("recurrentEqualsPrefill " + mapName + " " + mode + " seed " + seed);
    SplittableRandom rnd = new SplittableRandom(seed);
    int hq = 4;
    int hkv = 2;
    int n = 150;
    int d = 16;
    Tensor q = gaussian(rnd, 1, 1, hq, n, d);
    Tensor k = gaussian(rnd, 1, 1, hkv, n, d);
    Tensor v = gaussian(rnd, 1, 1, hkv, n, dv);
    FeatureMap map = Fixtures.map(mapName, rnd, hq, hkv, d, 12);
    LinearOptions o = LinearAttentionTest.options(map, mode, 64, hq);
    Tensor ref = reference(q, k, v, o);
    Tensor got = Tensor.zeros(DType.F32, 1, hq, n, dv);
    int split = 97;
    for (int h = 0; h < hq; h++) {
      int g = h / (hq / hkv);
      LinearAttentionState st = LinearAttentionState.create(o, h, g, d, dv);
      float[] out = new float[dv];
      // bulk append of a prefix, then one query, then steps
      float[] kk = rows(k, g, 0, split, d);
      float[] vv = rows(v, g, 0, split, dv);
      st.append(kk, vv, split - 1);
      float[] last = rows(k, g, split - 1, split, d);
      float[] lastV = rows(v, g, split - 1, split, dv);
      // save and restore into a fresh state halfway
      Path file = dir.resolve("state-" + h + ".safetensors");
      st.save(file);
      LinearAttentionState st2 = LinearAttentionState.create(o, h, g, d, dv);
      st2.restore(file);
      assertEquals(split - 1, st2.length());
      assertArrayEquals(st.state(), st2.state());
      assertArrayEquals(st.normalizer(), st2.normalizer());
      st2.step(rows(q, h, split - 1, split, d), last, lastV, out);
      put(got, h, split - 1, out);
      for (int t = split; t < n; t++) {
        st2.step(rows(q, h, t, t + 1, d), rows(k, g, t, t + 1, d), rows(v, g, t, t + 1, dv),
            out);
        put(got, h, t, out);
      }
      // rows before the split: a fresh state stepped one key at a time
      LinearAttentionState st3 = LinearAttentionState.create(o, h, g, d, dv);
      for (int t = 0; t < split - 1; t++) {
        st3.step(rows(q, h, t, t + 1, d), rows(k, g, t, t + 1, d), rows(v, g, t, t + 1, dv),
            out);
        put(got, h, t, out);
      }
    }
    assertWithinTolerance(ref, got, mapName + " " + mode + " recurrent vs quadratic");
  }

  @ParameterizedTest(name = "seed={0}")
  @MethodSource("seeds")
  void restoreRejectsOtherConfiguration(long seed) throws IOException {
    System.out.println("restoreRejectsOtherConfiguration seed " + seed);
    LinearOptions o = LinearOptions.builder(FeatureMap.elu1()).causal(true).build();
    LinearAttentionState st = LinearAttentionState.create(o, 0, 0, 8, 8);
    st.append(new float[8], new float[8], 1);
    Path file = dir.resolve("s.safetensors");
    st.save(file);
    LinearAttentionState other = LinearAttentionState.create(o, 0, 0, 8, 16);
    TensorFileException e = assertThrows(TensorFileException.class, () -> other.restore(file));
    assertTrue(e.getMessage().contains("saved value_dim is 8, this state has 16"),
        e.getMessage());
  }

  static Stream<Long> seeds() {
    return Stream.of(36L);
  }

  private static float[] rows(Tensor t, int h, int from, int to, int dim) {
    float[] x = new float[(to - from) * dim];
    for (int r = from; r < to; r++) {
      for (int e = 0; e < dim; e++) {
        x[(r - from) * dim + e] = t.getFloat(0, h, r, e);
      }
    }
    return x;
  }

  private static void put(Tensor out, int h, int t, float[] o) {
    for (int e = 0; e < o.length; e++) {
      out.set(o[e], 0, h, t, e);
    }
  }
}
