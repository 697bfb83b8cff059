package dev.ontoc.flink;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.types.inference.InputTypeStrategies;
import org.apache.flink.table.types.inference.InputTypeStrategy;
import org.apache.flink.types.Row;

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
                InputTypeStrategies.explicit(DataTypes.STRING()),
                InputTypeStrategies.explicit(DataTypes.INT()),
                InputTypeStrategies.explicit(DataTypes.BIGINT()),
                InputTypeStrategies.explicit(DataTypes.BYTES()),
                InputTypeStrategies.explicit(DataTypes.BYTES()));
    }

    public Row eval(String specText, String topic, Integer partition, Long offset, byte[] key, byte[] value) {
        try {
            if (key == null) {
                throw new EventRules.Invalid("the record has no key (the key is the document's doc_id)");
            }
            String docId = EventRules.utf8(key);
            Integer slot = slot(topic);
            if (slot == null) {
                throw new EventRules.Invalid("the record's topic is not a source of this job");
            }
            Object parsed = value == null ? null : StrictJson.parse(EventRules.utf8(value), StrictJson.MAX_DEPTH);
            return valid(topic, slot, docId, columns(spec.topics.get(slot), parsed));
        } catch (EventRules.Invalid e) {
            return invalid(topic, e.getMessage(), partition, offset, report(key), value);
        } catch (RuntimeException | StackOverflowError e) {
            return invalid(topic, "the validator failed: " + e, partition, offset, report(key), value);
        }
    }

    private static String report(byte[] key) {
        return key == null ? null : EventRules.lenientUtf8(key);
    }
}
