package io.sparserender.jobs;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** Reserved: filled by a later issue. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Render prompts into MP4 videos and statistics (Spark job).", "Not available in this build yet."})
final class GenerateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        throw new IllegalStateException("'generate' is not available in this build yet");
    }
}
