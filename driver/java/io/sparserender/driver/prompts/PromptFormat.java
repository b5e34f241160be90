package io.sparserender.driver.prompts;

import java.util.Locale;

/** Prompt dataset formats, chosen from the path's extension unless given. */
public enum PromptFormat {
    JSONL, CSV, PARQUET;

    public static PromptFormat ofPath(String path) {
        String p = path.toLowerCase(Locale.ROOT);
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.endsWith(".jsonl") || p.endsWith(".ndjson") || p.endsWith(".json")) {
            return JSONL;
        }
        if (p.endsWith(".csv")) {
            return CSV;
        }
        if (p.endsWith(".parquet") || p.endsWith(".pq")) {
            return PARQUET;
        }
        throw new IllegalArgumentException("Cannot tell the format of prompts " + path
                + ": name it .jsonl, .csv or .parquet, or pass --prompts-format jsonl|csv|parquet");
    }
}
