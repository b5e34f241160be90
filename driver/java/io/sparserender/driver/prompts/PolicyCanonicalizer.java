package io.sparserender.driver.prompts;

/**
 * Turns a user's attention policy spec into its canonical form, or throws
 * {@link IllegalArgumentException} with a message naming the bad name, key or value.
 */
@FunctionalInterface
public interface PolicyCanonicalizer extends java.io.Serializable {
    String canonical(String spec);

    /** The engine's policy grammar ({@code name[:key=value,...]}), in its canonical spelling. */
    PolicyCanonicalizer ENGINE = spec -> {
        try {
            return io.sparserender.engine.attention.PolicySpec.parse(spec).spec();
        } catch (IllegalArgumentException e) {
            String m = String.valueOf(e.getMessage());
            String prefix = "Invalid policy spec '" + spec + "': ";
            throw new IllegalArgumentException(m.startsWith(prefix) ? m.substring(prefix.length()) : m, e);
        }
    };
}
