package io.sparserender.driver.prompts;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.sparserender.engine.pipeline.ClipSpec;
import org.junit.jupiter.api.Test;

class RowValidatorTest {
    static final ClipDefaults DEFAULTS = new ClipDefaults("wan-tiny", "rev1", 32, "blurry", 7, 64, 64, 5, 4,
            5.0, Double.NaN, 5.0, "dense");
    static final PolicyCanonicalizer POLICIES = spec -> {
        if (spec.equals("dense") || spec.startsWith("dynsparse:")) {
            return spec;
        }
        throw new IllegalArgumentException("unknown policy name '" + spec.split(":")[0] + "'");
    };
    private static final ObjectMapper JSON = new ObjectMapper();
    private final RowValidator validator = new RowValidator(DEFAULTS, POLICIES);

    private Validation check(String json) throws Exception {
        return validator.validate("f.jsonl", 3, (ObjectNode) JSON.readTree(json), false);
    }

    private String reason(String json) throws Exception {
        Validation v = check(json);
        assertThat(v).as(json).isInstanceOf(Validation.Rejected.class);
        Validation.Rejected r = (Validation.Rejected) v;
        assertThat(r.source()).isEqualTo("f.jsonl");
        assertThat(r.row()).isEqualTo(3);
        return r.reason();
    }

    @Test
    void defaultsFillMissingFields() throws Exception {
        Validation v = check("{\"prompt\":\"a red fox\",\"id\":17,\"frames\":9}");
        assertThat(v).isInstanceOf(Validation.Accepted.class);
        Validation.Accepted a = (Validation.Accepted) v;
        assertThat(a.userId()).isEqualTo("17");
        assertThat(a.spec()).isEqualTo(new ClipSpec("a red fox", "blurry", 7, 64, 64, 9, 4, 5.0, Double.NaN, 5.0,
                "dense", "wan-tiny", "rev1"));
    }

    @Test
    void csvValuesArriveAsTextAndAreParsed() throws Exception {
        Validation v = validator.validate("p.csv", 2,
                (ObjectNode) JSON.readTree("{\"prompt\":\"x\",\"frames\":\"13\",\"guidance\":\"4.5\"}"), true);
        assertThat(((Validation.Accepted) v).spec().frames()).isEqualTo(13);
        assertThat(((Validation.Accepted) v).spec().guidance()).isEqualTo(4.5);
    }

    @Test
    void everyBadFieldIsNamedWithItsValue() throws Exception {
        assertThat(reason("{\"id\":\"a\"}")).isEqualTo("prompt is missing or empty");
        assertThat(reason("{\"prompt\":\"   \"}")).isEqualTo("prompt is missing or empty");
        assertThat(reason("{\"prompt\":7}")).isEqualTo("prompt must be a string, got number 7");
        assertThat(reason("{\"prompt\":\"x\",\"frames\":8}")).isEqualTo("frames must be 4k+1 (1, 5, 9, ..., 81, 121), got 8");
        assertThat(reason("{\"prompt\":\"x\",\"frames\":\"9\"}")).isEqualTo("frames must be an integer, got \"9\"");
        assertThat(reason("{\"prompt\":\"x\",\"frames\":9.5}")).isEqualTo("frames must be an integer, got 9.5");
        assertThat(reason("{\"prompt\":\"x\",\"frames\":100001}")).isEqualTo("frames must be in [1, 1001], got 100001");
        assertThat(reason("{\"prompt\":\"x\",\"width\":100}")).isEqualTo("width must be a multiple of 32 for wan-tiny, got 100");
        assertThat(reason("{\"prompt\":\"x\",\"height\":99999}")).isEqualTo("height must be in [32, 4096], got 99999");
        assertThat(reason("{\"prompt\":\"x\",\"steps\":0}")).isEqualTo("steps must be in [1, 1000], got 0");
        assertThat(reason("{\"prompt\":\"x\",\"guidance\":-1}")).isEqualTo("guidance must be in [0.0, 50.0], got -1.0");
        assertThat(reason("{\"prompt\":\"x\",\"seed\":-5}")).isEqualTo("seed must be in [0, 9223372036854775807], got -5");
        assertThat(reason("{\"prompt\":\"x\",\"policy\":\"magic\"}")).isEqualTo("policy 'magic' is invalid: unknown policy name 'magic'");
        assertThat(reason("{\"prompt\":\"x\",\"frame\":9}")).startsWith("unknown field 'frame'");
        assertThat(reason("{\"prompt\":\"x\",\"guidance_low\":3}")).isEqualTo("guidance_low applies only to two-expert models; wan-tiny has one");
        assertThat(reason("{\"prompt\":\"a\\u0007b\"}")).isEqualTo("prompt holds control character U+0007 at index 1");
        assertThat(reason("{\"prompt\":\"x\",\"id\":true}")).isEqualTo("id must be a string or an integer, got boolean");
        assertThat(reason("{\"prompt\":\"" + "x".repeat(RowValidator.MAX_PROMPT_BYTES + 1) + "\"}"))
                .isEqualTo("prompt is 16385 bytes, over the 16384-byte limit");
    }

