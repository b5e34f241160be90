package io.sparserender.engine.text;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class TextCleanerTest {
    @Test
    void collapsesAndStripsWhitespace() {
        assertThat(TextCleaner.clean("  a\tcat \n\n on\u00a0the\u3000mat  ")).isEqualTo("a cat on the mat");
    }

    @Test
    void unescapesHtmlTwice() {
        assertThat(TextCleaner.clean("Tom &amp;amp; Jerry &lt;3")).isEqualTo("Tom & Jerry <3");
        assertThat(TextCleaner.clean("caf&#233; &#x263A; &eacute;")).isEqualTo("café ☺ é");
        assertThat(TextCleaner.clean("&unknownname; stays")).isEqualTo("&unknownname; stays");
    }

    @Test
    void fixesCommonMojibake() {
        assertThat(TextCleaner.fixText("cafÃ©")).isEqualTo("café");
        assertThat(TextCleaner.fixText("Itâ€™s")).isEqualTo("It's"); // fixed to ’, then uncurled
        assertThat(TextCleaner.fixText("â€œquotedâ€\u009d")).isEqualTo("\"quoted\"");
        assertThat(TextCleaner.fixText("Ã¼ber ÐŸÑ€Ð¸Ð²ÐµÑ‚")).isEqualTo("über Привет");
        // a genuine Latin-1 letter beside mojibake: only the valid UTF-8 sequence is repaired
        assertThat(TextCleaner.fixText("naïve cafÃ©")).isEqualTo("naïve café");
        // mis-decoded twice
        assertThat(TextCleaner.fixText("cafÃƒÂ©")).isEqualTo("café");
        // already fine text is left alone, including Latin-1 letters that do not form UTF-8
        assertThat(TextCleaner.fixText("naïve façade, 東京")).isEqualTo("naïve façade, 東京");
    }

    @Test
    void normalisesWidthLigaturesQuotesControlsAndNfc() {
        assertThat(TextCleaner.fixText("ＡＢＣ１２３")).isEqualTo("ABC123");
        assertThat(TextCleaner.fixText("ﬁne ﬂow")).isEqualTo("fine flow");
        assertThat(TextCleaner.fixText("‘single’ “double”")).isEqualTo("'single' \"double\"");
        assertThat(TextCleaner.fixText("a\u0000b\u200e\ufeffc\u001b[31mred")).isEqualTo("ab\u200ecred");
        assertThat(TextCleaner.fixText("e\u0301")).isEqualTo("é");
        assertThat(TextCleaner.fixText("a\r\nb\rc")).isEqualTo("a\nb\nc");
    }
}
