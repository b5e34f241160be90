package io.sparserender.jobs;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Reserved: filled by a later issue. */
@Command(name = "forward-check", mixinStandardHelpOptions = true,
        description = {"Run one forward pass of a checkpoint component on given inputs.", "Not available in this build yet."})
final class ForwardCheckCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new IllegalStateException("'forward-check' is not available in this build yet");
    }
}
