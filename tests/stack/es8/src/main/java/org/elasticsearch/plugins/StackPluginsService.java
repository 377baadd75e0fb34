package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.jdk.ModuleQualifiedExportsService;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Test-stack launcher (Elasticsearch 8): plugins given as classes on the launcher's classpath.
 *
 * An 8.x node loads its modules from DIR/modules, each in a class loader (or module layer) of its own,
 * described by a plugin-descriptor.properties that the Maven Central jars do not carry. This service
 * loads none from disk (the modules and plugins directories stay empty) and instantiates the given
 * classes instead, as the test framework of Elasticsearch does for its in-JVM nodes. It lives in this
 * package because LoadedPlugin and loadPlugin are package-private.
 */
public final class StackPluginsService extends PluginsService {

    private final List<LoadedPlugin> classpathPlugins;

    public StackPluginsService(Settings settings, Environment env, Collection<Class<? extends Plugin>> classes) {
        super(settings, env.configFile(), env.modulesFile(), env.pluginsFile());
        List<LoadedPlugin> loaded = new ArrayList<>();
        for (Class<? extends Plugin> c : classes) {
            PluginDescriptor d = new PluginDescriptor(c.getName(), "classpath plugin (canal-es test stack)", "NA",
                    Build.current().version(), "17", c.getName(), null, List.of(), false, false, false, false);
            loaded.add(new LoadedPlugin(d, loadPlugin(c, settings, env.configFile())));
        }
        loadExtensions(loaded);
        classpathPlugins = List.copyOf(loaded);
    }

    /** The server runs on the class path (an unnamed module): it has no qualified exports to share. */
    @Override
    protected void addServerExportsService(Map<String, List<ModuleQualifiedExportsService>> exports) {}

    @Override
    protected List<LoadedPlugin> plugins() {
        return classpathPlugins;
    }
}
