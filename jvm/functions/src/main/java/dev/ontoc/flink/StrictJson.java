package dev.ontoc.flink;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonProcessingException;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.StreamReadConstraints;

/**
 * Strict JSON text to a plain tree (Map, List, String, Boolean, {@link Num}, null), with the limits of
 * spec section 1 that {@code ontoc.events} applies too: nesting at most {@code maxDepth} levels,
 * numbers of at most {@link #MAX_NUMBER_CHARS} characters, no lone surrogate in any string or key,
 * no NaN/Infinity, nothing after the value; duplicate keys: the last one wins (as Python's json).
 *
 * <p>Every failure is an {@link EventRules.Invalid} with a reason, never another exception.
 */
final class StrictJson {

    static final int MAX_DEPTH = 64;
    static final int MAX_NUMBER_CHARS = 1000;

    /** A JSON number as written; converted per field type (the exact text decides). */
    static final class Num {
        final String text;
        final boolean integral;

        Num(String text, boolean integral) {
            this.text = text;
            this.integral = integral;
        }
    }

    // Jackson's own limits sit above ours, so our checks (and reasons) decide; the string and
    // name limits are lifted: Python's json has none
    private static final StreamReadConstraints LIMITS =
            StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH + 10)
                    .maxNumberLength(MAX_NUMBER_CHARS + 10)
                    .maxStringLength(Integer.MAX_VALUE)
                    .maxNameLength(Integer.MAX_VALUE)
                    .build();
    private static final JsonFactory FACTORY =
            JsonFactory.builder()
                    .streamReadConstraints(LIMITS)
                    .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
                    .disable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
                    .build();
    // For bytes: Jackson reads UTF-8 bytes itself (UTF8StreamJsonParser) only with field names
    // canonicalized (a shared table of the names seen, which also spares a String per key); without,
    // it decodes the bytes to chars first. A table filled by hostile keys is emptied, never a failure.
    private static final JsonFactory BYTES_FACTORY =
            JsonFactory.builder()
                    .streamReadConstraints(LIMITS)
                    .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
                    .enable(JsonFactory.Feature.CANONICALIZE_FIELD_NAMES)
                    .disable(JsonFactory.Feature.FAIL_ON_SYMBOL_HASH_OVERFLOW)
                    .build();

    /** A field the JSON object does not have (see {@link #readFields}). */
    static final Object ABSENT = new Object();

    private StrictJson() {}

    static Object parse(String text, int maxDepth) throws EventRules.Invalid {
        try (JsonParser parser = FACTORY.createParser(text)) {
            JsonToken token = parser.nextToken();
            if (token == null) {
                throw new EventRules.Invalid("not JSON (no value)");
            }
            Reader reader = new Reader(parser, maxDepth);
            Object value = reader.read(token, 0);
            reader.end();
            return value;
        } catch (JsonProcessingException e) {
            throw notJson(e);
        } catch (IOException e) {
            throw notJson(e);
        }
    }

    /**
     * The values of the named fields of the JSON object in {@code utf8} (bytes already known to be
     * UTF-8), read from the bytes with no text decoded first and no map built: {@code index} maps a
     * field's name to its slot in the result, whose missing fields are {@link #ABSENT}. The whole
     * value is read and checked as {@link #parse} does, in the same order (the other keys' values
     * too); the last of duplicate keys wins. Null when the value is not an object, or starts with
     * bytes that Jackson's encoding detection reads (a byte-order mark, a zero byte): the caller
     * then takes {@link #parse}, the one reader of those.
     */
    static Object[] readFields(byte[] utf8, Map<String, Integer> index, int slots, int maxDepth)
            throws EventRules.Invalid {
        if (utf8.length < 4 || utf8[0] != '{' || utf8[1] == 0 || utf8[2] == 0 || utf8[3] == 0) {
            return null;
        }
        try (JsonParser parser = BYTES_FACTORY.createParser(utf8)) {
            if (parser.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            enter(0, maxDepth);
            Reader reader = new Reader(parser, maxDepth);
            Object[] seen = new Object[slots];
            Arrays.fill(seen, ABSENT);
            for (JsonToken t = parser.nextToken(); t != JsonToken.END_OBJECT; t = parser.nextToken()) {
                String name = reader.text(parser.currentName());
                Object value = reader.read(parser.nextToken(), 1);
                Integer slot = index.get(name);
                if (slot != null) {
                    seen[slot] = value;
                }
            }
            reader.objectEnd(false);
            reader.end();
            return seen;
        } catch (JsonProcessingException e) {
            throw notJson(e);
        } catch (IOException e) {
            throw notJson(e);
        }
    }

    private static EventRules.Invalid notJson(JsonProcessingException e) {
        return new EventRules.Invalid("not JSON (" + EventRules.cut(e.getOriginalMessage(), 200) + ")");
    }

    private static EventRules.Invalid notJson(IOException e) {
        return new EventRules.Invalid("not JSON (" + EventRules.cut(String.valueOf(e.getMessage()), 200) + ")");
    }

    /**
     * One value's tokens to a tree. A lone surrogate is reported where Python's reader (ontoc.events)
     * reports it: when the innermost object around it is complete (it checks each object's keys and
     * values, lists included, as the object is built), or once the whole text is read when no object
     * holds it; so a syntax error further on, before that point, is what the event is refused for.
     */
    private static final class Reader {
        private final JsonParser parser;
        private final int maxDepth;
        private boolean loneSurrogate; // in the innermost object being read (or outside any), not yet reported

        Reader(JsonParser parser, int maxDepth) {
            this.parser = parser;
            this.maxDepth = maxDepth;
        }

        Object read(JsonToken token, int depth) throws IOException, EventRules.Invalid {
            switch (token) {
                case START_OBJECT: {
                    enter(depth, maxDepth);
                    boolean outer = loneSurrogate;
                    loneSurrogate = false;
                    Map<String, Object> object = new HashMap<>();
                    for (JsonToken t = parser.nextToken(); t != JsonToken.END_OBJECT; t = parser.nextToken()) {
                        String name = text(parser.currentName());
                        object.put(name, read(parser.nextToken(), depth + 1));
                    }
                    objectEnd(outer);
                    return object;
                }
                case START_ARRAY: {
                    enter(depth, maxDepth);
                    List<Object> list = new ArrayList<>();
                    for (JsonToken t = parser.nextToken(); t != JsonToken.END_ARRAY; t = parser.nextToken()) {
                        list.add(read(t, depth + 1));
                    }
                    return list;
                }
                case VALUE_STRING:
                    return text(parser.getText());
                case VALUE_NUMBER_INT:
                case VALUE_NUMBER_FLOAT: {
                    String text = parser.getText();
                    if (text.length() > MAX_NUMBER_CHARS) {
                        throw new EventRules.Invalid(
                                "not JSON (a number longer than " + MAX_NUMBER_CHARS + " characters)");
                    }
                    return new Num(text, token == JsonToken.VALUE_NUMBER_INT);
                }
                case VALUE_TRUE:
                    return Boolean.TRUE;
                case VALUE_FALSE:
                    return Boolean.FALSE;
                case VALUE_NULL:
                    return null;
                default:
                    throw new EventRules.Invalid("not JSON (unexpected " + token + ")");
            }
        }

        /** A string or key, noting a lone surrogate in it. */
        String text(String text) {
            if (!loneSurrogate && hasLoneSurrogate(text)) {
                loneSurrogate = true;
            }
            return text;
        }

        /** An object is complete: a lone surrogate in it is reported now; {@code outer}: the enclosing one's. */
        void objectEnd(boolean outer) throws EventRules.Invalid {
            if (loneSurrogate) {
                throw new EventRules.Invalid(LONE_SURROGATE);
            }
            loneSurrogate = outer;
        }

        /** Nothing may follow the value; then a lone surrogate outside any object is reported. */
        void end() throws IOException, EventRules.Invalid {
            if (parser.nextToken() != null) {
                throw new EventRules.Invalid("not JSON (extra data after the value)");
            }
            if (loneSurrogate) {
                throw new EventRules.Invalid(LONE_SURROGATE);
            }
        }
    }

    private static void enter(int depth, int maxDepth) throws EventRules.Invalid {
        if (depth + 1 > maxDepth) {
            throw new EventRules.Invalid("not JSON (nested deeper than " + maxDepth + " levels)");
        }
    }

    static final String LONE_SURROGATE = "not text: a lone surrogate (\\ud800-\\udfff) in a string or key";

    /** A string escaped as "\ud800" holds half a character: not text (Python could not encode it). */
    private static boolean hasLoneSurrogate(String text) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < text.length()
                    && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return true;
            }
        }
        return false;
    }
}
