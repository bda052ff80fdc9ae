//! The backup/restore benchmark (issue #7), run by `scripts/bench`.
//!
//! For each size N it fills the database with a synthetic IGN-like graph (N
//! nodes, 3N relationships), then measures, on the same server:
//! - `ign-setup backup create` and `ign-setup backup restore --yes --file F`
//!   as whole processes (wall time, peak RSS, file size);
//! - the floors: a bare neo4rs client that only streams the rows backup
//!   create asks for (same queries, rows dropped), and one that only ingests
//!   the same data in UNWIND batches (nodes, then relationships by element id);
//! - once, at a small size, the original plan's approach: one query per node
//!   and one per relationship.
//!
//! It prints a table and the ratios, and writes them into docs/performance.md
//! between the `bench:begin`/`bench:end` markers (hand-written notes around
//! them are kept). It is an example, not a binary: it never ships.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone};
use neo4rs::{query, BoltList, BoltMap, BoltString, BoltType, ConfigBuilder, Graph};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Rows per round trip for the read floor; the tool's own value.
const READ_FETCH: usize = ign_setup::graph::FETCH_SIZE;
/// Rows per UNWIND query for generating data and for the write floor.
const WRITE_BATCH: usize = 1000;
const LABELS: [&str; 4] = ["Function", "Template", "Pattern", "Session"];
const REL_TYPES: [&str; 3] = ["USES", "CO_OCCURS_WITH", "MATCHES"];
const WORDS: [&str; 24] = [
    "tag",
    "read",
    "write",
    "blocking",
    "async",
    "query",
    "alarm",
    "history",
    "dataset",
    "gateway",
    "perspective",
    "vision",
    "script",
    "timer",
    "event",
    "binding",
    "property",
    "component",
    "session",
    "project",
    "expression",
    "transform",
    "udt",
    "provider",
];

struct Args {
    sizes: Vec<usize>,
    per_entity_nodes: usize,
    bin: PathBuf,
    work: PathBuf,
    out: Option<PathBuf>,
    command: String,
    /// Only fill the database with the first size and stop (for profiling by hand).
    load_only: bool,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        sizes: vec![10_000, 100_000],
        per_entity_nodes: 2_000,
        bin: PathBuf::from("target/release/ign-setup"),
        work: std::env::temp_dir().join("ign-setup-bench"),
        out: None,
        command: "scripts/bench".into(),
        load_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--sizes" => {
                a.sizes = val()?
                    .split(',')
                    .map(|s| s.trim().replace('_', "").parse())
                    .collect::<Result<_, _>>()?
            }
            "--per-entity-nodes" => a.per_entity_nodes = val()?.parse()?,
            "--bin" => a.bin = val()?.into(),
            "--work" => a.work = val()?.into(),
            "--out" => a.out = Some(val()?.into()),
            "--command" => a.command = val()?,
            "--load-only" => a.load_only = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.sizes.is_empty() || a.sizes.contains(&0) {
        return Err("--sizes needs positive node counts".into());
    }
    Ok(a)
}

/// Deterministic numbers (splitmix64): the same graph on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn words(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| WORDS[self.below(WORDS.len())])
            .collect::<Vec<_>>()
            .join(" ")
    }
}

struct Node {
    label: usize,
    props: BoltMap,
}

struct Rel {
    rel_type: usize,
    start: usize,
    end: usize,
    props: BoltMap,
}

fn s(v: &str) -> BoltType {
    BoltType::String(BoltString::new(v))
}

fn put(m: &mut BoltMap, k: &str, v: impl Into<BoltType>) {
    m.put(BoltString::new(k), v.into());
}

fn datetime(rng: &mut Rng) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(3600 * (rng.below(5) as i32 - 2)).unwrap();
    let secs = 1_600_000_000 + rng.below(150_000_000) as i64;
    offset
        .timestamp_opt(secs, rng.below(1000) as u32 * 1_000_000)
        .unwrap()
}

