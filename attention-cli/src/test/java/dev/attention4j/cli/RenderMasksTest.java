package dev.attention4j.cli;

import static dev.attention4j.cli.CliFixtures.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code render-masks}: valid PNGs that show the library's masks, and usage errors. */
class RenderMasksTest {

  private static final byte[] PNG_MAGIC = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

  @TempDir
  Path dir;

  @Test
  void writesOneValidPngPerListedPicture() throws IOException {
    Path out = dir.resolve("img");   // created by the command
    CliFixtures.Run r = run("render-masks", "--out", out.toString()).ok();
    List<String> lines = r.out().lines().toList();
    assertTrue(lines.size() >= 12, () -> "pictures listed: " + r.out());
    try (var files = Files.list(out)) {
      assertEquals(lines.size(), files.count(), "one file per listed picture, no leftovers");
    }
    for (String line : lines) {
      Path png = Path.of(line.substring(0, line.indexOf("  ")));
      byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
      assertArrayEquals(PNG_MAGIC, head, png::toString);
      BufferedImage img = ImageIO.read(png.toFile());
      assertNotNull(img, png::toString);
      assertTrue(img.getWidth() > 50 && img.getHeight() > 50, png::toString);
    }
  }

  @Test
  void causalPictureFollowsTheBottomRightDiagonal() throws IOException {
    run("render-masks", "--out", dir.toString()).ok();
    // Sq 8, Sk 14, cells of 20 px: query 0 sees keys 0..6 (off = 6), query 7 sees every key
    BufferedImage img = ImageIO.read(dir.resolve("causal-bottom-right.png").toFile());
    assertEquals(14 * 20 + 1, img.getWidth());
    assertEquals(8 * 20 + 1, img.getHeight());
    assertEquals(MaskPictures.VISIBLE, centre(img, 0, 6));
    assertEquals(MaskPictures.HIDDEN, centre(img, 0, 7));
    assertEquals(MaskPictures.VISIBLE, centre(img, 7, 13));
    BufferedImage topLeft = ImageIO.read(dir.resolve("causal-top-left.png").toFile());
    assertEquals(MaskPictures.VISIBLE, centre(topLeft, 0, 0));
    assertEquals(MaskPictures.HIDDEN, centre(topLeft, 0, 1));
    assertEquals(MaskPictures.HIDDEN, centre(topLeft, 7, 8));
  }

  @Test
  void sameSeedGivesTheSameBytes() throws IOException {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    run("render-masks", "--out", a.toString(), "--seed", "3").ok();
    run("render-masks", "--out", b.toString(), "--seed", "3").ok();
    assertArrayEquals(Files.readAllBytes(a.resolve("moba.png")),
        Files.readAllBytes(b.resolve("moba.png")));
    assertArrayEquals(Files.readAllBytes(a.resolve("nabla.png")),
        Files.readAllBytes(b.resolve("nabla.png")));
  }

  @Test
  void badOutIsAUsageError() throws IOException {
    Path file = Files.writeString(dir.resolve("plain.txt"), "x");
    run("render-masks", "--out", file.toString()).usageError("not a directory");
    assertEquals("x", Files.readString(file));
    run("render-masks", "--out", file.resolve("sub").toString()).usageError("--out");
    run("render-masks").usageError("--out");
    try (var files = Files.list(dir)) {
      assertFalse(files.anyMatch(p -> p.toString().endsWith(".png")));
    }
  }

  private static int centre(BufferedImage img, int row, int col) {
    return img.getRGB(col * 20 + 10, row * 20 + 10) & 0xFFFFFF;
  }
}
