/*
 * A Neo4j Community server for ign-setup's tests, demo and benchmark: the
 * embedded database management service with its Bolt connector on loopback.
 *
 *   java -cp <jars> Launcher.java HOME CONF PASSWORD_FILE [WATCH_PID]
 *
 * HOME is the server's folder (data, logs), CONF a neo4j.conf written by
 * scripts/dev-db (ports, memory, authentication on). The password of the
 * user `neo4j` is set from PASSWORD_FILE before the server is reported ready;
 * readiness is the file HOME/ready holding the Bolt address. With WATCH_PID the
 * server stops when that process is gone, so a test run that dies leaves no
 * server behind. SIGTERM shuts the server down cleanly.
 */

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

public class Launcher {
    public static void main(String[] args) {
        try {
            run(args);
        } catch (Throwable e) {
            // The server's own threads would keep the JVM alive: leave for real.
            e.printStackTrace();
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: Launcher HOME CONF PASSWORD_FILE [WATCH_PID]");
            System.exit(2);
        }
        Path home = Path.of(args[0]);
        Path conf = Path.of(args[1]);
        String password = Files.readString(Path.of(args[2])).strip();
        long watchPid = args.length > 3 ? Long.parseLong(args[3]) : -1;

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .loadPropertiesFromFile(conf)
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(dbms::shutdown, "dev-db-shutdown"));

        // Authentication is on; the embedded API itself is not subject to it, so it
        // can give the initial user the harness's password.
        // A restart on the same data finds the password already set.
        try {
            dbms.database("system").executeTransactionally(
                    "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            if (!String.valueOf(e.getMessage()).contains("cannot be the same")) {
                throw e;
            }
        }

        // Wait until the default database accepts work before saying ready.
        dbms.database("neo4j").executeTransactionally("RETURN 1");
        Files.writeString(home.resolve("ready.tmp"), "ready\n");
        Files.move(home.resolve("ready.tmp"), home.resolve("ready"),
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        System.out.println("dev-db: Neo4j ready");
        System.out.flush();

        while (true) {
            TimeUnit.SECONDS.sleep(1);
            if (watchPid > 0 && ProcessHandle.of(watchPid).map(p -> !p.isAlive()).orElse(true)) {
                System.out.println("dev-db: watched process " + watchPid + " is gone; stopping");
                System.exit(0); // runs the shutdown hook
            }
        }
    }
}
