package dev.ontoc.flink;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.apache.flink.api.common.serialization.SerializationSchema;
import org.apache.flink.api.connector.sink2.Sink;
import org.apache.flink.api.connector.sink2.SinkWriter;
import org.apache.flink.api.connector.sink2.WriterInitContext;
import org.apache.flink.table.data.GenericRowData;
import org.apache.flink.table.data.RowData;
import org.apache.flink.table.types.logical.LogicalType;
import org.apache.flink.types.RowKind;

/**
 * The final state of a view's changelog, written when the input ends: the sink of {@link
 * FinalStateFactory}.
 *
 * <p>Every change is folded per key (the first column) as a multiset of row values, each row value
 * being its encoded bytes: an insertion or update-after counts the row in, a retraction (update-before,
 * delete) counts it out, so the result does not depend on the order in which retractions arrive. A key
 * whose rows all cancel out is forgotten: memory follows the live rows, not the changes.
 *
 * <p>At the end of input each writer (one per subtask {@code i}) writes into the folder {@code path}:
 * {@code rows-i.jsonl}, a line {@code <count> <row>} per row value whose count is not zero (the row as
 * the format encodes it; normally one row per key with count 1), and {@code changes-i}, the number of
 * changes it folded. The caller adds up the writers' counts (a key's changes may reach several writers
 * when the view runs with parallelism above 1) and reports a key left with several live rows, or with a
 * row retracted more often than inserted, as the view's error.
 */
public final class FinalStateSink implements Sink<RowData> {

    private static final long serialVersionUID = 1L;

    private final String path;
    private final SerializationSchema<RowData> rowEncoder;
    private final SerializationSchema<RowData> keyEncoder;
    private final LogicalType keyType;

    FinalStateSink(
            String path,
            SerializationSchema<RowData> rowEncoder,
            SerializationSchema<RowData> keyEncoder,
            LogicalType keyType) {
        this.path = path;
        this.rowEncoder = rowEncoder;
        this.keyEncoder = keyEncoder;
        this.keyType = keyType;
    }

    @Override
    public SinkWriter<RowData> createWriter(WriterInitContext context) throws IOException {
        try {
            rowEncoder.open(context.asSerializationSchemaInitializationContext());
            keyEncoder.open(context.asSerializationSchemaInitializationContext());
        } catch (Exception e) {
            throw new IOException("cannot open the row encoder", e);
        }
        int subtask = context.getTaskInfo().getIndexOfThisSubtask();
        return new Writer(Paths.get(path), subtask, rowEncoder, keyEncoder, RowData.createFieldGetter(keyType, 0));
    }

    /** A key's encoding, hashed once. */
    private static final class Key {
        final byte[] bytes;
        final int hash;

        Key(byte[] bytes) {
            this.bytes = bytes;
            this.hash = Arrays.hashCode(bytes);
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Key && Arrays.equals(bytes, ((Key) other).bytes);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    /** The row values of one key with their counts, in the order first counted (almost always one). */
    static final class Slot {
        byte[][] rows = new byte[1][];
        int[] counts = new int[1];
        int size;

        /** Counts `row` in (+1) or out (-1); false when no row value is left. */
        boolean add(byte[] row, int sign) {
            for (int i = 0; i < size; i++) {
                if (Arrays.equals(rows[i], row)) {
                    counts[i] += sign;
                    if (counts[i] == 0) {
                        System.arraycopy(rows, i + 1, rows, i, size - i - 1);
                        System.arraycopy(counts, i + 1, counts, i, size - i - 1);
                        rows[--size] = null;
                    }
                    return size > 0;
                }
            }
            if (size == rows.length) {
                rows = Arrays.copyOf(rows, size * 2);
                counts = Arrays.copyOf(counts, size * 2);
            }
            rows[size] = row;
            counts[size++] = sign;
            return true;
        }
    }

    private static final class Writer implements SinkWriter<RowData> {
        private final Path folder;
        private final int subtask;
        private final SerializationSchema<RowData> rowEncoder;
        private final SerializationSchema<RowData> keyEncoder;
        private final RowData.FieldGetter keyGetter;
        private final GenericRowData keyRow = new GenericRowData(1);
        private final Map<Key, Slot> slots = new HashMap<>();
        private long changes;

        Writer(
                Path folder,
                int subtask,
                SerializationSchema<RowData> rowEncoder,
                SerializationSchema<RowData> keyEncoder,
                RowData.FieldGetter keyGetter) {
            this.folder = folder;
            this.subtask = subtask;
            this.rowEncoder = rowEncoder;
            this.keyEncoder = keyEncoder;
            this.keyGetter = keyGetter;
        }

        @Override
        public void write(RowData row, Context context) {
            RowKind kind = row.getRowKind();
            int sign = kind == RowKind.INSERT || kind == RowKind.UPDATE_AFTER ? 1 : -1;
            keyRow.setField(0, keyGetter.getFieldOrNull(row));
            Key key = new Key(keyEncoder.serialize(keyRow));
            byte[] value = rowEncoder.serialize(row);
            changes++;
            Slot slot = slots.get(key);
            if (slot == null) {
                slot = new Slot();
                slots.put(key, slot);
            }
            if (!slot.add(value, sign)) {
                slots.remove(key);
            }
        }

        @Override
        public void flush(boolean endOfInput) throws IOException {
            if (!endOfInput) {
                return;
            }
            Files.createDirectories(folder);
            Path rowsFile = folder.resolve("rows-" + subtask + ".jsonl");
            try (OutputStream rows = new BufferedOutputStream(Files.newOutputStream(rowsFile), 1 << 16)) {
                for (Slot slot : slots.values()) {
                    for (int i = 0; i < slot.size; i++) {
                        rows.write((slot.counts[i] + " ").getBytes(StandardCharsets.US_ASCII));
                        rows.write(slot.rows[i]);
                        rows.write('\n');
                    }
                }
            }
            Files.write(folder.resolve("changes-" + subtask), Long.toString(changes).getBytes(StandardCharsets.US_ASCII));
            slots.clear();
        }

        @Override
        public void close() {
            slots.clear();
        }
    }
}
