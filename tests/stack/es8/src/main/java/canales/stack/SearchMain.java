package canales.stack;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.node.StackNode;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Test-stack launcher: an embedded single-node Elasticsearch 8 (plain HTTP, no security). Maven Central
 * serves only the server and the transport-netty4 module of 8.x (no rest-root, reindex, mapper-extras,
 * painless, analysis-common, ingest-common, x-pack plugins): the node runs with Netty4Plugin, loaded from
 * the classpath by org.elasticsearch.node.StackNode, and StackRootPlugin for `GET /`.
 *
 * Options (all --key=value): --home=DIR (required; data under DIR/data), --http-port=9200,
 * --transport-port=9300, --host=127.0.0.1, --cluster-name=canal-es-stack, --node-name=node-1.
 */
public final class SearchMain {

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = parse(args);
        // 8.x logs through org.elasticsearch.logging, which is bound to log4j here (log4j2.properties)
        LogConfigurator.configureESLogging();
        String homeArg = opt.get("home");
        if (homeArg == null) {
            throw new IllegalArgumentException("--home=DIR is required");
        }
        Path home = Paths.get(homeArg).toAbsolutePath();
        Path data = home.resolve("data");
        Path logs = home.resolve("logs");
        Files.createDirectories(data);
        Files.createDirectories(logs);
        // StackPluginsService reads these (empty) directories
        Files.createDirectories(home.resolve("modules"));
        Files.createDirectories(home.resolve("plugins"));
        String nodeName = opt.getOrDefault("node-name", "node-1");

        Settings settings = Settings.builder()
                .put("path.home", home.toString())
                .put("path.data", data.toString())
                .put("path.logs", logs.toString())
                .put("cluster.name", opt.getOrDefault("cluster-name", "canal-es-stack"))
                .put("node.name", nodeName)
                .put("network.host", opt.getOrDefault("host", "127.0.0.1"))
                .put("http.port", opt.getOrDefault("http-port", "9200"))
                .put("transport.port", opt.getOrDefault("transport-port", "9300"))
                .put("discovery.type", "single-node")
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("action.auto_create_index", true)
                .build();

        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> nodeName);
        List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class, StackRootPlugin.class);
        Node node = new StackNode(env, plugins);

        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                if (!node.awaitClose(20, TimeUnit.SECONDS)) {
                    System.err.println("search-stack: node did not close within 20s");
                }
            } catch (Throwable t) {
                t.printStackTrace();
            }
            System.err.println("search-stack: stopped");
            done.countDown();
        }, "search-stack-shutdown"));

        node.start();
        System.err.println("search-stack: Elasticsearch started, http port " + opt.getOrDefault("http-port", "9200"));
        done.await();
    }

    private static Map<String, String> parse(String[] args) {
        Map<String, String> m = new HashMap<>();
        for (String a : args) {
            if (!a.startsWith("--") || a.indexOf('=') < 3) {
                throw new IllegalArgumentException("unrecognised argument " + a + " (use --key=value)");
            }
            m.put(a.substring(2, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
        }
        return m;
    }
}
