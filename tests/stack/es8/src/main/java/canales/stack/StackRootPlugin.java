package canales.stack;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.metadata.IndexNameExpressionResolver;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.common.io.stream.NamedWriteableRegistry;
import org.elasticsearch.common.settings.ClusterSettings;
import org.elasticsearch.common.settings.IndexScopedSettings;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.settings.SettingsFilter;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestController;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

import java.util.Collection;
import java.util.List;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Test-stack launcher (Elasticsearch 8): the `GET /` and `HEAD /` endpoints. In a distribution they come
 * from the rest-root module, which Maven Central does not serve for 8.x; without them the node answers
 * `GET /` with HTTP 405. This handler answers with this node's own name, cluster and build (the fields a
 * client reads to learn the distribution and version), nothing made up.
 */
public final class StackRootPlugin extends Plugin implements ActionPlugin {

    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService = services.clusterService();
        return List.of();
    }

    @Override
    public Collection<RestHandler> getRestHandlers(Settings settings, NamedWriteableRegistry registry,
            RestController controller, ClusterSettings clusterSettings, IndexScopedSettings indexScopedSettings,
            SettingsFilter settingsFilter, IndexNameExpressionResolver resolver, Supplier<DiscoveryNodes> nodes,
            Predicate<NodeFeature> clusterSupportsFeature) {
        return List.of(new RootHandler());
    }

    private final class RootHandler extends BaseRestHandler {
        @Override
        public String getName() {
            return "canal_es_stack_root";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                ClusterService cs = clusterService;
                Build b = Build.current();
                XContentBuilder x = channel.newBuilder();
                x.startObject();
                x.field("name", cs.getNodeName());
                x.field("cluster_name", cs.getClusterName().value());
                x.field("cluster_uuid", cs.state().metadata().clusterUUID());
                x.startObject("version");
                x.field("number", b.qualifiedVersion());
                x.field("build_flavor", b.flavor());
                x.field("build_type", b.type().displayName());
                x.field("build_hash", b.hash());
                x.field("build_date", b.date());
                x.field("build_snapshot", b.isSnapshot());
                x.field("lucene_version", org.apache.lucene.util.Version.LATEST.toString());
                x.field("minimum_wire_compatibility_version", b.minWireCompatVersion());
                x.field("minimum_index_compatibility_version", b.minIndexCompatVersion());
                x.endObject();
                x.field("tagline", "You Know, for Search");
                x.endObject();
                channel.sendResponse(new RestResponse(RestStatus.OK, x));
            };
        }
    }
}
