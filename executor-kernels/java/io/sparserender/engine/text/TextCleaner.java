package io.sparserender.engine.text;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.text.Normalizer;
import java.util.regex.Pattern;

/**
 * Wan's prompt cleaning ({@code wan/modules/tokenizers.py}, {@code clean='whitespace'}):
 * {@code whitespace_clean(basic_clean(text))} = fix the text (ftfy), unescape HTML twice, strip,
 * collapse every whitespace run to one space, strip.
 *
 * <p>{@link #fixText} is the part of {@code ftfy.fix_text}'s default pipeline this project reproduces,
 * in ftfy's order:
 * <ol>
 *   <li>HTML references unescaped once when the text has no '&lt;' (ftfy's {@code unescape_html="auto"});
 *   <li>ANSI terminal escapes ({@code ESC [ … letter}) removed;
 *   <li>mojibake: every maximal run of characters that Windows-1252 (sloppy, see {@link Cp1252}) can encode
 *       and that holds a non-ASCII character is re-encoded to bytes, and each complete, valid multi-byte
 *       UTF-8 sequence among them is replaced by the character it encodes (repeated up to 3 times for text
 *       mis-decoded twice). Covers UTF-8 read as Windows-1252 or Latin-1 ("cafÃ©" → "café", "â€™" → "’");
 *       ftfy's other heuristics (partial sequences, lossy "�" repairs, other code pages) are not covered;
 *   <li>Latin ligatures expanded (ﬀ ﬁ ﬂ ﬃ ﬄ ﬅ ﬆ Ĳ ĳ);
 *   <li>full-width and half-width forms (U+3000, U+FF01–U+FFEE) normalised by NFKC;
 *   <li>curly quotes straightened (U+02BC, U+2018–U+201B → ', U+201C–U+201F → ");
 *   <li>line breaks (CRLF, CR, U+0085, U+2028, U+2029) → LF;
 *   <li>control characters removed (C0 except TAB, LF, FF, CR; DEL; C1; the deprecated format controls
 *       U+206A–U+206F; U+FEFF; U+FFF9–U+FFFC);
 *   <li>NFC normalisation.
 * </ol>
 * Whitespace for the collapse is Python's {@code \s} on str: Unicode White_Space plus U+001C–U+001F.
 */
public final class TextCleaner {
    private static final Pattern TERMINAL_ESCAPE = Pattern.compile("\u001b\\[[0-9;?]*[A-Za-z]");
    private static final Pattern WHITESPACE = Pattern.compile("[\\s\\x1c-\\x1f]+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern LINE_BREAKS = Pattern.compile("\r\n|[\r\u0085\u2028\u2029]");
    private static final Pattern CONTROL = Pattern.compile(
            "[\\x00-\\x08\\x0b\\x0e-\\x1f\\x7f-\\x9f\\u206a-\\u206f\\ufeff\\ufff9-\\ufffc]");

    private TextCleaner() {}

    /** Wan's {@code whitespace_clean(basic_clean(text))}. */
    public static String clean(String text) {
        String t = fixText(text);
        t = HtmlEntities.unescape(HtmlEntities.unescape(t));
        t = stripPython(t);
        t = WHITESPACE.matcher(t).replaceAll(" ");
        return stripPython(t);
    }

    /** The covered part of {@code ftfy.fix_text} (see the class comment). */
    public static String fixText(String text) {
        String t = text;
        if (t.indexOf('<') < 0) {
            t = HtmlEntities.unescape(t);
        }
        t = TERMINAL_ESCAPE.matcher(t).replaceAll("");
        for (int pass = 0; pass < 3; pass++) {
            String fixed = fixMojibake(t);
            if (fixed.equals(t)) {
                break;
            }
            t = fixed;
        }
        t = fixLigatures(t);
        t = fixWidth(t);
        t = t.replaceAll("[\u02bc\u2018-\u201b]", "'").replaceAll("[\u201c-\u201f]", "\"");
        t = LINE_BREAKS.matcher(t).replaceAll("\n");
        t = CONTROL.matcher(t).replaceAll("");
        return Normalizer.normalize(t, Normalizer.Form.NFC);
    }

    /** Re-decodes each Windows-1252-encodable run holding non-ASCII characters as UTF-8 where that is valid. */
    static String fixMojibake(String s) {
        StringBuilder out = new StringBuilder(s.length());
        int i = 0;
        while (i < s.length()) {
            if (Cp1252.encode(s.charAt(i)) < 0) {
                out.append(s.charAt(i++));
                continue;
            }
            int start = i;
            boolean nonAscii = false;
            while (i < s.length() && Cp1252.encode(s.charAt(i)) >= 0) {
                nonAscii |= s.charAt(i) >= 0x80;
                i++;
            }
            String run = s.substring(start, i);
            out.append(nonAscii ? redecode(run) : run);
        }
        return out.toString();
    }

    /**
     * Replaces, inside one Windows-1252-encodable run, every byte sequence that is one complete, valid
     * multi-byte UTF-8 character by that character; other characters stay as they are.
     */
    private static String redecode(String run) {
        byte[] bytes = new byte[run.length()];
        for (int k = 0; k < bytes.length; k++) {
            bytes[k] = (byte) Cp1252.encode(run.charAt(k));
        }
        StringBuilder out = new StringBuilder(run.length());
        int k = 0;
        while (k < bytes.length) {
            int lead = bytes[k] & 0xFF;
            int len = lead >= 0xC2 && lead <= 0xDF ? 2 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xF0 && lead <= 0xF4 ? 4 : 0;
            if (len > 0 && k + len <= bytes.length) {
                String decoded = decodeStrict(bytes, k, len);
                if (decoded != null) {
                    out.append(decoded);
                    k += len;
                    continue;
                }
            }
            out.append(run.charAt(k));
            k++;
        }
        return out.toString();
    }

    private static String decodeStrict(byte[] bytes, int off, int len) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            return dec.decode(ByteBuffer.wrap(bytes, off, len)).toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }

    private static String fixLigatures(String s) {
        return s.replace("ﬀ", "ff").replace("ﬁ", "fi").replace("ﬂ", "fl").replace("ﬃ", "ffi").replace("ﬄ", "ffl")
                .replace("ﬅ", "ſt").replace("ﬆ", "st").replace("Ĳ", "IJ").replace("ĳ", "ij");
    }

    private static String fixWidth(String s) {
        StringBuilder out = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\u3000' || c >= '\uff01' && c <= '\uffee') {
                if (out == null) {
                    out = new StringBuilder(s.substring(0, i));
                }
                out.append(Normalizer.normalize(String.valueOf(c), Normalizer.Form.NFKC));
            } else if (out != null) {
                out.append(c);
            }
        }
        return out == null ? s : out.toString();
    }

    /** Python's str.strip(): removes leading and trailing characters for which str.isspace() holds. */
    private static String stripPython(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && isSpace(s.charAt(a))) {
            a++;
        }
        while (b > a && isSpace(s.charAt(b - 1))) {
            b--;
        }
        return s.substring(a, b);
    }

    private static boolean isSpace(char c) {
        return c >= 0x1c && c <= 0x1f || WHITESPACE.matcher(String.valueOf(c)).matches();
    }
}