/// N nodes (half functions, then templates, patterns, sessions) and 3N
/// relationships between random nodes, with the property types the real
/// graph holds: strings, integers, floats, a list of strings, a date-time.
fn generate(n: usize, seed: u64) -> (Vec<Node>, Vec<Rel>) {
    let mut rng = Rng(seed);
    let nodes = (0..n)
        .map(|i| {
            let label = match rng.below(10) {
                0..=4 => 0,
                5..=6 => 1,
                7..=8 => 2,
                _ => 3,
            };
            let mut p = BoltMap::with_capacity(8);
            put(&mut p, "key", i as i64);
            let name = format!(
                "system.{}.{}{}",
                WORDS[rng.below(WORDS.len())],
                WORDS[rng.below(WORDS.len())],
                i
            );
            put(&mut p, "name", s(&name));
            let words = 8 + rng.below(20);
            put(&mut p, "description", s(&rng.words(words)));
            put(&mut p, "usage_count", rng.below(10_000) as i64);
            put(&mut p, "score", rng.unit());
            let tags: Vec<BoltType> = (0..2 + rng.below(4))
                .map(|_| s(WORDS[rng.below(WORDS.len())]))
                .collect();
            put(&mut p, "tags", BoltType::List(BoltList::from(tags)));
            put(&mut p, "updated_at", datetime(&mut rng));
            if label == 3 {
                put(&mut p, "duration_ms", rng.below(3_600_000) as i64);
            }
            Node { label, props: p }
        })
        .collect();
    let rels = (0..3 * n)
        .map(|_| {
            let rel_type = match rng.below(6) {
                0..=2 => 0,
                3..=4 => 1,
                _ => 2,
            };
            let mut p = BoltMap::with_capacity(3);
            put(&mut p, "weight", rng.unit());
            put(&mut p, "count", 1 + rng.below(500) as i64);
            if rel_type == 2 {
                put(&mut p, "matched_at", datetime(&mut rng));
            }
            Rel {
                rel_type,
                start: rng.below(n),
                end: rng.below(n),
                props: p,
            }
        })
        .collect();
    (nodes, rels)
}

async fn connect() -> Res<Graph> {
    let env = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
    let password = match std::env::var("NEO4J_PASSWORD") {
        Ok(p) => p,
        Err(_) => std::fs::read_to_string(env("NEO4J_PASSWORD_FILE")?)?
            .trim()
            .to_owned(),
    };
    let config = ConfigBuilder::default()
        .uri(env("NEO4J_URI")?)
        .user(env("NEO4J_USERNAME")?)
        .password(password)
        .db(env("NEO4J_DATABASE")?)
        .fetch_size(READ_FETCH)
        .max_connections(2)
        .build()?;
    Ok(Graph::connect(config)?)
}

async fn scalar(g: &Graph, cypher: &str) -> Res<i64> {
    let mut st = g.execute(query(cypher)).await?;
    let mut v = 0;
    while let Some(row) = st.next().await? {
        v = row.get::<i64>("c")?;
    }
    Ok(v)
}

