package io.sparserender.engine.text;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTML character references, as Python's {@code html.unescape} resolves them: numeric references
 * ({@code &#38;}, {@code &#x26;}, the ';' optional) with its replacements (0, surrogates and values past
 * U+10FFFF become U+FFFD; 0x80–0x9F are read as Windows-1252), and named references followed by ';'.
 * Named references cover the common subset in {@link #NAMED} (HTML's 2,231 names are not all listed);
 * an unknown name is left as written.
 */
final class HtmlEntities {
    private static final Pattern REF = Pattern.compile("&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[A-Za-z][A-Za-z0-9]*;)");

    static final Map<String, String> NAMED = Map.ofEntries(
            Map.entry("amp", "&"), Map.entry("lt", "<"), Map.entry("gt", ">"), Map.entry("quot", "\""),
            Map.entry("apos", "'"), Map.entry("nbsp", "\u00a0"), Map.entry("copy", "©"), Map.entry("reg", "®"),
            Map.entry("trade", "™"), Map.entry("hellip", "…"), Map.entry("mdash", "—"), Map.entry("ndash", "–"),
            Map.entry("lsquo", "‘"), Map.entry("rsquo", "’"), Map.entry("sbquo", "‚"), Map.entry("ldquo", "“"),
            Map.entry("rdquo", "”"), Map.entry("bdquo", "„"), Map.entry("laquo", "«"), Map.entry("raquo", "»"),
            Map.entry("lsaquo", "‹"), Map.entry("rsaquo", "›"), Map.entry("deg", "°"), Map.entry("euro", "€"),
            Map.entry("pound", "£"), Map.entry("yen", "¥"), Map.entry("cent", "¢"), Map.entry("sect", "§"),
            Map.entry("para", "¶"), Map.entry("middot", "·"), Map.entry("bull", "•"), Map.entry("times", "×"),
            Map.entry("divide", "÷"), Map.entry("plusmn", "±"), Map.entry("frac12", "½"), Map.entry("frac14", "¼"),
            Map.entry("frac34", "¾"), Map.entry("iexcl", "¡"), Map.entry("iquest", "¿"), Map.entry("shy", "\u00ad"),
            Map.entry("ensp", "\u2002"), Map.entry("emsp", "\u2003"), Map.entry("thinsp", "\u2009"),
            Map.entry("zwnj", "\u200c"), Map.entry("zwj", "\u200d"), Map.entry("micro", "µ"), Map.entry("prime", "′"),
            Map.entry("Prime", "″"), Map.entry("larr", "←"), Map.entry("rarr", "→"), Map.entry("uarr", "↑"),
            Map.entry("darr", "↓"), Map.entry("hearts", "♥"), Map.entry("star", "☆"),
            Map.entry("aacute", "á"), Map.entry("eacute", "é"), Map.entry("iacute", "í"), Map.entry("oacute", "ó"),
            Map.entry("uacute", "ú"), Map.entry("Aacute", "Á"), Map.entry("Eacute", "É"), Map.entry("Iacute", "Í"),
            Map.entry("Oacute", "Ó"), Map.entry("Uacute", "Ú"), Map.entry("agrave", "à"), Map.entry("egrave", "è"),
            Map.entry("igrave", "ì"), Map.entry("ograve", "ò"), Map.entry("ugrave", "ù"), Map.entry("Agrave", "À"),
            Map.entry("Egrave", "È"), Map.entry("acirc", "â"), Map.entry("ecirc", "ê"), Map.entry("icirc", "î"),
            Map.entry("ocirc", "ô"), Map.entry("ucirc", "û"), Map.entry("auml", "ä"), Map.entry("euml", "ë"),
            Map.entry("iuml", "ï"), Map.entry("ouml", "ö"), Map.entry("uuml", "ü"), Map.entry("yuml", "ÿ"),
            Map.entry("Auml", "Ä"), Map.entry("Ouml", "Ö"), Map.entry("Uuml", "Ü"), Map.entry("szlig", "ß"),
            Map.entry("ntilde", "ñ"), Map.entry("Ntilde", "Ñ"), Map.entry("ccedil", "ç"), Map.entry("Ccedil", "Ç"),
            Map.entry("atilde", "ã"), Map.entry("otilde", "õ"), Map.entry("aring", "å"), Map.entry("Aring", "Å"),
            Map.entry("aelig", "æ"), Map.entry("AElig", "Æ"), Map.entry("oslash", "ø"), Map.entry("Oslash", "Ø"));

    private HtmlEntities() {}

    static String unescape(String s) {
        if (s.indexOf('&') < 0) {
            return s;
        }
        Matcher m = REF.matcher(s);
        StringBuilder sb = new StringBuilder(s.length());
        while (m.find()) {
            String ref = m.group(1);
            String replacement;
            if (ref.charAt(0) == '#') {
                replacement = numeric(ref);
            } else {
                replacement = NAMED.get(ref.substring(0, ref.length() - 1));
                if (replacement == null) {
                    replacement = m.group();
                }
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static String numeric(String ref) {
        String digits = ref.endsWith(";") ? ref.substring(1, ref.length() - 1) : ref.substring(1);
        long cp;
        try {
            cp = digits.charAt(0) == 'x' || digits.charAt(0) == 'X'
                    ? Long.parseLong(digits.substring(1), 16) : Long.parseLong(digits);
        } catch (NumberFormatException e) {
            cp = Long.MAX_VALUE; // longer than any code point
        }
        if (cp >= 0x80 && cp <= 0x9F) {
            return String.valueOf(Cp1252.decode((int) cp));
        }
        if (cp == 0 || cp > 0x10FFFF || cp >= 0xD800 && cp <= 0xDFFF) {
            return "\uFFFD";
        }
        return new String(Character.toChars((int) cp));
    }
}
