package dev.ontoc.flink;

import java.util.Map;

import org.apache.flink.table.api.DataTypes;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.types.inference.InputTypeStrategies;
import org.apache.flink.table.types.inference.InputTypeStrategy;

/**
 * {@code ONTOC_VALIDATE_LINE(spec STRING literal, topic STRING, line BYTES)}: the verdict of spec
 * section 1 on one line of an input file of {@code ontoc run --local}, {@code {"key": "<doc_id>",
 * "value": {...} | null}} (result: see {@link EventValidator}; partition and offset stay NULL, the
 * caller knows the file and line). The reader strips a byte-order mark at the start of a file and
 * skips blank lines, as {@code ontoc.events.read_events} does; the envelope adds one level of nesting.
 */
public class ValidateLine extends EventValidator {

    public ValidateLine() {
        super(null);
    }

    ValidateLine(ValidatorSpec spec) {
        super(spec);
    }

    @Override
    EventValidator withSpec(ValidatorSpec spec) {
        return new ValidateLine(spec);
    }

    @Override
    InputTypeStrategy inputs() {
        return InputTypeStrategies.sequence(
                InputTypeStrategies.and(InputTypeStrategies.LITERAL, InputTypeStrategies.explicit(DataTypes.STRING())),
                InputTypeStrategies.explicit(DataTypes.STRING().bridgedTo(StringData.class)),
                InputTypeStrategies.explicit(DataTypes.BYTES()));
    }

    public RowData eval(String specText, StringData topic, byte[] line) {
        try {
            Integer slot = slot(topic);
            if (slot == null) {
                throw new EventRules.Invalid("the file's topic is not a source of this job");
            }
            if (line == null) {
                throw new EventRules.Invalid("no line");
            }
            Object record = StrictJson.parse(EventRules.utf8(line), StrictJson.MAX_DEPTH + 1);
            if (!(record instanceof Map)
                    || !(((Map<?, ?>) record).get("key") instanceof String)
                    || !((Map<?, ?>) record).containsKey("value")) {
                throw new EventRules.Invalid("an event is {\"key\": \"<doc_id>\", \"value\": {...} | null}");
            }
            Map<?, ?> event = (Map<?, ?>) record;
            StringData docId = StringData.fromString((String) event.get("key"));
            return valid(slot, docId, columns(spec.topics.get(slot), event.get("value")));
        } catch (EventRules.Invalid e) {
            return invalid(topic, e.getMessage(), null, null, null, line);
        } catch (RuntimeException | StackOverflowError e) {
            return invalid(topic, "the validator failed: " + e, null, null, null, line);
        }
    }
}