async fn clear(g: &Graph) -> Res<()> {
    let t = Instant::now();
    while scalar(
        g,
        "MATCH ()-[r]->() WITH r LIMIT 10000 DELETE r RETURN count(r) AS c",
    )
    .await?
        > 0
    {}
    while scalar(
        g,
        "MATCH (n) WITH n LIMIT 10000 DETACH DELETE n RETURN count(n) AS c",
    )
    .await?
        > 0
    {}
    eprintln!("bench:   clear {:.2} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// `{k: row.p.k, ...}` for the (sorted) keys of a property map: entities
/// created with their properties in one write, the fastest form measured on
/// the test server (`CREATE ... SET n = row.p` is a create and an update).
fn inline_props(props: &BoltMap) -> String {
    let mut keys: Vec<&str> = props.value.keys().map(|k| k.value.as_str()).collect();
    keys.sort_unstable();
    let fields: Vec<String> = keys.iter().map(|k| format!("{k}: row.p.{k}")).collect();
    format!("{{{}}}", fields.join(", "))
}

/// The write floor (also how the data is loaded in the first place): nodes in
/// UNWIND batches per label and key set returning their element ids, then
/// relationships in UNWIND batches per type and key set, endpoints found by
/// element id. The same Cypher restore sends, without reading a file.
async fn ingest(g: &Graph, nodes: &[Node], rels: &[Rel]) -> Res<Duration> {
    let t = Instant::now();
    let mut ids: Vec<BoltType> = vec![BoltType::Null(neo4rs::BoltNull); nodes.len()];
    let mut node_groups: BTreeMap<(usize, String), Vec<usize>> = BTreeMap::new();
    for (i, n) in nodes.iter().enumerate() {
        node_groups
            .entry((n.label, inline_props(&n.props)))
            .or_default()
            .push(i);
    }
    for ((li, props), idx) in &node_groups {
        let label = LABELS[*li];
        for chunk in idx.chunks(WRITE_BATCH) {
            let rows: Vec<BoltType> = chunk
                .iter()
                .map(|&i| {
                    let mut r = BoltMap::with_capacity(2);
                    put(&mut r, "i", i as i64);
                    put(&mut r, "p", BoltType::Map(nodes[i].props.clone()));
                    BoltType::Map(r)
                })
                .collect();
            let q = query(&format!(
                "UNWIND $rows AS row CREATE (n:{label} {props}) RETURN row.i AS i, elementId(n) AS id"
            ))
            .param("rows", BoltType::List(BoltList::from(rows)));
            let mut st = g.execute(q).await?;
            while let Some(row) = st.next().await? {
                let i: i64 = row.get("i")?;
                ids[i as usize] = row.get("id")?;
            }
        }
    }
    let node_time = t.elapsed();
    let mut rel_groups: BTreeMap<(usize, String), Vec<&Rel>> = BTreeMap::new();
    for r in rels {
        rel_groups
            .entry((r.rel_type, inline_props(&r.props)))
            .or_default()
            .push(r);
    }
    for ((ti, props), of_type) in &rel_groups {
        let rel_type = REL_TYPES[*ti];
        for chunk in of_type.chunks(WRITE_BATCH) {
            let rows: Vec<BoltType> = chunk
                .iter()
                .map(|r| {
                    let mut m = BoltMap::with_capacity(3);
                    put(&mut m, "s", ids[r.start].clone());
                    put(&mut m, "e", ids[r.end].clone());
                    put(&mut m, "p", BoltType::Map(r.props.clone()));
                    BoltType::Map(m)
                })
                .collect();
            let q = query(&format!(
                "UNWIND $rows AS row MATCH (a) WHERE elementId(a) = row.s \
                 MATCH (b) WHERE elementId(b) = row.e \
                 CREATE (a)-[r:{rel_type} {props}]->(b) RETURN count(r) AS c"
            ))
            .param("rows", BoltType::List(BoltList::from(rows)));
            let mut st = g.execute(q).await?;
            let mut c = -1;
            while let Some(row) = st.next().await? {
                c = row.get("c")?;
            }
            if c != chunk.len() as i64 {
                return Err(
                    format!("{c} of {} {rel_type} relationships created", chunk.len()).into(),
                );
            }
        }
    }
    eprintln!(
        "bench:   ingest: nodes {:.2} s, relationships {:.2} s",
        node_time.as_secs_f64(),
        (t.elapsed() - node_time).as_secs_f64()
    );
    Ok(t.elapsed())
}

/// The read floor: the two queries of `backup create`, rows dropped.
async fn stream_all(g: &Graph) -> Res<(Duration, u64)> {
    let t = Instant::now();
    let mut seen = 0u64;
    for cypher in [
        "MATCH (n) WHERE NOT n:IgnSetupLock RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props",
        "MATCH (a)-[r]->(b) RETURN elementId(r) AS id, type(r) AS type, elementId(a) AS s, elementId(b) AS e, properties(r) AS props",
    ] {
        let mut st = g.execute(query(cypher)).await?;
        while st.next().await?.is_some() {
            seen += 1;
        }
    }
    Ok((t.elapsed(), seen))
}

/// The original plan: one auto-committed query per node, then one per
/// relationship matching its endpoints by label and key.
async fn per_entity(g: &Graph, nodes: &[Node], rels: &[Rel]) -> Res<Duration> {
    let t = Instant::now();
    for n in nodes {
        let q = query(&format!("CREATE (n:{}) SET n = $p", LABELS[n.label]))
            .param("p", BoltType::Map(n.props.clone()));
        g.run(q).await?;
    }
    for r in rels {
        let q = query(&format!(
            "MATCH (a:{} {{key: $a}}) MATCH (b:{} {{key: $b}}) CREATE (a)-[r:{}]->(b) SET r = $p",
            LABELS[nodes[r.start].label], LABELS[nodes[r.end].label], REL_TYPES[r.rel_type]
        ))
        .param("a", r.start as i64)
        .param("b", r.end as i64)
        .param("p", BoltType::Map(r.props.clone()));
        g.run(q).await?;
    }
    Ok(t.elapsed())
}

/// One run of the tool as its own process.
struct ProcRun {
    wall: Duration,
    max_rss_kb: u64,
    stdout: String,
}

fn run_tool(bin: &Path, work: &Path, args: &[&str]) -> Res<ProcRun> {
    let time_bin = Path::new("/usr/bin/time");
    let rss_file = work.join("time-v.txt");
    let mut cmd = if time_bin.exists() {
        let mut c = Command::new(time_bin);
        c.arg("-v").arg("-o").arg(&rss_file).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    cmd.args(args)
        .arg("--json")
        .current_dir(work)
        .env("IGN_SETUP_BACKUP_DIR", work.join("backups"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let t = Instant::now();
    let child = cmd.spawn()?;
    let (status, max_rss_kb, out, err) = if time_bin.exists() {
        let out = child.wait_with_output()?;
        let text = std::fs::read_to_string(&rss_file)?;
        let kb = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Maximum resident set size (kbytes): ")
            })
            .ok_or("no maximum resident set size in /usr/bin/time -v output")?
            .trim()
            .parse()?;
        (out.status.success(), kb, out.stdout, out.stderr)
    } else {
        wait_rusage(child)?
    };
    let wall = t.elapsed();
    if !status {
        return Err(format!(
            "ign-setup {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        )
        .into());
    }
    Ok(ProcRun {
        wall,
        max_rss_kb,
        stdout: String::from_utf8_lossy(&out).into_owned(),
    })
}

/// Without /usr/bin/time: the child's own peak RSS from wait4's rusage.
#[allow(unsafe_code)]
fn wait_rusage(mut child: std::process::Child) -> Res<(bool, u64, Vec<u8>, Vec<u8>)> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut so = child.stdout.take().ok_or("no stdout")?;
    let mut se = child.stderr.take().ok_or("no stderr")?;
    let t = std::thread::spawn(move || {
        let mut e = Vec::new();
        let _ = se.read_to_end(&mut e);
        e
    });
    so.read_to_end(&mut out)?;
    err.extend(t.join().map_err(|_| "stderr reader panicked")?);
    let mut status = 0;
    // SAFETY: rusage is plain old data; the pid is our own unwaited child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut ru) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, ru.ru_maxrss as u64, out, err))
}

#[derive(Clone)]
struct Row {
    size: usize,
    what: &'static str,
    entities: u64,
    wall: Duration,
    rss_kb: Option<u64>,
    file: Option<u64>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.entities as f64 / self.wall.as_secs_f64()
    }
}

async fn bench_size(g: &Graph, a: &Args, n: usize, rows: &mut Vec<Row>) -> Res<()> {
    let (nodes, rels) = generate(n, 7);
    let entities = (nodes.len() + rels.len()) as u64;
    let row = |what, wall, rss_kb, file| Row {
        size: n,
        what,
        entities,
        wall,
        rss_kb,
        file,
    };
    eprintln!(
        "bench: N={n}: loading {} nodes, {} relationships (the write floor)",
        n,
        rels.len()
    );
    clear(g).await?;
    let write_floor = ingest(g, &nodes, &rels).await?;

    // Reads are cheap next to writes: each is run three times, alternating,
    // and the fastest kept (this machine's noise is larger than the effects).
    eprintln!("bench: N={n}: read floor and backup create, three times");
    let mut read_floor = Duration::MAX;
    let mut backup: Option<ProcRun> = None;
    let mut backup_rss = 0;
    let mut file = String::new();
    let mut size = 0;
    for _ in 0..3 {
        let (r, seen) = stream_all(g).await?;
        if seen != entities {
            return Err(format!("streamed {seen} rows, expected {entities}").into());
        }
        read_floor = read_floor.min(r);
        let _ = std::fs::remove_dir_all(a.work.join("backups"));
        let run = run_tool(&a.bin, &a.work, &["backup", "create", "--reason", "bench"])?;
        let doc: serde_json::Value = serde_json::from_str(&run.stdout)?;
        file = doc["path"]
            .as_str()
            .ok_or("no path in backup output")?
            .to_owned();
        size = doc["size"].as_u64().unwrap_or(0);
        backup_rss = backup_rss.max(run.max_rss_kb);
        if backup.as_ref().is_none_or(|b| run.wall < b.wall) {
            backup = Some(run);
        }
    }
    let backup = backup.ok_or("no backup run")?;

    eprintln!("bench: N={n}: backup restore into an empty database");
    clear(g).await?;
    let restore = run_tool(
        &a.bin,
        &a.work,
        &["backup", "restore", "--yes", "--file", &file],
    )?;
    let got = scalar(g, "MATCH (n) WHERE NOT n:IgnSetupLock RETURN count(n) AS c").await?;
    if got != n as i64 {
        return Err(format!("restore left {got} nodes, expected {n}").into());
    }

    rows.push(row("read floor (neo4rs stream)", read_floor, None, None));
    rows.push(row(
        "backup create",
        backup.wall,
        Some(backup_rss),
        Some(size),
    ));
    rows.push(row("write floor (neo4rs UNWIND)", write_floor, None, None));
    rows.push(row(
        "backup restore",
        restore.wall,
        Some(restore.max_rss_kb),
        None,
    ));
    Ok(())
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| nodes | relationships | step | wall (s) | entities/s | peak RSS (MB) | file (MB) |\n\
         | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let rels = r.entities - r.size as u64;
        t += &format!(
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} |\n",
            r.size,
            rels,
            r.what,
            r.wall.as_secs_f64(),
            r.rate(),
            r.rss_kb.map_or("-".into(), |k| format!("{:.1}", mb(k))),
            r.file
                .map_or("-".into(), |b| format!("{:.1}", b as f64 / 1e6)),
        );
    }
    t
}

