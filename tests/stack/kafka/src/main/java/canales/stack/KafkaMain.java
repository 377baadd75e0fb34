package canales.stack;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;

import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Test-stack launcher: one Kafka broker in KRaft mode (broker and controller in one process).
 *
 * 1. When the log dir has no meta.properties yet, formats it like `kafka-storage.sh random-uuid` +
 *    `kafka-storage.sh format -t UUID -c CONFIG` would (kafka.tools.StorageTool, in this JVM).
 * 2. Runs the broker (kafka.Kafka with CONFIG) in a thread of its own.
 * 3. Creates the topic with exactly --partitions partitions (replication factor 1) unless it exists,
 *    waits until every partition has a leader, and prints one line starting with "kafka-stack: ready".
 *    A topic that exists with another partition count is an error (the JVM exits 1).
 *
 * Options (all --key=value): --config=server.properties --bootstrap=127.0.0.1:9092 --topic=canal-es
 *   --partitions=6 --timeout=120 (seconds for the broker to accept and the topic to be ready)
 */
public final class KafkaMain {

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = parse(args);
        String config = required(opt, "config");
        String bootstrap = required(opt, "bootstrap");
        String topic = required(opt, "topic");
        int partitions = Integer.parseInt(opt.getOrDefault("partitions", "6"));
        long timeoutMs = TimeUnit.SECONDS.toMillis(Long.parseLong(opt.getOrDefault("timeout", "120")));

        Properties props = new Properties();
        try (InputStream in = new FileInputStream(config)) {
            props.load(in);
        }
        String logDir = props.getProperty("log.dirs", props.getProperty("log.dir"));
        if (logDir == null || logDir.isEmpty()) {
            fail(config + ": no log.dirs");
        }
        Path meta = Path.of(logDir.split(",")[0].trim(), "meta.properties");
        if (!Files.exists(meta)) {
            String clusterId = Uuid.randomUuid().toString();
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            int rc = kafka.tools.StorageTool.execute(new String[] {"format", "-t", clusterId, "-c", config},
                    new PrintStream(out, true, StandardCharsets.UTF_8));
            System.err.print(out.toString(StandardCharsets.UTF_8));
            if (rc != 0) {
                fail("formatting " + logDir + " failed (StorageTool exit " + rc + ")");
            }
            System.err.println("kafka-stack: formatted " + logDir + " (cluster id " + clusterId + ")");
        }

        Thread broker = new Thread(() -> kafka.Kafka.main(new String[] {config}), "kafka-main");
        broker.start();

        long deadline = System.currentTimeMillis() + timeoutMs;
        awaitPort(bootstrap, deadline); // the admin client would log every refused connection
        ensureTopic(bootstrap, topic, partitions, deadline);
        System.err.println("kafka-stack: ready brokers=" + bootstrap + " topic=" + topic + " partitions=" + partitions);
        broker.join();
    }

    private static void awaitPort(String bootstrap, long deadline) throws InterruptedException {
        int colon = bootstrap.lastIndexOf(':');
        InetSocketAddress addr = new InetSocketAddress(bootstrap.substring(0, colon),
                Integer.parseInt(bootstrap.substring(colon + 1)));
        while (System.currentTimeMillis() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(addr, 1000);
                return;
            } catch (java.io.IOException e) {
                Thread.sleep(200); // poll interval, bounded by the deadline
            }
        }
        fail("the broker does not accept on " + bootstrap);
    }

    private static void ensureTopic(String bootstrap, String topic, int partitions, long deadline) throws Exception {
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        ap.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
        ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "10000");
        ap.put(AdminClientConfig.CLIENT_ID_CONFIG, "canal-es-stack-admin");
        ap.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "200");
        ap.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
        String last = "";
        try (Admin admin = Admin.create(ap)) {
            boolean created = false;
            while (System.currentTimeMillis() < deadline) {
                try {
                    if (!created) {
                        try {
                            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all()
                                    .get(10, TimeUnit.SECONDS);
                            System.err.println("kafka-stack: created topic " + topic + " with " + partitions + " partitions");
                        } catch (ExecutionException e) {
                            if (!(e.getCause() instanceof TopicExistsException)) {
                                throw e;
                            }
                        }
                        created = true;
                    }
                    TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames()
                            .get(10, TimeUnit.SECONDS).get(topic);
                    if (d.partitions().size() != partitions) {
                        fail("topic " + topic + " exists with " + d.partitions().size() + " partitions, not "
                                + partitions + " (remove the stack's data: scripts/stack.sh down)");
                    }
                    boolean leaders = true;
                    for (TopicPartitionInfo p : d.partitions()) {
                        if (p.leader() == null || p.leader().isEmpty()) {
                            leaders = false;
                        }
                    }
                    if (leaders) {
                        return;
                    }
                    last = "partitions without a leader yet";
                } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                    last = String.valueOf(e.getCause() != null ? e.getCause() : e);
                }
                Thread.sleep(200); // poll interval, bounded by the deadline
            }
        }
        fail("topic " + topic + " not ready in time: " + last);
    }

    private static void fail(String msg) {
        System.err.println("kafka-stack: ERROR " + msg);
        System.err.flush();
        Runtime.getRuntime().halt(1);
    }

    private static String required(Map<String, String> opt, String key) {
        String v = opt.get(key);
        if (v == null || v.isEmpty()) {
            throw new IllegalArgumentException("--" + key + "= is required");
        }
        return v;
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        List<String> bad = new ArrayList<>();
        for (String a : args) {
            if (a.startsWith("--") && a.indexOf('=') > 2) {
                m.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
            } else {
                bad.add(a);
            }
        }
        if (!bad.isEmpty()) {
            throw new IllegalArgumentException("unrecognised arguments " + bad + " (use --key=value)");
        }
        return m;
    }
}
