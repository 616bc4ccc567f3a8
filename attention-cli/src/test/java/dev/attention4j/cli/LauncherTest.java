package dev.attention4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/attention} itself, on a stand-in project: a copy of the script next to a
 * {@code find-jdk25} that names a fake JDK whose {@code java} echoes its arguments, and an
 * up-to-date jar, so nothing is built and no JVM starts.
 */
class LauncherTest {

  @TempDir
  Path dir;

  private Path project;

  private static Path realLauncher() {
    // tests run in attention-cli/; the launcher is bin/attention at the project root
    return Path.of("").toAbsolutePath().getParent().resolve("bin").resolve("attention");
  }

  private void standIn() throws IOException {
    Path launcher = realLauncher();
    assumeTrue(Files.isRegularFile(launcher) && Files.isExecutable(Path.of("/bin/bash")),
        "needs bin/attention and bash");
    project = dir.resolve("a project");
    Path jdk = dir.resolve("fake jdk");
    script(project.resolve("bin/attention"), Files.readString(launcher));
    script(project.resolve("bin/find-jdk25"), "#!/bin/sh\necho '" + jdk + "'\n");
    script(jdk.resolve("bin/java"), "#!/bin/sh\necho \"java $*\"\n");
    Path jar = project.resolve("attention-cli/target/attention-cli.jar");
    Files.createDirectories(jar.getParent());
    Files.writeString(jar, "");
  }

  private static void script(Path p, String text) throws IOException {
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private record Result(int code, String out, String err) {}

  private static Result exec(Path cwd, String... command) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(command));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
    pb.environment().remove("JAVA_HOME");
    Path out = Files.createTempFile(cwd, "out", ".txt");
    Path err = Files.createTempFile(cwd, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("launcher did not finish: " + cmd);
    }
    return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  private String expected(String args) throws IOException {
    Path jar = project.toRealPath().resolve("attention-cli/target/attention-cli.jar");
    return "java --add-modules jdk.incubator.vector -jar " + jar + " " + args + "\n";
  }

  @Test
  void runsTheJarWithTheVectorModule() throws Exception {
    standIn();
    Result r = exec(dir, project.resolve("bin/attention").toString(), "run", "dense");
    assertEquals(0, r.code(), r.err());
    assertEquals(expected("run dense"), r.out());
    assertEquals("", r.err());
  }

  /** A stand-in {@code bin/mvn25} that prints like Maven 3.8 in quiet mode and then exits. */
  private void fakeMaven(boolean succeed) throws IOException {
    Files.delete(project.resolve("attention-cli/target/attention-cli.jar"));
    // Maven 3.8 -q ends its output with colour resets and no newline
    script(project.resolve("bin/mvn25"), "#!/bin/sh\n"
        + "echo '[ERROR] compiler output' >&2\n"
        + "printf 'no newline\\033[0m\\033[0m'\n"
        + (succeed ? ": > \"$(dirname \"$0\")/../attention-cli/target/attention-cli.jar\"\n"
            : "exit 1\n"));
  }

  @Test
  void aBuildOnTheFirstCallLeavesTheStreamsToTheCommand() throws Exception {
    standIn();
    fakeMaven(true);
    Result r = exec(dir, project.resolve("bin/attention").toString(), "run", "dense");
    assertEquals(0, r.code(), r.err());
    assertEquals(expected("run dense"), r.out());
    // not a terminal: the build log stays in a file, so an 'error:' line would be the only line
    assertEquals("", r.err());
    assertTrue(Files.readString(project.resolve("attention-cli/target/build.log"))
        .contains("compiler output"));
  }

  @Test
  void aFailedBuildShowsItsLogAndEndsWithOneErrorLine() throws Exception {
    standIn();
    fakeMaven(false);
    Result r = exec(dir, project.resolve("bin/attention").toString(), "run", "dense");
    assertEquals(1, r.code(), r.err());
    assertEquals("", r.out());
    List<String> lines = r.err().lines().toList();
    assertTrue(r.err().contains("compiler output"), r.err());
    assertTrue(lines.get(lines.size() - 1).startsWith("error: build failed"), r.err());
    assertFalse(r.err().contains("\033"), r.err());
    assertEquals(1, lines.stream().filter(l -> l.startsWith("error:")).count(), r.err());
  }

  @Test
  void theJvmsOwnNoticesAreDroppedFromStderr() throws Exception {
    standIn();
    script(dir.resolve("fake jdk/bin/java"), "#!/bin/sh\n"
        + "echo 'Picked up JAVA_TOOL_OPTIONS: -Xmx2g' >&2\n"
        + "echo 'NOTE: Picked up JDK_JAVA_OPTIONS: -Xss4m' >&2\n"
        + "echo 'Picked up _JAVA_OPTIONS: -Xms1g' >&2\n"
        + "echo 'WARNING: Using incubator modules: jdk.incubator.vector' >&2\n"
        + "echo 'error: --q x.npy: no such file' >&2\n"
        + "exit 2\n");
    Result r = exec(dir, project.resolve("bin/attention").toString(), "run", "dense");
    assertEquals(2, r.code(), r.err());
    assertEquals("error: --q x.npy: no such file\n", r.err());
    assertEquals("", r.out());
  }

  @Test
  void findsItsProjectThroughSymbolicLinks() throws Exception {
    standIn();
    Path links = Files.createDirectories(dir.resolve("links"));
    Files.createSymbolicLink(links.resolve("attention"), project.resolve("bin/attention"));
    // a relative link to that link, from another directory
    Path more = Files.createDirectories(dir.resolve("more"));
    Files.createSymbolicLink(more.resolve("att"), Path.of("../links/attention"));
    for (Path link : List.of(links.resolve("attention"), more.resolve("att"))) {
      Result r = exec(dir, link.toString(), "demo");
      assertEquals(0, r.code(), link + ": " + r.err());
      assertEquals(expected("demo"), r.out(), link.toString());
    }
  }
}
