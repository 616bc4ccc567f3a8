package dev.attention4j.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.ExecutionException;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.MissingParameterException;
import picocli.CommandLine.OverwrittenOptionException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Entry point of {@code bin/attention}. Exit status: {@value #OK} on success, {@value #USAGE} for
 * bad input (arguments, files, shapes), {@value #INTERNAL} for internal failures. Every failure
 * prints exactly one line on stderr, starting with {@code error: }; stdout carries only results.
 *
 * <p>Set the system property {@code attention4j.trace=true} to also get the stack trace of an
 * internal failure.
 */
public final class Main {

  /** Success. */
  static final int OK = 0;
  /** An internal failure (a bug). */
  static final int INTERNAL = 1;
  /** Bad input: arguments, files, shapes or dtypes. */
  static final int USAGE = 2;

  private Main() {
  }

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /**
   * Runs the command line with the given streams and returns the exit status. Without arguments
   * it runs {@code demo}, the default job.
   */
  static int run(String[] args, PrintStream out, PrintStream err) {
    Console console = new Console(out, err);
    PrintWriter outWriter = new PrintWriter(out, true);
    PrintWriter errWriter = new PrintWriter(err, true);
    try {
      CommandLine cl = commandLine(console);
      cl.setOut(outWriter);
      cl.setErr(errWriter);
      // parse and execute here rather than in CommandLine.execute, whose fallback handler prints
      // stack traces: every failure goes through failure() and prints one line
      ParseResult parsed = cl.parseArgs(args.length == 0 ? new String[] {"demo"} : args);
      return new CommandLine.RunLast().execute(parsed);
    } catch (ParameterException ex) {
      console.error(describe(ex));
      return USAGE;
    } catch (ExecutionException ex) {
      return failure(console, ex.getCause() == null ? ex : ex.getCause());
    } catch (Throwable t) { // a bug, or an Error such as out of memory
      return failure(console, t);
    } finally {
      outWriter.flush();
      errWriter.flush();
      out.flush();
      err.flush();
    }
  }

  /** The command tree: {@code attention run|bench KERNEL ...} and {@code attention demo}. */
  static CommandLine commandLine(Console console) {
    CommandLine root = new CommandLine(new RootCommand());
    CommandLine run = new CommandLine(new RunCommand());
    CommandLine bench = new CommandLine(new BenchCommand());
    KernelCatalog.addRunCommands(run, console);
    KernelCatalog.addBenchCommands(bench, console);
    // linear attention has no log-sum-exp: it rejects the shared --lse, so its help omits it
    CommandSpec linear = run.getSubcommands().get("linear").getCommandSpec();
    OptionSpec lse = linear.findOption("--lse");
    linear.remove(lse);
    linear.addOption(OptionSpec.builder(lse).hidden(true).build());
    root.addSubcommand("run", run);
    root.addSubcommand("bench", bench);
    root.addSubcommand("demo", new CommandLine(new DemoCommand(console)));
    root.addSubcommand("fit-hedgehog", new CommandLine(new FitHedgehogCommand(console)));
    root.addSubcommand("render-masks", new CommandLine(new RenderMasksCommand(console)));
    return root;
  }

  private static int failure(Console console, Throwable ex) {
    if (ex instanceof UsageException u) {
      console.error(u.getMessage());
      return USAGE;
    }
    if (ex instanceof ParameterException p) {
      console.error(describe(p));
      return USAGE;
    }
    if (Boolean.getBoolean("attention4j.trace")) {
      ex.printStackTrace(console.err());
    }
    String what = ex instanceof OutOfMemoryError
        ? "out of memory (" + ex.getMessage() + "); give the JVM more heap, for example -Xmx8g"
        : "internal error: " + ex;
    console.error(what);
    return INTERNAL;
  }

  /** One line naming the problem, for a picocli parse error. */
  static String describe(ParameterException ex) {
    String where = commandPath(ex.getCommandLine());
    if (ex instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      List<String> unmatched = u.getUnmatched();
      String first = unmatched.get(0);
      Object user = ex.getCommandLine().getCommandSpec().userObject();
      if (first.startsWith("-") && !isNumber(first)) {
        String name = first.contains("=") ? first.substring(0, first.indexOf('=')) : first;
        if (user instanceof KernelGroup) {
          return "'" + where + "' needs the kernel before options: " + where + " KERNEL "
              + name + " ... (kernels: " + KernelCatalog.names(user instanceof BenchCommand)
              + ")";
        }
        String kernel = ex.getCommandLine().getCommandName();
        String owners = ex.getCommandLine().getParent() != null
            && ex.getCommandLine().getParent().getCommandSpec().userObject() instanceof KernelGroup
            ? KernelCatalog.owners(name, kernel) : "";
        if (!owners.isEmpty()) {
          return "kernel '" + kernel + "' does not take option '" + name + "' (an option of "
              + owners + ")";
        }
        return "unknown option '" + name + "' for '" + where + "'";
      }
      if (user instanceof KernelGroup) {
        return "unknown kernel '" + first + "' for '" + where + "' (kernels: "
            + KernelCatalog.names(user instanceof BenchCommand) + ")";
      }
      if (user instanceof RootCommand) {
        return "unknown command '" + first + "' (commands: run, bench, demo, fit-hedgehog, render-masks)";
      }
      return "unexpected argument '" + first + "' for '" + where + "'";
    }
    if (ex instanceof MissingParameterException || ex instanceof OverwrittenOptionException) {
      return ex.getMessage() + " (" + where + ")";
    }
    return ex.getMessage();
  }

  private static String commandPath(CommandLine cl) {
    String q = cl.getCommandSpec().qualifiedName(" ");
    return q.startsWith("attention ") ? q.substring("attention ".length()) : q;
  }

  private static boolean isNumber(String s) {
    try {
      Double.parseDouble(s.toLowerCase(Locale.ROOT).replace(",", ""));
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }
}
