package dev.attention4j.quant;

/**
 * The SageAttention variants (SEMANTICS.md "Quantized", kernel-notes §7.2-7.4). All subtract the
 * key mean (K smoothing, exact for the softmax; the LSE adds back {@code scale * <q_i, kbar>}).
 *
 * <ul>
 *   <li>{@link #SAGE1}: INT8 Q per 128-token block, INT8 K per 64-token block; P and V float32;
 *   <li>{@link #SAGE2_INT8}: Q smoothing per 128-token block ({@code qbar K^T} added back in
 *       float32); INT8 Q and K with SageAttention2's per-thread scale groups (Q: in each 32-row
 *       warp tile, row {@code r} belongs to group {@code r mod 8}; K: in each 64-row tile, rows
 *       {@code 8i + 2t, 8i + 2t + 1} share group {@code t}); {@code P~ = exp(s - m) * 448} in FP8
 *       E4M3 per key tile with the running max; V in FP8 E4M3 with per-channel scales
 *       {@code max_t |V| / 448};
 *   <li>{@link #SAGE2_INT4}: the same with INT4 Q and K ({@code / 7});
 *   <li>{@link #SAGE3_NVFP4}: Q smoothing per 128 tokens; Q and K in NVFP4 along the head dim,
 *       V in NVFP4 along the tokens (16-element blocks, E4M3 scales); two-level P:
 *       {@code P~ = exp(s - m) * 2688}, per 16 keys {@code s = E4M3(max / 6)},
 *       {@code P = E2M1(P~ / s) * s}.
 * </ul>
 */
public enum SageVariant {
  SAGE1("sage1"),
  SAGE2_INT8("sage2-int8"),
  SAGE2_INT4("sage2-int4"),
  SAGE3_NVFP4("sage3-nvfp4");

  /** Query tokens per Q quantization block (sage1) and per Q smoothing block (sage2, sage3). */
  public static final int Q_BLOCK = 128;
  /** Key tokens per K quantization block (sage1) and per per-thread K tile (sage2). */
  public static final int K_BLOCK = 64;
  /** Rows per warp tile of the per-thread Q groups (sage2). */
  public static final int WARP_Q = 32;
  /** Keys per P quantization tile (the online softmax's running max is taken per tile). */
  public static final int P_TILE = 128;
  /** Elements per NVFP4 block (sage3). */
  public static final int FP4_BLOCK = 16;

  private final String id;

  SageVariant(String id) {
    this.id = id;
  }

  /** The command-line name, such as {@code "sage2-int8"}. */
  public String id() {
    return id;
  }

  /** The variant called {@code id}. */
  public static SageVariant byId(String id) {
    for (SageVariant v : values()) {
      if (v.id.equals(id)) {
        return v;
      }
    }
    throw new IllegalArgumentException("unknown sage variant \"" + id
        + "\" (use sage1, sage2-int8, sage2-int4 or sage3-nvfp4)");
  }

  /** Whether Q is smoothed per block with the {@code qbar K^T} term added back. */
  boolean smoothsQ() {
    return this != SAGE1;
  }

  /** The factor P is scaled by before quantization (1 when P stays float32). */
  float pScale() {
    return switch (this) {
      case SAGE1 -> 1f;
      case SAGE2_INT8, SAGE2_INT4 -> 448f;
      case SAGE3_NVFP4 -> 448f * 6f;
    };
  }
}