fn find<'a>(rows: &'a [Row], size: usize, what: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.size == size && r.what.starts_with(what))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

fn ratios(rows: &[Row], sizes: &[usize], pe: &Row) -> String {
    let mut t = String::from("| measure | value | target | |\n| --- | ---: | ---: | --- |\n");
    for &n in sizes {
        let (Some(b), Some(rf), Some(r), Some(wf)) = (
            find(rows, n, "backup create"),
            find(rows, n, "read floor"),
            find(rows, n, "backup restore"),
            find(rows, n, "write floor"),
        ) else {
            continue;
        };
        let x = b.wall.as_secs_f64() / rf.wall.as_secs_f64();
        t += &format!(
            "| backup / read floor, N={n} | {x:.2}× | ≤ 1.25× | {} |\n",
            verdict(x <= 1.25)
        );
        let x = r.wall.as_secs_f64() / wf.wall.as_secs_f64();
        t += &format!(
            "| restore / write floor, N={n} | {x:.2}× | ≤ 1.5× | {} |\n",
            verdict(x <= 1.5)
        );
        let x = r.rate() / pe.rate();
        t += &format!(
            "| restore rate / per-entity rate, N={n} | {x:.1}× | ≥ 30× | {} |\n",
            verdict(x >= 30.0)
        );
        for (what, run) in [("backup", b), ("restore", r)] {
            let m = mb(run.rss_kb.unwrap_or(0));
            t += &format!(
                "| {what} peak RSS, N={n} | {m:.1} MB | ≤ 64 MB | {} |\n",
                verdict(m <= 64.0)
            );
        }
    }
    if let (Some(&lo), Some(&hi)) = (sizes.iter().min(), sizes.iter().max()) {
        if lo != hi {
            for what in ["backup create", "backup restore"] {
                if let (Some(a), Some(b)) = (find(rows, lo, what), find(rows, hi, what)) {
                    let x = b.rss_kb.unwrap_or(0) as f64 / a.rss_kb.unwrap_or(1) as f64;
                    t += &format!(
                        "| {what} RSS growth N={lo} → N={hi} | {x:.2}× | ≤ 1.3× | {} |\n",
                        verdict(x <= 1.3)
                    );
                }
            }
        }
    }
    t
}

