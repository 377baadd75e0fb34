package canales.stack;

import com.alibaba.otter.canal.instance.core.CanalInstanceGenerator;
import com.alibaba.otter.canal.instance.manager.CanalInstanceWithManager;
import com.alibaba.otter.canal.instance.manager.model.Canal;
import com.alibaba.otter.canal.instance.manager.model.CanalParameter;
import com.alibaba.otter.canal.server.embedded.CanalServerWithEmbedded;
import com.alibaba.otter.canal.server.netty.CanalServerWithNetty;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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

        CanalServerWithEmbedded embedded = new CanalServerWithEmbedded();
        CanalInstanceGenerator generator = destination -> {
            CanalParameter p = new CanalParameter();
            p.setIndexMode(CanalParameter.IndexMode.MEMORY);
            p.setMetaMode(CanalParameter.MetaMode.MEMORY);
            p.setStorageMode(CanalParameter.StorageMode.MEMORY);
            p.setSourcingType(CanalParameter.SourcingType.MYSQL);
            p.setHaMode(CanalParameter.HAMode.HEARTBEAT);
            p.setDetectingEnable(false);
            p.setTsdbEnable(false);
            p.setGtidEnable(false);
            p.setMemoryStorageBufferSize(16384);
            p.setSlaveId(slaveId);
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
            return new CanalInstanceWithManager(canal, filter);
        };
        embedded.setCanalInstanceGenerator(generator);
        if (auth) {
            embedded.setUser(user);
            embedded.setPasswd(passwdHash);
        }
        embedded.start();
        for (String d : destinations) {
            embedded.start(d.trim());
        }

        CanalServerWithNetty netty = CanalServerWithNetty.instance();
        netty.setEmbeddedServer(embedded);
        netty.setIp(ip);
        netty.setPort(port);
        netty.start();

        CountDownLatch done = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
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
                    embedded.stop();
                }
            } catch (Throwable t) {
                t.printStackTrace();
            }
            System.err.println("canal-stack: stopped");
            done.countDown();
        }, "canal-stack-shutdown"));
        System.err.println("canal-stack: listening on " + ip + ":" + port + " destinations="
                + String.join(",", destinations) + " auth=" + auth + " slaveId=" + slaveId);
        done.await();
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
