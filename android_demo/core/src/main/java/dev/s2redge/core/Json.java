package dev.s2redge.core;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader for manifests and JSON Lines: objects become {@code Map<String, Object>}, arrays
 * {@code List<Object>}, numbers {@code Double}, plus {@code String}, {@code Boolean} and {@code null}.
 * Kept in the core so it runs unchanged on the JVM and on Android without a JSON dependency.
 */
public final class Json {
    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** Parse one JSON value that must fill the whole string; malformed input is an IllegalArgumentException. */
    public static Object parse(String text) {
        Json p = new Json(text);
        p.skipSpace();
        Object value = p.value();
        p.skipSpace();
        if (p.pos != text.length()) {
            throw p.error("trailing characters");
        }
        return value;
    }

    /** Parse a JSON object, or fail saying that one was expected. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object value = parse(text);
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("expected a JSON object");
        }
        return (Map<String, Object>) value;
    }

    /** The string field {@code key} of {@code obj}; {@code where} names the file for the error. */
    public static String string(Map<String, Object> obj, String key, String where) throws S2RException {
        Object v = obj.get(key);
        if (!(v instanceof String)) {
            throw new S2RException(where + ": missing or non-string \"" + key + "\"");
        }
        return (String) v;
    }

    /** The whole-number field {@code key} of {@code obj}; {@code where} names the file for the error. */
    public static long integer(Map<String, Object> obj, String key, String where) throws S2RException {
        Object v = obj.get(key);
        if (!(v instanceof Double) || ((Double) v) % 1 != 0) {
            throw new S2RException(where + ": missing or non-integer \"" + key + "\"");
        }
        return ((Double) v).longValue();
    }

    /** The object field {@code key} of {@code obj}; {@code where} names the file for the error. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Map<String, Object> obj, String key, String where) throws S2RException {
        Object v = obj.get(key);
        if (!(v instanceof Map)) {
            throw new S2RException(where + ": missing or non-object \"" + key + "\"");
        }
        return (Map<String, Object>) v;
    }

    /** The array field {@code key} of {@code obj}; {@code where} names the file for the error. */
    @SuppressWarnings("unchecked")
    public static List<Object> array(Map<String, Object> obj, String key, String where) throws S2RException {
        Object v = obj.get(key);
        if (!(v instanceof List)) {
            throw new S2RException(where + ": missing or non-array \"" + key + "\"");
        }
        return (List<Object>) v;
    }

    /** Read and parse a UTF-8 JSON object file; a missing or malformed file is an error naming it. */
    public static Map<String, Object> readObject(Path path, String fix) throws S2RException {
        String text;
        try {
            text = new String(Files.readAllBytes(path), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new S2RException(path + ": missing; " + fix);
        } catch (IOException e) {
            throw new S2RException(path + ": cannot be read (" + e.getMessage() + "); " + fix);
        }
        try {
            return parseObject(text);
        } catch (IllegalArgumentException e) {
            throw new S2RException(path + ": corrupt JSON (" + e.getMessage() + "); " + fix);
        }
    }

    private Object value() {
        if (pos >= text.length()) {
            throw error("unexpected end of input");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{': return object();
            case '[': return array();
            case '"': return string();
            case 't': return literal("true", Boolean.TRUE);
            case 'f': return literal("false", Boolean.FALSE);
            case 'n': return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected character '" + c + "'");
        }
    }

    private Map<String, Object> object() {
        Map<String, Object> map = new LinkedHashMap<>();
        pos++;
        skipSpace();
        if (peek() == '}') {
            pos++;
            return map;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            map.put(key, value());
            skipSpace();
            if (peek() == ',') {
                pos++;
            } else {
                expect('}');
                return map;
            }
        }
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        pos++;
        skipSpace();
        if (peek() == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipSpace();
            list.add(value());
            skipSpace();
            if (peek() == ',') {
                pos++;
            } else {
                expect(']');
                return list;
            }
        }
    }

    private String string() {
        StringBuilder sb = new StringBuilder();
        pos++;
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(pos++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                throw error("control character in string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw error("unterminated escape");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"': case '\\': case '/': sb.append(e); break;
                case 'b': sb.append('\b'); break;
                case 'f': sb.append('\f'); break;
                case 'n': sb.append('\n'); break;
                case 'r': sb.append('\r'); break;
                case 't': sb.append('\t'); break;
                case 'u':
                    if (pos + 4 > text.length()) {
                        throw error("short \\u escape");
                    }
                    try {
                        sb.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    pos += 4;
                    break;
                default:
                    throw error("bad escape \\" + e);
            }
        }
    }

    private Double number() {
        int start = pos;
        while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
        try {
            return Double.valueOf(text.substring(start, pos));
        } catch (NumberFormatException ex) {
            throw error("bad number");
        }
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw error("unexpected token");
        }
        pos += word.length();
        return value;
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private void skipSpace() {
        while (pos < text.length() && " \t\r\n".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException(what + " at character " + pos);
    }
}
