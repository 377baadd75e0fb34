package canales.stack;

import com.alibaba.otter.canal.common.zookeeper.ZkClientx;
import com.alibaba.otter.canal.common.zookeeper.ZookeeperPathUtils;
import com.alibaba.otter.canal.common.zookeeper.running.ServerRunningData;
import com.alibaba.otter.canal.common.zookeeper.running.ServerRunningListener;
import com.alibaba.otter.canal.common.zookeeper.running.ServerRunningMonitor;
import com.alibaba.otter.canal.common.zookeeper.running.ServerRunningMonitors;
import com.alibaba.otter.canal.connector.kafka.producer.CanalKafkaProducer;
import com.alibaba.otter.canal.instance.core.CanalInstanceGenerator;
import com.alibaba.otter.canal.instance.core.CanalMQConfig;
import com.alibaba.otter.canal.instance.manager.CanalInstanceWithManager;
import com.alibaba.otter.canal.instance.manager.model.Canal;
import com.alibaba.otter.canal.instance.manager.model.CanalParameter;
import com.alibaba.otter.canal.server.CanalMQStarter;
import com.alibaba.otter.canal.server.embedded.CanalServerWithEmbedded;
import com.alibaba.otter.canal.server.netty.CanalServerWithNetty;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;

/**
 * Test-stack launcher: one embedded Canal server speaking the Canal TCP protocol,
 * reading the binlog of one MySQL/MariaDB server.
 *
 * Options (all --key=value):
 *   --port=11111            Canal TCP port (bound on --ip)
 *   --ip=127.0.0.1
 *   --mysql-host=127.0.0.1 --mysql-port=3306 --mysql-user=canal --mysql-password=canal
 *   --destinations=example  comma separated; every one is started up front
 *   --slave-id=1001         must differ from the server_id of the database
 *   --filter=.*\..*         table filter regex (schema.table, lower case)
 *   --auth=true             false: any user / password is accepted
 *   --user=canal            Canal user
 *   --passwd-hash=E361...   hex(SHA1(SHA1(password))) of the Canal user
 *   --position=FILE:POS     optional start position (default: SHOW MASTER STATUS at first connect)
 *   --meta-dir=DIR          keep the client cursors in DIR/{destination}/meta.dat (flushed every second
 *                           and at shutdown) and restart the binlog dump from them: a restart of this
 *                           server neither re-streams from the start nor skips what was written meanwhile.
 *                           Without it (and without --zk) cursors live in memory only.
 *   --zk=HOST:PORT          cluster mode: the destinations run on whichever server of the cluster holds
 *                           the ephemeral /otter/canal/destinations/{d}/running node; the others stay
 *                           standby (clients get "should start first") and take over when it goes.
 *                           Cursors are shared through ZooKeeper (memory, flushed every second).
 *   --ha-delay=5            cluster mode: seconds a standby waits after the running node vanished
 *
 * Kafka mode (besides the TCP destinations above, in the same JVM; not with --zk):
 *   --mq-destination=NAME   one more destination, served to Kafka by Canal's own CanalMQStarter with the
 *                           Kafka producer of connector.kafka (protobuf records: canal.mq.flatMessage=false)
 *   --mq-slave-id=1004      its replica id (each destination runs its own binlog dump)
 *   --kafka-brokers=HOST:PORT --mq-topic=canal-es --mq-partitions=6
 *   --mq-partition-hash=.*\..*:$pk$   canal.mq.partitionHash ("" sends everything to partition 0)
 *   --mq-prop=KEY=VALUE,... extra producer / canal.mq.* properties (e.g. kafka.retries=3)
 * CanalMQStarter reads the singleton CanalServerWithEmbedded.instance(), so in this mode the TCP
 * destinations are served by that singleton too; CanalInstanceWithManager never sets the instance's
 * mqConfig (the starter would loop on a NullPointerException), so the MQ destination's instance sets it.
 */
public final class CanalMain {

