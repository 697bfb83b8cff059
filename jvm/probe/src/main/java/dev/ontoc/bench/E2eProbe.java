package dev.ontoc.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Bench part 4's load and latency probe for the e2e_probe workload (orders with their customer).
 *
 * <p>Arguments are {@code key=value}. Modes:
 *
 * <ul>
 *   <li>{@code mode=rate}: order upserts at a fixed rate ({@code rate}/s) for {@code warmup} then
 *       {@code seconds}, each carrying {@code stamp} = the send time (epoch seconds, microsecond
 *       digits, strictly increasing so a stamp names one event); a consumer thread reads the view
 *       topic from the beginning and notes the first arrival of every stamp. After the window it
 *       waits up to {@code straggle} seconds for the last events and prints one JSON object: what was
 *       sent, what arrived, and the latency figures of the window (bench/e2e.py judges them).
 *   <li>{@code mode=fill}: {@code customers} customers with a name of {@code pad} characters, then
 *       one order per customer, as fast as the broker takes them; prints what it sent.
 *   <li>{@code mode=check}: reads the view topic to its end and prints how many keys are live, and for
 *       every {@code sample}-th order key its live order, that order's customer and its view row (raw
 *       JSON), for a spot-check against the oracle.
 * </ul>
 *
 * <p>One process and one clock for both ends: latency = arrival - stamp.
 */
public final class E2eProbe {
  private E2eProbe() {}

  public static void main(String[] args) throws Exception {
    Map<String, String> a = new HashMap<>();
    for (String arg : args) {
      int eq = arg.indexOf('=');
      if (eq < 0) {
        throw new IllegalArgumentException("expected key=value, got " + arg);
      }
      a.put(arg.substring(0, eq), arg.substring(eq + 1));
    }
    String mode = a.getOrDefault("mode", "rate");
    if (mode.equals("fill")) {
      fill(a);
    } else if (mode.equals("check")) {
      check(a);
    } else if (mode.equals("rate")) {
      rate(a);
    } else {
      throw new IllegalArgumentException("unknown mode " + mode);
    }
  }

  static long nowMicros() {
    Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000L + t.getNano() / 1_000;
  }

  static String stampText(long micros) {
    return (micros / 1_000_000L) + "." + String.format(Locale.ROOT, "%06d", micros % 1_000_000L);
  }

