package dev.attention4j.quant;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.attention4j.simd.CodeKvSource;
import java.lang.module.ModuleDescriptor;
import org.junit.jupiter.api.Test;

/**
 * The public API names types of {@code dev.attention4j.simd} ({@link QuantizedKvCache.Source} is a
 * {@link CodeKvSource}, read by {@code SimdAttention.forwardSource}), so a module that requires
 * {@code dev.attention4j.quant} must read the SIMD module as well.
 */
class ModuleDescriptorTest {

  @Test
  void simdIsRequiredTransitively() {
    Module quant = QuantizedKvCache.class.getModule();
    assertTrue(quant.isNamed(), "tests run on the module path");
    assertTrue(CodeKvSource.class.isAssignableFrom(QuantizedKvCache.Source.class));
    assertTrue(quant.getDescriptor().requires().stream()
        .anyMatch(r -> r.name().equals("dev.attention4j.simd")
            && r.modifiers().contains(ModuleDescriptor.Requires.Modifier.TRANSITIVE)),
        quant.getDescriptor().requires().toString());
  }
}
