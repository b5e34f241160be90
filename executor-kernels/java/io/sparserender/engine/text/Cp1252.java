package io.sparserender.engine.text;

/**
 * Windows-1252 for bytes 0x80–0x9F (0x00–0x7F and 0xA0–0xFF are Latin-1), "sloppy" as ftfy reads it:
 * the five bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) map to the C1 control
 * characters of the same value, so every byte has a character and back.
 */
final class Cp1252 {
    private static final char[] HIGH = {
        '€', '\u0081', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u008d', 'Ž', '\u008f',
        '\u0090', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u009d', 'ž', 'Ÿ'};

    private Cp1252() {}

    static char decode(int b) {
        return b >= 0x80 && b <= 0x9F ? HIGH[b - 0x80] : (char) b;
    }

    /** The byte of a character, or -1 when the character has none. */
    static int encode(char c) {
        if (c < 0x80 || c >= 0xA0 && c <= 0xFF) {
            return c;
        }
        for (int i = 0; i < HIGH.length; i++) {
            if (HIGH[i] == c) {
                return 0x80 + i;
            }
        }
        return -1;
    }
}
