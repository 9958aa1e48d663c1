package dev.s2redge.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The small JSON reader on the shapes the manifest and docs.jsonl use, and on malformed input. */
public class JsonTest {
    @Test
    public void parsesNestedValuesAndEscapes() {
        Map<String, Object> obj = Json.parseObject(
                "{\"a\": [1, -2.5e3, true, null], \"s\": \"caf\\u00e9 \\\"q\\\"\\n\", \"o\": {}}");
        List<?> a = (List<?>) obj.get("a");
        assertEquals(1.0, (Double) a.get(0), 0);
        assertEquals(-2500.0, (Double) a.get(1), 0);
        assertEquals(Boolean.TRUE, a.get(2));
        assertNull(a.get(3));
        assertEquals("café \"q\"\n", obj.get("s"));
        assertEquals(Map.of(), obj.get("o"));
    }

    @Test
    public void refusesMalformedInput() {
        for (String bad : new String[] {"", "{", "{\"a\" 1}", "[1,]", "{\"a\": tru}", "\"open", "{} x", "[1] [2]"}) {
            assertThrows(bad, IllegalArgumentException.class, () -> Json.parse(bad));
        }
    }
}
