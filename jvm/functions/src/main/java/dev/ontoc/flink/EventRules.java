package dev.ontoc.flink;

import java.io.Serializable;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.DateTimeException;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;

/**
 * The rules of spec section 1 for one change event, as {@code ontoc/events.py} states them for
 * {@code ontoc run --local}: the two are kept equal by tests/runtime/test_native_validator.py,
 * which runs one table of records (tests/fixtures/events/records.json) through both.
 *
 * <p>Values come out as the columns travel out of the validator (the contract of the former Python
 * UDF): str STRING, int BIGINT, float DOUBLE, bool BOOLEAN, Decimal STRING (plain digits), datetime
 * STRING (UTC, {@code yyyy-MM-dd HH:mm:ss.SSSSSS}), list ARRAY of those.
 */
final class EventRules {

    /** An event the rules refuse; the message is the reason. Cheap: no stack trace. */
    static final class Invalid extends Exception {
        Invalid(String reason) {
            super(reason, null, false, false);
        }
    }

    /** A field's type, as the spec JSON gives it: {"kind", "nullable", "elem"}. */
    static final class Type implements Serializable {
        final String kind; // str | int | float | bool | decimal | datetime | none | list
        final boolean nullable;
        final Type elem;

        Type(String kind, boolean nullable, Type elem) {
            this.kind = kind;
            this.nullable = nullable;
            this.elem = elem;
        }

        @Override
        public String toString() {
            String text = kind.equals("list") ? "list[" + elem + "]" : kind.equals("none") ? "None" : kind;
            return nullable && !kind.equals("none") ? text + " | None" : text;
        }

        boolean sameShape(Type other) {
            return kind.equals(other.kind) && (elem == null || (other.elem != null && elem.sameShape(other.elem)));
        }
    }

    static final BigDecimal DECIMAL_LIMIT = BigDecimal.TEN.pow(28);
    static final int MAX_DECIMAL_SCALE = 1000;
    static final int MIN_YEAR = 1;
    static final int MAX_YEAR = 9999;
    // one grammar for both runners (ontoc.events._DATETIME): date, optional time, optional offset
    static final Pattern DATETIME =
            Pattern.compile(
                    "([0-9]{4})-([0-9]{2})-([0-9]{2})"
                            + "(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?"
                            + "(Z|[+-][0-9]{2}:?[0-9]{2})?)?");
    private static final DateTimeFormatter UTC_TEXT = DateTimeFormatter.ofPattern("uuuu-MM-dd HH:mm:ss.SSSSSS");

    private EventRules() {}

