package dev.ontoc.flink;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.api.ValidationException;
import org.apache.flink.table.types.DataType;

/**
 * The validator's knowledge of a job's source topics, read from the JSON literal that
 * {@code ontoc.events.validator_spec} writes:
 *
 * <pre>
 * {"topics": [{"topic": "orders",
 *              "fields": [{"name": "qty", "type": TYPE, "has_default": true, "default": 1 | "default_error": "..."}, ...],
 *              "columns": [{"name": "qty", "type": TYPE}, {"name": "price#text", "type": STR, "text_of": "price"}, ...]}, ...]}
 * TYPE = {"kind": "str|int|float|bool|decimal|datetime|none|list", "nullable": BOOL, "elem": TYPE}
 * </pre>
 *
 * <p>Every field is validated; the columns (the ones the views read) come out typed. A field whose
 * default does not pass the rules has "default_error" (the reason) instead of "default": an event
 * missing that field is invalid. A column with "text_of" is the text of a Decimal field as Python
 * prints it ({@link EventRules#decimalText}), for the views that format it.
 */
final class ValidatorSpec implements Serializable {

    final List<EventRules.Topic> topics = new ArrayList<>();

    static ValidatorSpec parse(String text) {
        try {
            Map<?, ?> root = (Map<?, ?>) StrictJson.parse(text, 200);
            ValidatorSpec spec = new ValidatorSpec();
            for (Object t : (List<?>) root.get("topics")) {
                Map<?, ?> topicJson = (Map<?, ?>) t;
                EventRules.Topic topic = new EventRules.Topic((String) topicJson.get("topic"));
                for (Object f : (List<?>) topicJson.get("fields")) {
                    topic.addField(field((Map<?, ?>) f));
                }
                for (Object c : (List<?>) topicJson.get("columns")) {
                    Map<?, ?> column = (Map<?, ?>) c;
                    String name = (String) column.get("name");
                    EventRules.Type type = type(column.get("type"));
                    String textOf = (String) column.get("text_of");
                    String fieldName = textOf == null ? name : textOf;
                    Integer index = topic.fieldIndex.get(fieldName);
                    EventRules.Field field = index == null ? null : topic.fields.get(index);
                    boolean fits =
                            field != null
                                    && (textOf == null
                                            ? field.type.sameShape(type)
                                            : field.type.kind.equals("decimal") && type.kind.equals("str"));
                    if (!fits) {
                        throw new IllegalArgumentException("column `" + name + "` is not a field of that type");
                    }
                    topic.addColumn(name, type, textOf, index);
                }
                spec.topics.add(topic);
            }
            return spec;
        } catch (EventRules.Invalid | RuntimeException e) {
            throw new ValidationException("ONTOC_VALIDATE_EVENT: not a validator spec: " + e.getMessage(), e);
        }
    }

    private static EventRules.Field field(Map<?, ?> json) {
        String name = (String) json.get("name");
        EventRules.Type type = type(json.get("type"));
        boolean hasDefault = Boolean.TRUE.equals(json.get("has_default"));
        Object value = null;
        String text = null;
        String error = null;
        if (hasDefault && json.containsKey("default_error")) {
            error = (String) json.get("default_error");
        } else if (hasDefault && !json.containsKey("default")) {
            error = "it is not a JSON value";
        } else if (hasDefault) {
            try {
                value = EventRules.coerce(json.get("default"), type, "the default");
                if (type.kind.equals("decimal") && json.get("default") instanceof StrictJson.Num) {
                    text = EventRules.decimalText((StrictJson.Num) json.get("default"));
                }
            } catch (EventRules.Invalid e) {
                error = e.getMessage();
            }
        }
        return new EventRules.Field(name, type, hasDefault, value, text, error);
    }

    private static EventRules.Type type(Object json) {
        Map<?, ?> map = (Map<?, ?>) json;
        Object elem = map.get("elem");
        return new EventRules.Type(
                (String) map.get("kind"), Boolean.TRUE.equals(map.get("nullable")), elem == null ? null : type(elem));
    }

    static DataType columnType(EventRules.Type type) {
        switch (type.kind) {
            case "int":
                return DataTypes.BIGINT();
            case "float":
                return DataTypes.DOUBLE();
            case "bool":
                return DataTypes.BOOLEAN();
            case "list":
                return DataTypes.ARRAY(columnType(type.elem));
            default: // str, decimal, datetime (as exact text), none
                return DataTypes.STRING();
        }
    }

    /** The ROW of one topic's columns; a view reading only doc_id gets a placeholder `_present`. */
    static DataType slotType(EventRules.Topic topic) {
        if (topic.columnNames.isEmpty()) {
            return DataTypes.ROW(DataTypes.FIELD("_present", DataTypes.BOOLEAN()));
        }
        DataTypes.Field[] fields = new DataTypes.Field[topic.columnNames.size()];
        for (int i = 0; i < fields.length; i++) {
            fields[i] = DataTypes.FIELD(topic.columnNames.get(i), columnType(topic.columnTypes.get(i)));
        }
        return DataTypes.ROW(fields);
    }
}