    private static final String DEFAULT_PASSWD_HASH = "E3619321C1A937C46A0D8BD1DAC39F93B27D4458"; // "canal"

    public static void main(String[] args) throws Exception {
        Map<String, String> opt = parse(args);
        String ip = opt.getOrDefault("ip", "127.0.0.1");
        int port = Integer.parseInt(opt.getOrDefault("port", "11111"));
        String mysqlHost = opt.getOrDefault("mysql-host", "127.0.0.1");
        int mysqlPort = Integer.parseInt(opt.getOrDefault("mysql-port", "3306"));
        String mysqlUser = opt.getOrDefault("mysql-user", "canal");
        String mysqlPassword = opt.getOrDefault("mysql-password", "canal");
        String[] destinations = opt.getOrDefault("destinations", "example").split(",");
        long slaveId = Long.parseLong(opt.getOrDefault("slave-id", "1001"));
        String filter = opt.getOrDefault("filter", ".*\\..*").toLowerCase();
        boolean auth = Boolean.parseBoolean(opt.getOrDefault("auth", "true"));
        String user = opt.getOrDefault("user", "canal");
        String passwdHash = opt.getOrDefault("passwd-hash", DEFAULT_PASSWD_HASH);
        String position = opt.get("position");
        String metaDir = opt.get("meta-dir");
        String zk = opt.get("zk");
        boolean cluster = zk != null && !zk.isEmpty();
        int haDelay = Integer.parseInt(opt.getOrDefault("ha-delay", "5"));
        String self = ip + ":" + port;
        String mqDestination = opt.getOrDefault("mq-destination", "");
        boolean mq = !mqDestination.isEmpty();
        if (mq && cluster) {
            throw new IllegalArgumentException("--mq-destination and --zk do not go together");
        }
        long mqSlaveId = Long.parseLong(opt.getOrDefault("mq-slave-id", "1004"));
        CanalMQConfig mqConfig = new CanalMQConfig();
        mqConfig.setTopic(opt.getOrDefault("mq-topic", "canal-es"));
        mqConfig.setPartitionsNum(Integer.parseInt(opt.getOrDefault("mq-partitions", "6")));
        String partitionHash = opt.getOrDefault("mq-partition-hash", ".*\\..*:$pk$");
        mqConfig.setPartitionHash(partitionHash.isEmpty() ? null : partitionHash);
        mqConfig.setPartition(0);

        // CanalMQStarter works on the singleton: the Kafka mode must use it for every destination
        CanalServerWithEmbedded embedded = mq ? CanalServerWithEmbedded.instance() : new CanalServerWithEmbedded();
        CanalInstanceGenerator generator = destination -> {
            CanalParameter p = new CanalParameter();
            if (cluster) {
                p.setZkClusters(List.of(zk));
                p.setMetaMode(CanalParameter.MetaMode.MIXED);
                p.setIndexMode(CanalParameter.IndexMode.MEMORY_META_FAILBACK);
            } else if (metaDir != null && !metaDir.isEmpty()) {
                p.setDataDir(metaDir);
                p.setMetaFileFlushPeriod(1000);
                p.setMetaMode(CanalParameter.MetaMode.LOCAL_FILE);
                p.setIndexMode(CanalParameter.IndexMode.MEMORY_META_FAILBACK);
            } else {
                p.setIndexMode(CanalParameter.IndexMode.MEMORY);
                p.setMetaMode(CanalParameter.MetaMode.MEMORY);
            }
            p.setStorageMode(CanalParameter.StorageMode.MEMORY);
            p.setSourcingType(CanalParameter.SourcingType.MYSQL);
            p.setHaMode(CanalParameter.HAMode.HEARTBEAT);
            p.setDetectingEnable(false);
            p.setTsdbEnable(false);
            p.setGtidEnable(false);
            p.setMemoryStorageBufferSize(16384);
            boolean mqDest = mq && destination.equals(mqDestination);
            p.setSlaveId(mqDest ? mqSlaveId : slaveId);
            p.setDbAddresses(List.of(new InetSocketAddress(mysqlHost, mysqlPort)));
            p.setDbUsername(mysqlUser);
            p.setDbPassword(mysqlPassword);
            if (position != null && !position.isEmpty()) {
                int colon = position.lastIndexOf(':');
                String journal = position.substring(0, colon);
                long pos = Long.parseLong(position.substring(colon + 1));
                p.setPositions(List.of("{\"journalName\":\"" + journal + "\",\"position\":" + pos + "}"));
            }
            Canal canal = new Canal();
            canal.setId(1L);
            canal.setName(destination);
            canal.setCanalParameter(p);
            if (mqDest) {
                return new MqInstance(canal, filter, mqConfig);
            }
            return new CanalInstanceWithManager(canal, filter);
        };
        embedded.setCanalInstanceGenerator(generator);
        if (auth) {
            embedded.setUser(user);
            embedded.setPasswd(passwdHash);
        }
        embedded.start();
        ZkClientx zkClient = null;
        Map<String, ServerRunningMonitor> monitors = new ConcurrentHashMap<>();
        if (cluster) {
            zkClient = ZkClientx.getZkClient(zk);
            zkClient.createPersistent(ZookeeperPathUtils.DESTINATION_ROOT_NODE, true);
            zkClient.createPersistent(ZookeeperPathUtils.CANAL_CLUSTER_ROOT_NODE, true);
            ServerRunningData me = new ServerRunningData(self);
            ServerRunningMonitors.setServerData(me);
            ServerRunningMonitors.setRunningMonitors(monitors);
            for (String raw : destinations) {
                String d = raw.trim();
                ServerRunningMonitor m = new ServerRunningMonitor(me);
                m.setDestination(d);
                m.setZkClient(zkClient);
                m.setDelayTime(haDelay);
                m.setListener(new HaListener(embedded, zkClient, d, self));
                monitors.put(d, m);
            }
            for (ServerRunningMonitor m : monitors.values()) {
                m.start(); // becomes active (starts the destination) or waits as a standby
            }
        } else {
            for (String d : destinations) {
                embedded.start(d.trim());
            }
            if (mq) {
                embedded.start(mqDestination);
            }
        }
        if (mq) {
            CanalKafkaProducer producer = new CanalKafkaProducer();
            producer.init(mqProperties(opt));
            // its workers subscribe as client 1001 and log "the MQ producer: NAME is running now"
            new CanalMQStarter(producer).start(mqDestination);
        }

        CanalServerWithNetty netty = CanalServerWithNetty.instance();
        netty.setEmbeddedServer(embedded);
        netty.setIp(ip);
        netty.setPort(port);
        netty.start();

        CountDownLatch done = new CountDownLatch(1);
        final ZkClientx zkFinal = zkClient;
        // CanalMQStarter registers a shutdown hook of its own that stops its workers and closes the producer
        // (its destroy() cannot run from a hook: it removes that hook, which throws during shutdown)
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (ServerRunningMonitor m : monitors.values()) {
                try {
                    m.stop(); // releases the running node at once: a standby takes over after --ha-delay
                } catch (Throwable t) {
                    t.printStackTrace();
                }
            }
            try {
                netty.stop();
            } catch (Throwable t) {
                t.printStackTrace();
            }
            try {
                // CanalServerWithNetty.stop() normally stops the embedded server (and its instances) too
                if (embedded.isStart()) {
                    for (String d : destinations) {
                        if (embedded.isStart(d.trim())) {
                            embedded.stop(d.trim());
                        }
                    }
                    if (mq && embedded.isStart(mqDestination)) {
                        embedded.stop(mqDestination);
                    }
                    embedded.stop();
                }
            } catch (Throwable t) {
                t.printStackTrace();
            }
            if (zkFinal != null) {
                try {
                    zkFinal.close();
                } catch (Throwable t) {
                    t.printStackTrace();
                }
            }
            System.err.println("canal-stack: stopped");
            done.countDown();
        }, "canal-stack-shutdown"));
        System.err.println("canal-stack: listening on " + ip + ":" + port + " destinations="
                + String.join(",", destinations) + " auth=" + auth + " slaveId=" + slaveId
                + (cluster ? " zk=" + zk : "") + (metaDir != null ? " metaDir=" + metaDir : "")
                + (mq ? " mqDestination=" + mqDestination + " mqSlaveId=" + mqSlaveId + " topic=" + mqConfig.getTopic()
                        + " partitions=" + mqConfig.getPartitionsNum() + " partitionHash=" + partitionHash : ""));
        done.await();
    }

    /** Cluster mode: start the destination when this server becomes the running one, stop it when it
     *  stops being so; keep an ephemeral cluster/{ip:port} node while the monitor runs. */
    private static final class HaListener implements ServerRunningListener {
        private final CanalServerWithEmbedded embedded;
        private final ZkClientx zk;
        private final String destination;
        private final String node;

        HaListener(CanalServerWithEmbedded embedded, ZkClientx zk, String destination, String self) {
            this.embedded = embedded;
            this.zk = zk;
            this.destination = destination;
            this.node = ZookeeperPathUtils.getDestinationClusterNode(destination, self);
        }

        @Override
        public void processStart() {
            try {
                zk.createPersistent(ZookeeperPathUtils.getDestinationClusterRoot(destination), true);
                zk.createEphemeral(node);
            } catch (RuntimeException e) {
                System.err.println("canal-stack: cannot register " + node + ": " + e);
            }
        }

        @Override
        public void processStop() {
            try {
                zk.delete(node);
            } catch (RuntimeException e) {
                System.err.println("canal-stack: cannot remove " + node + ": " + e);
            }
        }

        @Override
        public void processActiveEnter() {
            System.err.println("canal-stack: active for destination " + destination);
            embedded.start(destination);
        }

        @Override
        public void processActiveExit() {
            System.err.println("canal-stack: standby for destination " + destination);
            if (embedded.isStart(destination)) {
                embedded.stop(destination);
            }
        }
    }

    /** The MQ destination's instance: CanalInstanceWithManager leaves the protected mqConfig null. */
    private static final class MqInstance extends CanalInstanceWithManager {
        MqInstance(Canal canal, String filter, CanalMQConfig config) {
            super(canal, filter);
            this.mqConfig = config;
        }
    }

    /** canal.properties of the Kafka mode: Canal's own defaults (deployer canal.properties), protobuf. */
    private static Properties mqProperties(Map<String, String> opt) {
        Properties p = new Properties();
        p.setProperty("canal.mq.flatMessage", "false");
        p.setProperty("canal.mq.canalBatchSize", "50");
        p.setProperty("canal.mq.canalGetTimeout", "100");
        p.setProperty("canal.mq.database.hash", "true");
        p.setProperty("canal.mq.build.thread.size", "8");
        p.setProperty("canal.mq.send.thread.size", "8");
        p.setProperty("kafka.bootstrap.servers", opt.getOrDefault("kafka-brokers", "127.0.0.1:9092"));
        p.setProperty("kafka.acks", "all");
        p.setProperty("kafka.compression.type", "none");
        p.setProperty("kafka.batch.size", "16384");
        p.setProperty("kafka.linger.ms", "1");
        p.setProperty("kafka.max.request.size", "1048576");
        p.setProperty("kafka.buffer.memory", "33554432");
        p.setProperty("kafka.max.in.flight.requests.per.connection", "1");
        p.setProperty("kafka.retries", "0");
        String extra = opt.getOrDefault("mq-prop", "");
        for (String kv : extra.split(",")) {
            int eq = kv.indexOf('=');
            if (eq > 0) {
                p.setProperty(kv.substring(0, eq).trim(), kv.substring(eq + 1).trim());
            }
        }
        return p;
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
