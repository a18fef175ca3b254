package dev.streamingllm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code bin/streamingllm}: results on stdout, progress and timings on stderr. */
@Command(
        name = "streamingllm",
        mixinStandardHelpOptions = true,
        version = "streamingllm 0.1.0",
        description = "Endless local LLM streams: attention sinks plus a rolling KV window.",
        subcommands = {
            InfoCommand.class,
            TokenizeCommand.class,
            GenerateCommand.class,
            LogitsCommand.class,
            PerplexityCommand.class,
            AttentionCommand.class,
            BenchCommand.class,
            GpuBenchCommand.class,
            PullCommand.class,
        })
public final class StreamingLlmCli {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The tool's command line; bad input (missing files, malformed models, bad options) gets one clear line, not a stack trace. */
    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new StreamingLlmCli());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("error: " + e.getMessage());
            return 2;
        });
        return cli;
    }
}
