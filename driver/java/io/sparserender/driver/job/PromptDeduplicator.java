package io.sparserender.driver.job;

import io.sparserender.driver.prompts.Validation;
import io.sparserender.engine.pipeline.ClipSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns validated rows into unique clips. Rows with the same clip spec are one clip, rendered once
 * (the later rows are listed as duplicates); an {@code id} used twice for different specs is an
 * error of the later row.
 */
final class PromptDeduplicator {
    record Result(List<ClipSpec> clips, List<Validation.Rejected> rejected, int duplicateRows) {}

    private PromptDeduplicator() {}

    static Result dedupe(List<Validation> rows) {
        Map<String, ClipSpec> clips = new LinkedHashMap<>();
        Map<String, Validation.Accepted> firstOfClip = new HashMap<>();
        Map<String, Validation.Accepted> firstOfId = new HashMap<>();
        List<Validation.Rejected> rejected = new ArrayList<>();
        int duplicates = 0;
        for (Validation v : rows) {
            if (v instanceof Validation.Rejected r) {
                rejected.add(r);
                continue;
            }
            Validation.Accepted a = (Validation.Accepted) v;
            String clipId = a.spec().clipId();
            if (a.userId() != null) {
                Validation.Accepted prev = firstOfId.putIfAbsent(a.userId(), a);
                if (prev != null && !prev.spec().clipId().equals(clipId)) {
                    rejected.add(new Validation.Rejected(a.source(), a.row(), "duplicate id '" + a.userId()
                            + "' (first used on row " + prev.row() + " of " + prev.source() + " for a different clip)"));
                    continue;
                }
            }
            Validation.Accepted first = firstOfClip.putIfAbsent(clipId, a);
            if (first != null) {
                duplicates++;
                continue;
            }
            clips.put(clipId, a.spec());
        }
        return new Result(new ArrayList<>(clips.values()), rejected, duplicates);
    }
}
