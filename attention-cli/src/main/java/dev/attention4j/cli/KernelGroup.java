package dev.attention4j.cli;

/** A command whose subcommands are kernels: {@code run KERNEL} and {@code bench KERNEL}. */
interface KernelGroup {
}