  static KafkaProducer<byte[], byte[]> producer(String bootstrap) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, String.valueOf(128 * 1024));
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    return new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
  }

  static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  static String order(String customer, SplittableRandom rnd, long stampMicros) {
    int cents = rnd.nextInt(10_000, 9_000_000);
    return "{\"customer\":\"" + customer + "\",\"amount\":" + (cents / 100) + "."
        + String.format(Locale.ROOT, "%02d", cents % 100) + ",\"stamp\":" + stampText(stampMicros) + "}";
  }

  static void fill(Map<String, String> a) throws Exception {
    String bootstrap = a.get("bootstrap");
    int customers = Integer.parseInt(a.get("customers"));
    int pad = Integer.parseInt(a.getOrDefault("pad", "0"));
    SplittableRandom rnd = new SplittableRandom(Long.parseLong(a.getOrDefault("seed", "1")));
    AtomicReference<Exception> failed = new AtomicReference<>();
    long t0 = System.nanoTime();
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
      char[] name = new char[pad];
      for (int i = 0; i < customers; i++) {
        for (int j = 0; j < pad; j++) {
          name[j] = (char) ('a' + rnd.nextInt(26)); // random: RocksDB's compression cannot shrink it
        }
        String value = "{\"name\":\"" + new String(name) + "\",\"tier\":\"" + (i % 2 == 0 ? "gold" : "silver") + "\"}";
        producer.send(new ProducerRecord<>(a.get("customers_topic"), bytes("c" + i), bytes(value)), (m, e) -> {
          if (e != null) failed.set(e);
        });
      }
      for (int i = 0; i < customers; i++) {
        producer.send(
            new ProducerRecord<>(a.get("orders_topic"), bytes("o" + i), bytes(order("c" + i, rnd, nowMicros()))),
            (m, e) -> {
              if (e != null) failed.set(e);
            });
      }
      producer.flush();
    }
    if (failed.get() != null) {
      throw failed.get();
    }
    double s = (System.nanoTime() - t0) / 1e9;
    System.out.println("{\"customers\":" + customers + ",\"orders\":" + customers + ",\"seconds\":" + s + "}");
  }

  /** Every record of a topic's partition 0 up to its end offset now: key -> latest value (null: tombstone). */
  static Map<String, String> latest(String bootstrap, String topic, java.util.function.Predicate<String> keep)
      throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
    Map<String, String> out = new HashMap<>();
    try (KafkaConsumer<byte[], byte[]> consumer =
        new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      TopicPartition tp = new TopicPartition(topic, 0);
      consumer.assign(List.of(tp));
      consumer.seekToBeginning(List.of(tp));
      long end = consumer.endOffsets(List.of(tp)).get(tp);
      while (consumer.position(tp) < end) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          String key = new String(r.key(), java.nio.charset.StandardCharsets.UTF_8);
          if (keep.test(key)) {
            out.put(key, r.value() == null ? null : new String(r.value(), java.nio.charset.StandardCharsets.UTF_8));
          }
        }
      }
    }
    return out;
  }

  static void check(Map<String, String> a) throws Exception {
    String bootstrap = a.get("bootstrap");
    int sample = Integer.parseInt(a.get("sample"));
    java.util.function.Predicate<String> sampled = k -> k.startsWith("o") && Long.parseLong(k.substring(1)) % sample == 0;
    Map<String, String> view = latest(bootstrap, a.get("view_topic"), k -> true);
    long live = view.values().stream().filter(v -> v != null).count();
    Map<String, String> orders = latest(bootstrap, a.get("orders_topic"), sampled);
    java.util.Set<String> wanted = new java.util.HashSet<>();
    for (String order : orders.values()) {
      int at = order == null ? -1 : order.indexOf("\"customer\":\"");
      if (at >= 0) {
        wanted.add(order.substring(at + 12, order.indexOf('"', at + 12)));
      }
    }
    Map<String, String> customers = latest(bootstrap, a.get("customers_topic"), wanted::contains);
    StringBuilder out = new StringBuilder("{\"view_records\":").append(view.size());
    out.append(",\"view_live_keys\":").append(live).append(",\"orders\":{");
    String sep = "";
    for (var e : new java.util.TreeMap<>(orders).entrySet()) {
      out.append(sep).append('"').append(e.getKey()).append("\":").append(e.getValue());
      sep = ",";
    }
    out.append("},\"customers\":{");
    sep = "";
    for (var e : new java.util.TreeMap<>(customers).entrySet()) {
      out.append(sep).append('"').append(e.getKey()).append("\":").append(e.getValue());
      sep = ",";
    }
    out.append("},\"views\":{");
    sep = "";
    for (String key : new java.util.TreeSet<>(orders.keySet())) {
      out.append(sep).append('"').append(key).append("\":").append(view.get(key));
      sep = ",";
    }
    out.append("}}");
    System.out.println(out);
  }

  /** The view topic from its beginning: the first arrival (micros) of every stamp. */
  static final class Reader extends Thread {
    final KafkaConsumer<byte[], byte[]> consumer;
    final TopicPartition partition;
    final Map<Long, Long> arrived = new HashMap<>();
    final AtomicLong records = new AtomicLong();
    volatile boolean stop;
    volatile Exception failure;

    Reader(String bootstrap, String topic, boolean readCommitted) {
      super("view-reader");
      setDaemon(true);
      Properties p = new Properties();
      p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
      p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
      p.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, "10");
      p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "10000");
      p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, readCommitted ? "read_committed" : "read_uncommitted");
      consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      partition = new TopicPartition(topic, 0);
    }

    synchronized boolean has(long stamp) {
      return arrived.containsKey(stamp);
    }

    @Override
    public void run() {
      try {
        consumer.assign(List.of(partition));
        consumer.seekToBeginning(List.of(partition));
        while (!stop) {
          var batch = consumer.poll(Duration.ofMillis(50));
          long now = nowMicros();
          synchronized (this) {
            for (ConsumerRecord<byte[], byte[]> r : batch) {
              records.incrementAndGet();
              long stamp = stampOf(r.value());
              if (stamp >= 0) {
                arrived.putIfAbsent(stamp, now);
              }
            }
          }
        }
      } catch (Exception e) {
        failure = e;
      } finally {
        consumer.close();
      }
    }
  }

  /** The `stamp` of a view record's JSON value in micros, or -1 (a tombstone, no stamp). */
  static long stampOf(byte[] value) {
    if (value == null) {
      return -1;
    }
    String s = new String(value, java.nio.charset.StandardCharsets.UTF_8);
    int at = s.indexOf("\"stamp\":");
    if (at < 0) {
      return -1;
    }
    int from = at + 8;
    int to = from;
    while (to < s.length() && "0123456789.eE+-".indexOf(s.charAt(to)) >= 0) {
      to++;
    }
    if (to == from) {
      return -1; // null
    }
    return Math.round(Double.parseDouble(s.substring(from, to)) * 1e6);
  }

  static void rate(Map<String, String> a) throws Exception {
    String bootstrap = a.get("bootstrap");
    String topic = a.get("orders_topic");
    int rate = Integer.parseInt(a.get("rate"));
    double warmup = Double.parseDouble(a.getOrDefault("warmup", "5"));
    double seconds = Double.parseDouble(a.get("seconds"));
    double straggle = Double.parseDouble(a.getOrDefault("straggle", "60"));
    int keys = Integer.parseInt(a.getOrDefault("keys", "20000"));
    int customers = Integer.parseInt(a.getOrDefault("customers", "1000"));
    SplittableRandom rnd = new SplittableRandom(Long.parseLong(a.getOrDefault("seed", "1")));
    Reader reader = new Reader(bootstrap, a.get("view_topic"), Boolean.parseBoolean(a.get("read_committed")));
    reader.start();
    AtomicReference<Exception> failed = new AtomicReference<>();
    long[] stamps = new long[(int) Math.min(Integer.MAX_VALUE - 8, (long) (rate * seconds * 1.05) + 1024)];
    int counted = 0;
    long sentAll = 0;
    long last = 0;
    double windowSeconds;
    try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap)) {
      producer.partitionsFor(topic); // the topic's metadata now: a first send() would block for it in the window
      long start = System.nanoTime();
      long windowStart = start + (long) (warmup * 1e9);
      long end = windowStart + (long) (seconds * 1e9);
      long sentWindow = 0;
      while (true) {
        long now = System.nanoTime();
        if (now >= end) {
          break;
        }
        boolean inWindow = now >= windowStart;
        long due = inWindow
            ? (long) ((now - windowStart) / 1e9 * rate) - sentWindow
            : (long) ((now - start) / 1e9 * rate) - sentAll;
        for (long i = 0; i < due; i++) {
          long stamp = Math.max(nowMicros(), last + 1);
          last = stamp;
          String key = "o" + (sentAll % keys);
          String value = order("c" + rnd.nextInt(customers), rnd, stamp);
          producer.send(new ProducerRecord<>(topic, bytes(key), bytes(value)), (m, e) -> {
            if (e != null) failed.set(e);
          });
          sentAll++;
          if (inWindow) {
            sentWindow++;
            if (counted < stamps.length) {
              stamps[counted++] = stamp;
            }
          }
        }
        Thread.sleep(1);
      }
      windowSeconds = (System.nanoTime() - windowStart) / 1e9;
      producer.flush();
    }
    if (failed.get() != null) {
      throw failed.get();
    }
    long deadline = System.nanoTime() + (long) (straggle * 1e9);
    int tail = Math.max(0, counted - 50);
    while (System.nanoTime() < deadline && reader.failure == null) {
      boolean all = true;
      for (int i = tail; i < counted; i++) {
        if (!reader.has(stamps[i])) {
          all = false;
          break;
        }
      }
      if (all) {
        break;
      }
      Thread.sleep(200);
    }
    Thread.sleep(500);
    reader.stop = true;
    reader.join(10_000);
    if (reader.failure != null) {
      throw reader.failure;
    }
    double[] latencies = new double[counted];
    int received = 0;
    synchronized (reader) {
      for (int i = 0; i < counted; i++) {
        Long at = reader.arrived.get(stamps[i]);
        if (at != null) {
          latencies[received++] = (at - stamps[i]) / 1000.0;
        }
      }
    }
    StringBuilder out = new StringBuilder("{");
    out.append("\"sent\":").append(counted);
    out.append(",\"sent_rate\":").append(counted / windowSeconds);
    out.append(",\"received\":").append(received);
    out.append(",\"missing\":").append(counted - received);
    out.append(",\"view_records\":").append(reader.records.get());
    if (received > 0) {
      int fifth = Math.max(1, received / 5);
      out.append(",\"first_fifth_median_ms\":").append(median(latencies, 0, fifth));
      out.append(",\"last_fifth_median_ms\":").append(median(latencies, received - fifth, received));
      double[] sorted = java.util.Arrays.copyOf(latencies, received);
      java.util.Arrays.sort(sorted);
      out.append(",\"latency_ms\":{");
      out.append("\"p50\":").append(round1(sorted[Math.min(received - 1, (int) (0.5 * received))]));
      out.append(",\"p99\":").append(round1(sorted[Math.min(received - 1, (int) (0.99 * received))]));
      out.append(",\"max\":").append(round1(sorted[received - 1]));
      out.append(",\"min\":").append(round1(sorted[0]));
      out.append("}");
    }
    out.append("}");
    System.out.println(out);
  }

  static double median(double[] values, int from, int to) {
    double[] part = java.util.Arrays.copyOfRange(values, from, to);
    java.util.Arrays.sort(part);
    return part[part.length / 2];
  }

  static double round1(double x) {
    return Math.round(x * 10) / 10.0;
  }
}
