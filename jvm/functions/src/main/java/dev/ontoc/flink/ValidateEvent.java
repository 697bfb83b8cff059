package dev.ontoc.flink;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.inference.InputTypeStrategies;
import org.apache.flink.table.types.inference.InputTypeStrategy;

/**
 * {@code ONTOC_VALIDATE_EVENT(spec STRING literal, topic STRING, partition INT, offset BIGINT,
 * key BYTES, value BYTES)}: the verdict of spec section 1 on one Kafka record of a source topic
 * (result: see {@link EventValidator}). doc_id is the key as text; for an invalid record it is
 * decoded leniently (U+FFFD for bytes that are not UTF-8), for the report. A null value (tombstone)
 * or the JSON text {@code null} is a delete; a record without a key, of a topic the spec does not
 * list, or whose value the rules refuse is invalid, and counted.
 */
public class ValidateEvent extends EventValidator {

    public ValidateEvent() {
        super(null);
    }

    ValidateEvent(ValidatorSpec spec) {
        super(spec);
    }

    @Override
    EventValidator withSpec(ValidatorSpec spec) {
        return new ValidateEvent(spec);
    }

    @Override
    InputTypeStrategy inputs() {
        return InputTypeStrategies.sequence(
                InputTypeStrategies.and(InputTypeStrategies.LITERAL, InputTypeStrategies.explicit(DataTypes.STRING())),
                InputTypeStrategies.explicit(DataTypes.STRING().bridgedTo(StringData.class)),
                InputTypeStrategies.explicit(DataTypes.INT()),
                InputTypeStrategies.explicit(DataTypes.BIGINT()),
                InputTypeStrategies.explicit(DataTypes.BYTES()),
                InputTypeStrategies.explicit(DataTypes.BYTES()));
    }

    public RowData eval(String specText, StringData topic, Integer partition, Long offset, byte[] key, byte[] value) {
        try {
            if (key == null) {
                throw new EventRules.Invalid("the record has no key (the key is the document's doc_id)");
            }
            EventRules.checkUtf8(key);
            StringData docId = StringData.fromBytes(key); // UTF-8 already: Flink's own form of text
            Integer slot = slot(topic);
            if (slot == null) {
                throw new EventRules.Invalid("the record's topic is not a source of this job");
            }
            return valid(slot, docId, value == null ? null : columns(spec.topics.get(slot), value));
        } catch (EventRules.Invalid e) {
            return invalid(topic, e.getMessage(), partition, offset, report(key), value);
        } catch (RuntimeException | StackOverflowError e) {
            return invalid(topic, "the validator failed: " + e, partition, offset, report(key), value);
        }
    }

    /**
     * An upsert's columns, or null for the JSON text {@code null}: an object's fields are read straight
     * from the bytes ({@link StrictJson#readFields}); any other value takes the general reader.
     */
    private static RowData columns(EventRules.Topic topic, byte[] value) throws EventRules.Invalid {
        EventRules.checkUtf8(value);
        Object[] fields = StrictJson.readFields(value, topic.fieldIndex, topic.fields.size(), StrictJson.MAX_DEPTH);
        if (fields != null) {
            return topic.columns(fields);
        }
        return columns(topic, StrictJson.parse(EventRules.utf8(value), StrictJson.MAX_DEPTH));
    }

    private static String report(byte[] key) {
        return key == null ? null : EventRules.lenientUtf8(key);
    }
}