    /** Bytes as UTF-8 text, refusing anything that is not (Python's bytes.decode("utf-8")). */
    static String utf8(byte[] bytes) throws Invalid {
        checkUtf8(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Refuses bytes that are not UTF-8 (Python's bytes.decode("utf-8")); ASCII, the usual case, in one pass. */
    static void checkUtf8(byte[] bytes) throws Invalid {
        for (byte b : bytes) {
            if (b < 0) {
                strictDecode(bytes);
                return;
            }
        }
    }

    private static String strictDecode(byte[] bytes) throws Invalid {
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new Invalid("not UTF-8 text");
        }
    }

    /** Bytes as text for a report: undecodable bytes become U+FFFD. */
    static String lenientUtf8(byte[] bytes) {
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** At most {@code max} code points of {@code text}. */
    static String cut(String text, int max) {
        if (text == null || text.codePointCount(0, text.length()) <= max) {
            return text;
        }
        return text.substring(0, text.offsetByCodePoints(0, max)) + "...";
    }

    /** A JSON value (from {@link StrictJson}) as the value of a field of type {@code type}. */
    static Object coerce(Object value, Type type, String where) throws Invalid {
        if (value == null) {
            if (type.nullable) {
                return null;
            }
            throw new Invalid(where + " is null but not declared `| None`");
        }
        switch (type.kind) {
            case "str":
                if (value instanceof String) {
                    return value;
                }
                break;
            case "bool":
                if (value instanceof Boolean) {
                    return value;
                }
                break;
            case "int":
                if (value instanceof StrictJson.Num && ((StrictJson.Num) value).integral) {
                    try {
                        return Long.parseLong(((StrictJson.Num) value).text);
                    } catch (NumberFormatException e) {
                        throw new Invalid(
                                where + " is out of the 64-bit integer range: " + ((StrictJson.Num) value).text);
                    }
                }
                break;
            case "float":
                if (value instanceof StrictJson.Num) {
                    double d = Double.parseDouble(((StrictJson.Num) value).text);
                    if (Double.isInfinite(d)) {
                        throw new Invalid(where + " is out of the range of a float");
                    }
                    return d;
                }
                break;
            case "decimal":
                if (value instanceof StrictJson.Num) {
                    return decimal(((StrictJson.Num) value).text, where);
                }
                break;
            case "datetime":
                if (value instanceof String) {
                    return datetime((String) value, where);
                }
                break;
            case "list":
                if (value instanceof List) {
                    List<?> list = (List<?>) value;
                    Object[] out = newArray(type.elem, list.size());
                    for (int i = 0; i < out.length; i++) {
                        out[i] = coerce(list.get(i), type.elem, where + "[" + i + "]");
                    }
                    return out;
                }
                break;
            default:
                break;
        }
        throw new Invalid(where + " should be " + type + ", got " + jsonTypeName(value));
    }

    static Object[] newArray(Type elem, int size) {
        switch (elem.kind) {
            case "int":
                return new Long[size];
            case "float":
                return new Double[size];
            case "bool":
                return new Boolean[size];
            case "list":
                return new Object[size][];
            default:
                return new String[size];
        }
    }

    private static String jsonTypeName(Object value) {
        if (value instanceof String) {
            return "a string";
        }
        if (value instanceof Boolean) {
            return "a boolean";
        }
        if (value instanceof StrictJson.Num) {
            return ((StrictJson.Num) value).integral ? "an integer" : "a number with a fraction or exponent";
        }
        if (value instanceof List) {
            return "a list";
        }
        if (value instanceof Map) {
            return "an object";
        }
        return value.getClass().getSimpleName();
    }

    /** A decimal field: |value| below 10^28 and at most 1000 digits after the point (DECIMAL(38, 10) can hold it). */
    static String decimal(String text, String where) throws Invalid {
        BigDecimal value;
        try {
            value = new BigDecimal(text);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new Invalid(where + " is out of the range of a Decimal field");
        }
        if (value.scale() > MAX_DECIMAL_SCALE
                || (value.signum() != 0 && value.precision() - value.scale() > 28)) {
            throw new Invalid(where + " is out of the range of a Decimal field");
        }
        return value.toPlainString();
    }

    /**
     * A decimal's JSON number text as Python prints {@code str(Decimal)} of the value the rules decode
     * from it: the General Decimal Arithmetic to-scientific-string, which {@code BigDecimal.toString}
     * implements ({@code 1.50}, {@code 1E+3}, {@code 1E-7}), but for the sign of a zero, which BigDecimal
     * drops and Python keeps ({@code -0.0}; an integer {@code -0} is Python's int 0, so "0").
     */
    static String decimalText(StrictJson.Num number) {
        BigDecimal value = new BigDecimal(number.text);
        String text = value.toString();
        return !number.integral && value.signum() == 0 && number.text.startsWith("-") ? "-" + text : text;
    }

    /** An ISO 8601 datetime (UTC without an offset) as UTC text; years 1 to 9999 in UTC. */
    static String datetime(String text, String where) throws Invalid {
        Matcher m = DATETIME.matcher(text);
        if (text.length() > 64 || !m.matches()) {
            throw new Invalid(where + " is not an ISO 8601 datetime: " + cut(text, 40));
        }
        int year = Integer.parseInt(m.group(1));
        LocalDateTime local;
        try {
            if (year < MIN_YEAR) {
                throw new DateTimeException("year 0 is out of range");
            }
            String fraction = m.group(7) == null ? "" : m.group(7);
            int micros = fraction.isEmpty() ? 0 : Integer.parseInt((fraction + "000000").substring(0, 6));
            local =
                    LocalDateTime.of(
                            year,
                            Integer.parseInt(m.group(2)),
                            Integer.parseInt(m.group(3)),
                            m.group(4) == null ? 0 : Integer.parseInt(m.group(4)),
                            m.group(5) == null ? 0 : Integer.parseInt(m.group(5)),
                            m.group(6) == null ? 0 : Integer.parseInt(m.group(6)),
                            micros * 1000);
        } catch (DateTimeException e) {
            throw new Invalid(where + " is not a valid datetime: " + cut(text, 40));
        }
        String offset = m.group(8);
        if (offset != null && !offset.equals("Z")) {
            String digits = offset.substring(1).replace(":", "");
            int hours = Integer.parseInt(digits.substring(0, 2));
            int minutes = Integer.parseInt(digits.substring(2));
            if (hours > 23 || minutes > 59) {
                throw new Invalid(where + " has an offset out of range: " + offset);
            }
            int seconds = (hours * 3600 + minutes * 60) * (offset.charAt(0) == '-' ? -1 : 1);
            local = local.minusSeconds(seconds);
        }
        if (local.getYear() < MIN_YEAR || local.getYear() > MAX_YEAR) {
            throw new Invalid(where + " is out of the datetime range (years 1 to 9999 in UTC): " + cut(text, 40));
        }
        return UTC_TEXT.format(local);
    }

    /**
     * A topic's model: every field validated, the columns the views read returned as Flink's internal
     * data (StringData, Long, Double, Boolean, ArrayData), so Flink does not convert every result.
     */
    static final class Topic implements Serializable {
        final String name;
        final List<Field> fields = new ArrayList<>();
        final List<String> columnNames = new ArrayList<>();
        final List<Type> columnTypes = new ArrayList<>();
        final List<String> columnTextOf = new ArrayList<>(); // the Decimal field a text column shows, or null
        final Map<String, Integer> fieldIndex = new HashMap<>(); // a field's name -> its index in `fields`
        final List<Integer> columnField = new ArrayList<>(); // a column's field (the Decimal field of a text column)

        Topic(String name) {
            this.name = name;
        }

        void addField(Field field) {
            fieldIndex.put(field.name, fields.size());
            fields.add(field);
        }

        void addColumn(String name, Type type, String textOf, int field) {
            columnNames.add(name);
            columnTypes.add(type);
            columnTextOf.add(textOf);
            columnField.add(field);
        }

        /** The columns of a valid document ({@code value}: the parsed JSON). */
        RowData validate(Object value) throws Invalid {
            if (!(value instanceof Map)) {
                throw new Invalid("value must be a JSON object or null, got " + jsonTypeName(value));
            }
            Map<?, ?> object = (Map<?, ?>) value;
            Object[] seen = new Object[fields.size()];
            for (int f = 0; f < seen.length; f++) {
                String name = fields.get(f).name;
                seen[f] = object.containsKey(name) ? object.get(name) : StrictJson.ABSENT;
            }
            return columns(seen);
        }

        /**
         * The columns of a valid document whose fields' JSON values are {@code seen} (indexed like
         * {@code fields}; {@link StrictJson#ABSENT} for a missing one): every field checked, in
         * declaration order, so the first bad field is the one reported, as in {@code ontoc.events}.
         */
        RowData columns(Object[] seen) throws Invalid {
            Object[] doc = new Object[seen.length];
            for (int f = 0; f < seen.length; f++) {
                Field field = fields.get(f);
                if (seen[f] != StrictJson.ABSENT) {
                    doc[f] = coerce(seen[f], field.type, field.where);
                } else if (!field.hasDefault) {
                    throw new Invalid(field.where + " is missing and has no default");
                } else if (field.defaultError != null) {
                    throw new Invalid(field.where + " is missing and its default is not valid: " + field.defaultError);
                } else {
                    doc[f] = field.defaultValue;
                }
            }
            if (columnNames.isEmpty()) {
                return GenericRowData.of(Boolean.TRUE);
            }
            GenericRowData out = new GenericRowData(columnNames.size());
            for (int i = 0; i < columnNames.size(); i++) {
                int f = columnField.get(i);
                if (columnTextOf.get(i) == null) {
                    out.setField(i, internal(doc[f]));
                } else if (seen[f] == StrictJson.ABSENT) {
                    out.setField(i, internal(fields.get(f).defaultText));
                } else if (seen[f] instanceof StrictJson.Num) {
                    // a valid document's Decimal field as Python prints it
                    out.setField(i, StringData.fromString(decimalText((StrictJson.Num) seen[f])));
                }
            }
            return out;
        }
    }

    /** A column value (from {@link #coerce}) as Flink's internal data: text as StringData, a list as ArrayData. */
    static Object internal(Object value) {
        if (value instanceof String) {
            return StringData.fromString((String) value);
        }
        if (value instanceof Object[]) {
            Object[] list = (Object[]) value;
            Object[] out = new Object[list.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = internal(list[i]);
            }
            return new GenericArrayData(out);
        }
        return value;
    }

    static final class Field implements Serializable {
        final String name;
        final Type type;
        final boolean hasDefault;
        final Object defaultValue; // coerced, as a column value
        final String defaultText; // a Decimal default as Python prints it (a text column's value), else null
        final String defaultError; // why the default cannot stand for a missing field
        final String where; // the field in a reason

        Field(String name, Type type, boolean hasDefault, Object defaultValue, String defaultText, String defaultError) {
            this.name = name;
            this.where = "field `" + name + "`";
            this.type = type;
            this.hasDefault = hasDefault;
            this.defaultValue = defaultValue;
            this.defaultText = defaultText;
            this.defaultError = defaultError;
        }
    }
}