    @Test
    void absurdAndOutOfRangeNumbersAreNamed() throws Exception {
        assertThat(reason("{\"prompt\":\"x\",\"width\":99999999999999999999}"))
                .isEqualTo("width must be an integer, got 99999999999999999999");
        assertThat(reason("{\"prompt\":\"x\",\"frames\":1e10}")).isEqualTo("frames must be an integer, got 1.0E10");
        assertThat(reason("{\"prompt\":\"x\",\"steps\":-3}")).isEqualTo("steps must be in [1, 1000], got -3");
        assertThat(reason("{\"prompt\":\"x\",\"width\":-64}")).isEqualTo("width must be in [32, 4096], got -64");
        assertThat(reason("{\"prompt\":\"x\",\"shift\":0}")).isEqualTo("shift must be in [0 (exclusive), 100.0], got 0.0");
        assertThat(reason("{\"prompt\":\"x\",\"guidance\":1e308}")).isEqualTo("guidance must be in [0.0, 50.0], got 1.0E308");
        assertThat(reason("{\"prompt\":\"x\",\"seed\":\"7\"}")).isEqualTo("seed must be an integer, got \"7\"");
        assertThat(reason("{\"prompt\":[\"a\",\"b\"]}")).isEqualTo("prompt must be a string, got array [\"a\",\"b\"]");
        assertThat(reason("{\"prompt\":\"x\",\"negative_prompt\":{\"a\":1}}"))
                .isEqualTo("negative_prompt must be a string, got object {\"a\":1}");
        // CSV text that parses to a non-finite number is out of range, not a silent NaN
        Validation nan = validator.validate("p.csv", 4, (ObjectNode) JSON.readTree("{\"prompt\":\"x\",\"guidance\":\"NaN\"}"), true);
        assertThat(((Validation.Rejected) nan).reason()).isEqualTo("guidance must be in [0.0, 50.0], got NaN");
        Validation inf = validator.validate("p.csv", 4, (ObjectNode) JSON.readTree("{\"prompt\":\"x\",\"shift\":\"Infinity\"}"), true);
        assertThat(((Validation.Rejected) inf).reason()).isEqualTo("shift must be in [0 (exclusive), 100.0], got Infinity");
    }

