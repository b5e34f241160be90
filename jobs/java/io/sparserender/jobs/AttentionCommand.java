package io.sparserender.jobs;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Reserved: filled by a later issue. */
@Command(name = "attention", mixinStandardHelpOptions = true,
        description = {"Run sparse attention over dumped Q/K/V tensors and report its statistics.", "Not available in this build yet."})
final class AttentionCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new IllegalStateException("'attention' is not available in this build yet");
    }
}