fn machine() -> String {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "{nproc} CPUs ({cpu}), {:.1} GiB memory, {} {}",
        mem_kb as f64 / 1024.0 / 1024.0,
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

async fn server(g: &Graph) -> String {
    let reported = server_reported(g).await;
    match std::env::var("BENCH_SERVER") {
        Ok(s) => format!("{s}, reporting itself as {reported}"),
        Err(_) => reported,
    }
}

async fn server_reported(g: &Graph) -> String {
    let Ok(mut st) = g
        .execute(query(
            "CALL dbms.components() YIELD name, versions RETURN name, versions",
        ))
        .await
    else {
        return "unknown server".into();
    };
    match st.next().await {
        Ok(Some(row)) => {
            let name: String = row.get("name").unwrap_or_default();
            let v: Vec<String> = row.get("versions").unwrap_or_default();
            format!("{name} {}", v.join(", "))
        }
        _ => "unknown server".into(),
    }
}

/// The machine is shared: say how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn write_doc(path: &Path, body: &str) -> Res<()> {
    const BEGIN: &str = "<!-- bench:begin (written by scripts/bench) -->";
    const END: &str = "<!-- bench:end -->";
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let block = format!("{BEGIN}\n{body}{END}\n");
    let new = match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{block}{}",
                &old[..b],
                old[e + END.len()..].trim_start_matches('\n')
            )
        }
        _ => format!("# Performance\n\n{block}"),
    };
    std::fs::write(path, new)?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let a = parse_args()?;
    std::fs::create_dir_all(&a.work)?;
    let g = connect().await?;
    let server = server(&g).await;
    let load_start = load_average();
    let started = Instant::now();
    if a.load_only {
        let (nodes, rels) = generate(a.sizes[0], 7);
        clear(&g).await?;
        ingest(&g, &nodes, &rels).await?;
        return Ok(());
    }
    // A cold server (JIT, caches) is slower by a factor; warm it first.
    eprintln!("bench: warming the server up");
    let (nodes, rels) = generate(5_000, 3);
    clear(&g).await?;
    ingest(&g, &nodes, &rels).await?;
    stream_all(&g).await?;

    // At a small size, and first, so that clearing afterwards is cheap.
    let pn = a.per_entity_nodes;
    eprintln!("bench: per-entity approach at N={pn}");
    let (nodes, rels) = generate(pn, 11);
    clear(&g).await?;
    // The original plan looks endpoints up by key: give it an index to do so.
    let mut indexed = true;
    for l in LABELS {
        let q = format!("CREATE INDEX bench_key_{l} IF NOT EXISTS FOR (n:{l}) ON (n.key)");
        indexed &= g.run(query(&q)).await.is_ok();
    }
    let wall = per_entity(&g, &nodes, &rels).await?;
    for l in LABELS {
        let _ = g
            .run(query(&format!("DROP INDEX bench_key_{l} IF EXISTS")))
            .await;
    }
    let pe = Row {
        size: pn,
        what: if indexed {
            "per-entity queries (key indexed)"
        } else {
            "per-entity queries (no index)"
        },
        entities: (nodes.len() + rels.len()) as u64,
        wall,
        rss_kb: None,
        file: None,
    };
    let mut rows = vec![pe.clone()];
    let mut sizes = a.sizes.clone();
    sizes.sort_unstable();
    for &n in &sizes {
        bench_size(&g, &a, n, &mut rows).await?;
    }

    let mut by_size: BTreeMap<usize, Vec<Row>> = BTreeMap::new();
    for r in &rows {
        by_size.entry(r.size).or_default().push(r.clone());
    }
    let ordered: Vec<Row> = by_size.into_values().flatten().collect();
    let body = format!(
        "Measured {} on {}; server {}; load average {} at the start, {} at the end; \
         the whole run took {:.0} s.\n\n\
         Reproduce with `{}`.\n\n{}\n{}\n",
        chrono::Utc::now().format("%Y-%m-%d"),
        machine(),
        server,
        load_start,
        load_average(),
        started.elapsed().as_secs_f64(),
        a.command,
        table(&ordered),
        ratios(&rows, &sizes, &pe),
    );
    println!("{body}");
    if let Some(out) = &a.out {
        write_doc(out, &body)?;
        eprintln!("bench: wrote {}", out.display());
    }
    Ok(())
}
