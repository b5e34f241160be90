package io.sparserender.jobs;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code sparse-render}: one entry point, one subcommand per job. Exit codes: 0 success, 2 usage
 * error, 1 failure. Errors are one line on stderr; {@code --verbose} adds the stack trace.
 */
@Command(name = "sparse-render",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Renders prompt datasets into videos with a Wan 2.2 class DiT and sparse attention.",
        subcommands = {
            DoctorCommand.class,
            GenerateCommand.class,
            ReportCommand.class,
            AttentionCommand.class,
            ForwardCheckCommand.class,
            BenchCommand.class,
            CommandLine.HelpCommand.class,
        })
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_USAGE = 2;

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print stack traces with errors.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing command (doctor, generate, report, attention, forward-check, bench)");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (tests call this directly). */
    public static int run(String... args) {
        return commandLine().execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            boolean verbose = parseResult.hasMatchedOption("--verbose")
                    || parseResult.subcommands().stream().anyMatch(p -> p.hasMatchedOption("--verbose"));
            if (ex instanceof CommandLine.ParameterException pe) {
                commandLine.getErr().println("sparse-render " + commandLine.getCommandName() + ": " + pe.getMessage());
                return EXIT_USAGE;
            }
            if (ex instanceof UsageException ue) {
                commandLine.getErr().println("sparse-render " + commandLine.getCommandName() + ": " + ue.getMessage());
                commandLine.getErr().println("Try 'sparse-render " + commandLine.getCommandName() + " --help'.");
                return EXIT_USAGE;
            }
            commandLine.getErr().println("sparse-render " + commandLine.getCommandName() + ": error: " + oneLine(ex));
            if (verbose) {
                ex.printStackTrace(commandLine.getErr());
            }
            return EXIT_FAILURE;
        });
        cl.setParameterExceptionHandler((ex, args) -> {
            CommandLine c = ex.getCommandLine();
            String name = c.getParent() == null ? "sparse-render" : "sparse-render " + c.getCommandName();
            c.getErr().println(name + ": " + ex.getMessage());
            c.getErr().println("Try '" + name + " --help'.");
            return EXIT_USAGE;
        });
        return cl;
    }

    static String oneLine(Throwable ex) {
        String msg = ex.getMessage();
        if (msg == null || msg.isBlank()) {
            msg = ex.getClass().getSimpleName();
        }
        int nl = msg.indexOf('\n');
        return nl < 0 ? msg : msg.substring(0, nl);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"sparse-render " + (v == null ? "(development build)" : v)};
        }
    }
}
