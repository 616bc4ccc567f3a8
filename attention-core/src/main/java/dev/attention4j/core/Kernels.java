package dev.attention4j.core;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;


/**
 * Chooses the kernels once per JVM (Lucene's provider lookup): the SIMD provider when the module
 * {@code jdk.incubator.vector} is readable and a {@link KernelProvider} is on the path, else the
 * scalar fallback with one WARNING that names what is missing (the flag
 * {@code --add-modules jdk.incubator.vector}, or attention-simd).
 *
 * <p>The system property {@code attention4j.kernels} forces the choice: {@code scalar} always
 * takes the fallback; {@code simd} fails loudly ({@link IllegalStateException}) when the SIMD
 * kernels cannot be used.
 */
public final class Kernels {

  /** The system property that forces a choice: {@code simd} or {@code scalar}. */
  public static final String PROPERTY = "attention4j.kernels";

  private Kernels() {
  }

  /** The chosen provider. */
  public static KernelProvider provider() {
    return Holder.PROVIDER;
  }

  /** The fastest available dense kernel. */
  public static AttentionKernel dense() {
    return Holder.PROVIDER.dense();
  }

  /** The float64 oracle. */
  public static AttentionKernel reference() {
    return ReferenceAttention.INSTANCE;
  }

  /** The scalar fallback provider. */
  public static KernelProvider scalar() {
    return ScalarProvider.INSTANCE;
  }

  private static final class Holder {
    static final KernelProvider PROVIDER = lookup();
  }

  static KernelProvider lookup() {
    List<String> warnings = new ArrayList<>();
    KernelProvider chosen = choose(System.getProperty(PROPERTY, ""),
        ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(),
        ServiceLoader.load(KernelProvider.class).stream().findFirst().orElse(null), warnings);
    for (String w : warnings) {
      System.getLogger(Kernels.class.getName()).log(Level.WARNING, w);
    }
    return chosen;
  }

  /**
   * The choice of {@link #lookup}: the SIMD provider needs both the provider (attention-simd) and
   * a readable Vector API; a missing one is named in the warning, or in the exception when
   * {@code forced} is {@code simd}. The warning goes into {@code warnings}.
   */
  static KernelProvider choose(String forced, boolean vectorReadable,
      ServiceLoader.Provider<KernelProvider> simd, List<String> warnings) {
    forced = forced.trim();
    if (forced.equals("scalar")) {
      return ScalarProvider.INSTANCE;
    }
    if (!forced.isEmpty() && !forced.equals("simd")) {
      throw new IllegalStateException("system property " + PROPERTY + "=" + forced
          + ": expected 'simd' or 'scalar'");
    }
    String msg = null;
    if (simd == null) {
      msg = "no SIMD kernel provider found: put attention-simd on the class path or module path"
          + " to use the SIMD kernels";
    } else if (!vectorReadable) {
      msg = "Java Vector API is not readable: add --add-modules jdk.incubator.vector to the"
          + " java command line to use the SIMD kernels";
    }
    if (msg == null) {
      return simd.get();
    }
    if (forced.equals("simd")) {
      throw new IllegalStateException(msg);
    }
    warnings.add(msg + "; falling back to the scalar kernels, which are much slower");
    return ScalarProvider.INSTANCE;
  }

  private static final class ScalarProvider implements KernelProvider {
    static final ScalarProvider INSTANCE = new ScalarProvider();

    @Override
    public String name() {
      return "scalar";
    }

    @Override
    public AttentionKernel dense() {
      return ScalarAttention.INSTANCE;
    }
  }
}
