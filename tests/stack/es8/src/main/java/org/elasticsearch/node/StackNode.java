package org.elasticsearch.node;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsService;
import org.elasticsearch.plugins.StackPluginsService;

import java.util.Collection;

/**
 * Test-stack launcher (Elasticsearch 8): a node whose plugins are classes on the classpath. The public
 * Node(Environment) constructor only loads plugins from disk; NodeConstruction and NodeServiceProvider
 * are package-private, hence this package.
 */
public final class StackNode extends Node {

    public StackNode(Environment env, Collection<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(env, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment e, Settings s) {
                return new StackPluginsService(s, e, plugins);
            }
        }, true));
    }
}
