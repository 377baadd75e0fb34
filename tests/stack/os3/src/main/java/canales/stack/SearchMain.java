package canales.stack;

import org.opensearch.Version;
import org.opensearch.analysis.common.CommonAnalysisModulePlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasModulePlugin;
import org.opensearch.index.reindex.ReindexModulePlugin;
import org.opensearch.ingest.common.IngestCommonModulePlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessModulePlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.plugins.PluginInfo;
import org.opensearch.transport.Netty4ModulePlugin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Test-stack launcher: an embedded single-node OpenSearch 3.x (plain HTTP, no security plugin; Java 21+).
 * The same modules as the 2.19 launcher; 3.x names their classes *ModulePlugin and takes PluginInfo.
 *
 * Options (all --key=value): --home=DIR (required; data under DIR/data), --http-port=9200,
 * --transport-port=9300, --host=127.0.0.1, --cluster-name=canal-es-stack, --node-name=node-1.
 */
public final class SearchMain {

    /** Node's plugin-taking constructor is protected: expose it (3.x describes each class by a PluginInfo). */
    static final class StackNode extends Node {
        StackNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
            super(env, plugins.stream().map(StackNode::info).collect(Collectors.toList()), true);
        }

        private static PluginInfo info(Class<? extends Plugin> c) {
            return new PluginInfo(c.getName(), "classpath plugin (canal-es test stack)", "NA", Version.CURRENT, "21",
                    c.getName(), null, List.of(), false);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = parse(args);
        String homeArg = opt.get("home");
        if (homeArg == null) {
            throw new IllegalArgumentException("--home=DIR is required");
        }
        Path home = Paths.get(homeArg).toAbsolutePath();
        Path data = home.resolve("data");
        Path logs = home.resolve("logs");
        Files.createDirectories(data);
        Files.createDirectories(logs);
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
        List<Class<? extends Plugin>> plugins = List.of(
                Netty4ModulePlugin.class,
                ReindexModulePlugin.class,
                PainlessModulePlugin.class,
                CommonAnalysisModulePlugin.class,
                MapperExtrasModulePlugin.class,
                IngestCommonModulePlugin.class);
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
        System.err.println("search-stack: OpenSearch started, http port " + opt.getOrDefault("http-port", "9200"));
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
