package io.sparserender.driver.prompts;

/**
 * Turns a user's attention policy spec into its canonical form, or throws
 * {@link IllegalArgumentException} with a message naming the bad name, key or value.
 */
@FunctionalInterface
public interface PolicyCanonicalizer extends java.io.Serializable {
    String canonical(String spec);
}