    @Test
    void textThatIsNotCleanUnicodeIsNamedWithItsPosition() throws Exception {
        assertThat(reason("{\"prompt\":\"ab\\ud800c\"}")).isEqualTo("prompt holds an unpaired surrogate at index 2");
        assertThat(reason("{\"prompt\":\"bad \\ufffd byte\"}")).isEqualTo("prompt is not valid UTF-8 (holds U+FFFD replacement characters)");
        assertThat(reason("{\"prompt\":\"x\",\"negative_prompt\":\"a\\u0000b\"}"))
                .isEqualTo("negative_prompt holds control character U+0000 at index 1");
        assertThat(reason("{\"prompt\":\"x\",\"id\":\"a\\u001bb\"}")).isEqualTo("id holds control character U+001B at index 1");
        assertThat(reason("{\"prompt\":\"x\",\"id\":\"" + "i".repeat(RowValidator.MAX_ID_CHARS + 1) + "\"}"))
                .isEqualTo("id must have 1 to 256 characters, got 257");
        // tabs and newlines are text, not control characters
        assertThat(check("{\"prompt\":\"two\\nlines\\tand a tab\"}")).isInstanceOf(Validation.Accepted.class);
    }

    @Test
    void aMegabytePromptIsRejectedWithItsSizeNotEchoed() throws Exception {
        String mb = "y".repeat(1 << 20);
        String r = reason("{\"prompt\":\"" + mb + "\"}");
        assertThat(r).isEqualTo("prompt is 1048576 bytes, over the 16384-byte limit");
        String multiByte = "\u00e9".repeat(RowValidator.MAX_PROMPT_BYTES / 2 + 1); // 2 bytes each in UTF-8
        assertThat(reason("{\"prompt\":\"" + multiByte + "\"}")).isEqualTo("prompt is 16386 bytes, over the 16384-byte limit");
    }

    @Test
    void unknownPolicyNamesKeysAndValuesAreNamedByTheEngineGrammar() throws Exception {
        RowValidator engine = new RowValidator(DEFAULTS, PolicyCanonicalizer.ENGINE);
        java.util.function.Function<String, String> reason = json -> {
            try {
                return ((Validation.Rejected) engine.validate("f.jsonl", 1, (ObjectNode) JSON.readTree(json), false)).reason();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
        assertThat(reason.apply("{\"prompt\":\"x\",\"policy\":\"magic\"}"))
                .startsWith("policy 'magic' is invalid: unknown policy 'magic' (known: ");
        assertThat(reason.apply("{\"prompt\":\"x\",\"policy\":\"topk:kk=2\"}"))
                .startsWith("policy 'topk:kk=2' is invalid: unknown key 'kk' for policy 'topk'");
        assertThat(reason.apply("{\"prompt\":\"x\",\"policy\":\"topk:k=2,k=3\"}"))
                .isEqualTo("policy 'topk:k=2,k=3' is invalid: key 'k' given twice");
        assertThat(reason.apply("{\"prompt\":\"x\",\"policy\":\"blasst:scale=-1\"}"))
                .isEqualTo("policy 'blasst:scale=-1' is invalid: scale must be positive, got -1");
        // one clip however its policy is spelled: the canonical spec is what the clip id hashes
        Validation.Accepted a = (Validation.Accepted) engine.validate("f", 1, (ObjectNode) JSON.readTree(
                "{\"prompt\":\"x\",\"policy\":\"topk:k=2\",\"guidance\":5}"), false);
        Validation.Accepted b = (Validation.Accepted) engine.validate("f", 2, (ObjectNode) JSON.readTree(
                "{\"prompt\":\"x\",\"policy\":\" topk: k = 2 \",\"guidance\":5.0}"), false);
        assertThat(b.spec().clipId()).isEqualTo(a.spec().clipId());
    }

    @Test
    void promptTextNeverShapesTheClipId() throws Exception {
        Validation.Accepted a = (Validation.Accepted) check("{\"prompt\":\"../../x\"}");
        assertThat(a.spec().clipId()).matches("[0-9a-f]{32}");
        Validation.Accepted b = (Validation.Accepted) check("{\"prompt\":\"x\",\"id\":\"../../etc/passwd\"}");
        assertThat(b.userId()).isEqualTo("../../etc/passwd"); // kept as data, never used in a path
        assertThat(b.spec().clipId()).matches("[0-9a-f]{32}");
    }
}
