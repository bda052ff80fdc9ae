//! The backup/restore benchmark, run by `scripts/bench`.
//!
//! For each size N it fills the database with a synthetic IGN-like graph (N
//! nodes, 3N relationships, mixed property types), then measures, on the
//! same server, each step as a whole process (wall time, peak RSS through
//! `/usr/bin/time -v`, file size) with the load average when it started:
//! - `ign-setup backup create` and `ign-setup backup restore --yes --file F`;
//! - the floors, run as child processes of this driver: a bare neo4rs client
//!   that only streams the rows backup create asks for (same queries, rows
//!   dropped), and one that only ingests the same graph in UNWIND batches
//!   (nodes, then relationships by element id), generated on the fly;
//! - with `--apoc-dir` (a server started by `scripts/dev-db --apoc`),
//!   `apoc.export.json.all` and `apoc.import.json` of the same graph, run by
//!   the server (wall time as seen by the client, file size);
//! - once, at a small size, the original plan's approach: one query per node
//!   and one per relationship.
//!
//! It prints a table and the targets' ratios, and writes them into
//! docs/performance.md between the `bench:begin BLOCK`/`bench:end BLOCK`
//! markers (hand-written notes around them are kept). It is an example, not
//! a binary: it never ships.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, TimeZone};
use neo4rs::{query, BoltList, BoltMap, BoltString, BoltType, ConfigBuilder, Graph};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Rows per round trip for the read floor; the tool's own value.
const READ_FETCH: usize = ign_setup::graph::FETCH_SIZE;
/// Rows per UNWIND query of the write floor (`--batch`): restore's own value.
const WRITE_BATCH: usize = ign_setup::restore::load::BATCH;
/// UNWIND queries of the write floor in flight at once (`--parallel`).
const WRITE_PARALLEL: usize = 1;
/// The seed of the measured graphs.
const SEED: u64 = 7;
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

/// What this process is asked to do: the whole benchmark, or one of its
/// measured steps run as a child process (so that its wall time and peak RSS
/// are those of a whole process, like the tool's).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Bench,
    /// Ingest the graph of N nodes (the write floor); prints `{"secs": ..}`.
    FloorWrite(usize),
    /// Stream every node and relationship (the read floor); prints the count.
    FloorRead,
}

struct Args {
    mode: Mode,
    sizes: Vec<usize>,
    per_entity_nodes: usize,
    bin: PathBuf,
    work: PathBuf,
    out: Option<PathBuf>,
    /// The block of docs/performance.md this run writes (a run per server and size set).
    block: String,
    command: String,
    /// The server's import folder, when it runs APOC (scripts/dev-db --apoc).
    apoc_dir: Option<PathBuf>,
    /// Rows per UNWIND query of the write floor.
    batch: usize,
    /// UNWIND queries of the write floor in flight at once.
    parallel: usize,
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        mode: Mode::Bench,
        sizes: vec![100_000],
        per_entity_nodes: 2_000,
        bin: PathBuf::from("target/release/ign-setup"),
        work: std::env::temp_dir().join("ign-setup-bench"),
        out: None,
        block: "default".into(),
        command: "scripts/bench".into(),
        apoc_dir: None,
        batch: WRITE_BATCH,
        parallel: WRITE_PARALLEL,
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
            "--block" => a.block = val()?,
            "--command" => a.command = val()?,
            "--apoc-dir" => a.apoc_dir = Some(val()?.into()),
            "--batch" => a.batch = val()?.parse()?,
            "--parallel" => a.parallel = val()?.parse()?,
            "--floor-write" => a.mode = Mode::FloorWrite(val()?.parse()?),
            "--floor-read" => a.mode = Mode::FloorRead,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if a.sizes.is_empty() || a.sizes.contains(&0) || a.batch == 0 || a.parallel == 0 {
        return Err("--sizes, --batch and --parallel need positive numbers".into());
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

/// The graph of N nodes (about half functions, then templates, patterns,
/// sessions) and 3N relationships between random nodes, with the property
/// types the real graph holds: strings, integers, floats, a list of strings,
/// a date-time. Generated as a stream (nodes first), the same on every run,
/// so that a million nodes never have to be held in memory.
struct Gen {
    rng: Rng,
    n: usize,
    i: usize,
}

enum Entity {
    Node(usize, Node),
    Rel(Rel),
}

impl Gen {
    fn new(n: usize, seed: u64) -> Gen {
        Gen {
            rng: Rng(seed),
            n,
            i: 0,
        }
    }
}

impl Iterator for Gen {
    type Item = Entity;
    fn next(&mut self) -> Option<Entity> {
        let (n, i) = (self.n, self.i);
        if i >= 4 * n {
            return None;
        }
        self.i += 1;
        let rng = &mut self.rng;
        if i < n {
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
            put(&mut p, "updated_at", datetime(rng));
            if label == 3 {
                put(&mut p, "duration_ms", rng.below(3_600_000) as i64);
            }
            return Some(Entity::Node(i, Node { label, props: p }));
        }
        let rel_type = match rng.below(6) {
            0..=2 => 0,
            3..=4 => 1,
            _ => 2,
        };
        let mut p = BoltMap::with_capacity(3);
        put(&mut p, "weight", rng.unit());
        put(&mut p, "count", 1 + rng.below(500) as i64);
        if rel_type == 2 {
            put(&mut p, "matched_at", datetime(rng));
        }
        Some(Entity::Rel(Rel {
            rel_type,
            start: rng.below(n),
            end: rng.below(n),
            props: p,
        }))
    }
}

/// The whole graph in memory, for the per-entity approach at a small size.
fn generate(n: usize, seed: u64) -> (Vec<Node>, Vec<Rel>) {
    let (mut nodes, mut rels) = (Vec::with_capacity(n), Vec::with_capacity(3 * n));
    for e in Gen::new(n, seed) {
        match e {
            Entity::Node(_, node) => nodes.push(node),
            Entity::Rel(r) => rels.push(r),
        }
    }
    (nodes, rels)
}

async fn connect(parallel: usize) -> Res<Graph> {
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
        .max_connections(WRITE_PARALLEL.max(parallel) + 1)
        // APOC's import is one long call that sends nothing until it ends.
        .connection_timeout(ign_setup::graph::connect::NO_CLIENT_TIMEOUT)
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

type Pending = std::pin::Pin<Box<dyn std::future::Future<Output = Res<Done>>>>;

/// What one UNWIND query of the write floor gave back.
enum Done {
    /// (node index, element id) of every node created.
    Nodes(Vec<(usize, BoltType)>),
    Rels,
}

fn node_batch(g: &Graph, label: usize, props: &str, rows: Vec<(usize, BoltMap)>) -> Pending {
    let rows: Vec<BoltType> = rows
        .into_iter()
        .map(|(i, p)| {
            let mut r = BoltMap::with_capacity(2);
            put(&mut r, "i", i as i64);
            put(&mut r, "p", BoltType::Map(p));
            BoltType::Map(r)
        })
        .collect();
    let q = query(&format!(
        "UNWIND $rows AS row CREATE (n:{} {props}) RETURN row.i AS i, elementId(n) AS id",
        LABELS[label]
    ))
    .param("rows", BoltType::List(BoltList::from(rows)));
    let g = g.clone();
    Box::pin(async move {
        let mut st = g.execute(q).await?;
        let mut out = Vec::new();
        while let Some(row) = st.next().await? {
            let i: i64 = row.get("i")?;
            out.push((i as usize, row.get("id")?));
        }
        Ok(Done::Nodes(out))
    })
}

fn rel_batch(g: &Graph, rel_type: usize, props: &str, rows: Vec<BoltType>) -> Pending {
    let expected = rows.len() as i64;
    let q = query(&format!(
        "UNWIND $rows AS row MATCH (a) WHERE elementId(a) = row.s \
         MATCH (b) WHERE elementId(b) = row.e \
         CREATE (a)-[r:{} {props}]->(b) RETURN count(r) AS c",
        REL_TYPES[rel_type]
    ))
    .param("rows", BoltType::List(BoltList::from(rows)));
    let g = g.clone();
    Box::pin(async move {
        let mut st = g.execute(q).await?;
        let mut c = -1;
        while let Some(row) = st.next().await? {
            c = row.get("c")?;
        }
        if c != expected {
            return Err(format!("{c} of {expected} relationships created").into());
        }
        Ok(Done::Rels)
    })
}

/// The write floor (also how the data is loaded in the first place): nodes in
/// UNWIND batches per label and key set returning their element ids, then
/// relationships in UNWIND batches per type and key set, endpoints found by
/// element id: the Cypher restore sends, from data generated on the fly
/// instead of read from a file, with `parallel` queries in flight.
async fn ingest(g: &Graph, n: usize, batch: usize, parallel: usize) -> Res<Duration> {
    use futures::stream::{FuturesUnordered, StreamExt};
    let t = Instant::now();
    let mut ids: Vec<BoltType> = vec![BoltType::Null(neo4rs::BoltNull); n];
    let mut node_groups: BTreeMap<(usize, String), Vec<(usize, BoltMap)>> = BTreeMap::new();
    let mut rel_groups: BTreeMap<(usize, String), Vec<BoltType>> = BTreeMap::new();
    let mut inflight: FuturesUnordered<Pending> = FuturesUnordered::new();
    let mut node_time = None;
    fn settle(done: Done, ids: &mut [BoltType]) {
        if let Done::Nodes(created) = done {
            for (i, id) in created {
                ids[i] = id;
            }
        }
    }
    for e in Gen::new(n, SEED) {
        let next = match e {
            Entity::Node(i, node) => {
                let key = (node.label, inline_props(&node.props));
                let group = node_groups.entry(key.clone()).or_default();
                group.push((i, node.props));
                if group.len() < batch {
                    continue;
                }
                let rows = node_groups.remove(&key).unwrap_or_default();
                node_batch(g, key.0, &key.1, rows)
            }
            Entity::Rel(r) => {
                if node_time.is_none() {
                    // Every node must exist before the first relationship.
                    for ((label, props), rows) in std::mem::take(&mut node_groups) {
                        inflight.push(node_batch(g, label, &props, rows));
                    }
                    while let Some(done) = inflight.next().await {
                        settle(done?, &mut ids);
                    }
                    node_time = Some(t.elapsed());
                }
                let key = (r.rel_type, inline_props(&r.props));
                let mut m = BoltMap::with_capacity(3);
                put(&mut m, "s", ids[r.start].clone());
                put(&mut m, "e", ids[r.end].clone());
                put(&mut m, "p", BoltType::Map(r.props));
                let group = rel_groups.entry(key.clone()).or_default();
                group.push(BoltType::Map(m));
                if group.len() < batch {
                    continue;
                }
                let rows = rel_groups.remove(&key).unwrap_or_default();
                rel_batch(g, key.0, &key.1, rows)
            }
        };
        while inflight.len() >= parallel {
            if let Some(done) = inflight.next().await {
                settle(done?, &mut ids);
            }
        }
        inflight.push(next);
    }
    for ((rel_type, props), rows) in std::mem::take(&mut rel_groups) {
        inflight.push(rel_batch(g, rel_type, &props, rows));
    }
    while let Some(done) = inflight.next().await {
        settle(done?, &mut ids);
    }
    let node_time = node_time.unwrap_or_else(|| t.elapsed());
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

/// One run of a measured step as its own process.
struct ProcRun {
    wall: Duration,
    max_rss_kb: u64,
    stdout: String,
}

/// `ign-setup ARGS --json`, in the bench's backup folder.
fn run_tool(bin: &Path, work: &Path, args: &[&str]) -> Res<ProcRun> {
    let mut all: Vec<&str> = args.to_vec();
    all.push("--json");
    run_process(bin, work, &all)
}

/// This driver again, for one floor (`--floor-read`, `--floor-write N`).
fn run_self(a: &Args, args: &[String]) -> Res<ProcRun> {
    let me = std::env::current_exe()?;
    let mut all: Vec<String> = args.to_vec();
    all.extend([
        "--batch".into(),
        a.batch.to_string(),
        "--parallel".into(),
        a.parallel.to_string(),
    ]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    run_process(&me, &a.work, &refs)
}

fn run_process(bin: &Path, work: &Path, args: &[&str]) -> Res<ProcRun> {
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
            "{} {} failed:\n{}{}",
            bin.display(),
            args.join(" "),
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&err)
        )
        .into());
    }
    eprint!("{}", String::from_utf8_lossy(&err));
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
    /// The one-minute load average when the step started.
    load: String,
}

impl Row {
    fn rate(&self) -> f64 {
        self.entities as f64 / self.wall.as_secs_f64()
    }
}

const READ_FLOOR: &str = "read floor (neo4rs stream)";
const BACKUP: &str = "ign-setup backup create";
const APOC_EXPORT: &str = "apoc.export.json.all";
const WRITE_FLOOR: &str = "write floor (neo4rs UNWIND)";
const RESTORE: &str = "ign-setup backup restore";
const APOC_IMPORT: &str = "apoc.import.json";

async fn bench_size(g: &Graph, a: &Args, n: usize, rows: &mut Vec<Row>) -> Res<()> {
    let entities = 4 * n as u64;
    let row = |what, wall, rss_kb, file, load| Row {
        size: n,
        what,
        entities,
        wall,
        rss_kb,
        file,
        load,
    };
    eprintln!(
        "bench: N={n}: loading {n} nodes, {} relationships (the write floor)",
        3 * n
    );
    clear(g).await?;
    let load = load_average();
    let wf = run_self(a, &["--floor-write".into(), n.to_string()])?;
    let doc: serde_json::Value = serde_json::from_str(wf.stdout.trim())?;
    eprintln!(
        "bench:   write floor: {:.2} s ingesting, {:.2} s as a process",
        doc["secs"].as_f64().unwrap_or(0.0),
        wf.wall.as_secs_f64()
    );
    let write_floor = row(WRITE_FLOOR, wf.wall, Some(wf.max_rss_kb), None, load);

    // Reads are cheap next to writes: each is run three times, alternating,
    // and the fastest kept (this machine's noise is larger than the effects).
    eprintln!("bench: N={n}: read floor and backup create, three times");
    let mut read_floor: Option<Row> = None;
    let mut backup: Option<Row> = None;
    let mut file = String::new();
    for _ in 0..3 {
        let load = load_average();
        let run = run_self(a, &["--floor-read".into()])?;
        let seen: u64 = run.stdout.trim().parse()?;
        if seen != entities {
            return Err(format!("streamed {seen} rows, expected {entities}").into());
        }
        if read_floor.as_ref().is_none_or(|b| run.wall < b.wall) {
            read_floor = Some(row(READ_FLOOR, run.wall, Some(run.max_rss_kb), None, load));
        }
        let _ = std::fs::remove_dir_all(a.work.join("backups"));
        let load = load_average();
        let run = run_tool(&a.bin, &a.work, &["backup", "create", "--reason", "bench"])?;
        let doc: serde_json::Value = serde_json::from_str(&run.stdout)?;
        file = doc["path"]
            .as_str()
            .ok_or("no path in backup output")?
            .to_owned();
        let size = doc["size"].as_u64();
        if backup.as_ref().is_none_or(|b| run.wall < b.wall) {
            backup = Some(row(BACKUP, run.wall, Some(run.max_rss_kb), size, load));
        }
    }
    read_floor
        .into_iter()
        .chain(backup)
        .for_each(|r| keep(rows, r));

    if let Some(dir) = &a.apoc_dir {
        eprintln!("bench: N={n}: apoc.export.json.all");
        let out = dir.join("bench.json");
        let _ = std::fs::remove_file(&out);
        let load = load_average();
        let t = Instant::now();
        let mut st = g
            .execute(query(
                "CALL apoc.export.json.all('bench.json', {}) \
                 YIELD nodes, relationships RETURN nodes + relationships AS c",
            ))
            .await?;
        let mut c = 0;
        while let Some(r) = st.next().await? {
            c = r.get::<i64>("c")?;
        }
        let wall = t.elapsed();
        if c as u64 != entities {
            return Err(format!("APOC exported {c} entities, expected {entities}").into());
        }
        let size = std::fs::metadata(&out)?.len();
        keep(rows, row(APOC_EXPORT, wall, None, Some(size), load));
    }

    keep(rows, write_floor);
    eprintln!("bench: N={n}: backup restore into an empty database");
    clear(g).await?;
    let load = load_average();
    let restore = run_tool(
        &a.bin,
        &a.work,
        &["backup", "restore", "--yes", "--file", &file],
    )?;
    let got = scalar(g, "MATCH (n) WHERE NOT n:IgnSetupLock RETURN count(n) AS c").await?;
    if got != n as i64 {
        return Err(format!("restore left {got} nodes, expected {n}").into());
    }
    keep(
        rows,
        row(RESTORE, restore.wall, Some(restore.max_rss_kb), None, load),
    );

    if a.apoc_dir.is_some() {
        eprintln!("bench: N={n}: apoc.import.json into an empty database");
        clear(g).await?;
        let load = load_average();
        let t = Instant::now();
        // APOC refuses to import without these (it matches endpoints on them).
        for l in LABELS {
            g.run(query(&format!(
                "CREATE CONSTRAINT bench_import_{l} IF NOT EXISTS FOR (n:{l}) REQUIRE n.neo4jImportId IS UNIQUE"
            )))
            .await?;
        }
        let mut st = g
            .execute(query(
                "CALL apoc.import.json('bench.json') \
                 YIELD nodes, relationships RETURN nodes + relationships AS c",
            ))
            .await?;
        let mut c = 0;
        while let Some(r) = st.next().await? {
            c = r.get::<i64>("c")?;
        }
        let wall = t.elapsed();
        if c as u64 != entities {
            return Err(format!("APOC imported {c} entities, expected {entities}").into());
        }
        keep(rows, row(APOC_IMPORT, wall, None, None, load));
        for l in LABELS {
            g.run(query(&format!(
                "DROP CONSTRAINT bench_import_{l} IF EXISTS"
            )))
            .await?;
        }
    }
    Ok(())
}

/// Keeps a measured row, and says it at once: a long run that is stopped
/// still leaves its figures in the log.
fn keep(rows: &mut Vec<Row>, r: Row) {
    eprintln!(
        "bench: N={}: {}: {:.2} s, {:.0} entities/s, peak RSS {}, file {}, load {}",
        r.size,
        r.what,
        r.wall.as_secs_f64(),
        r.rate(),
        r.rss_kb.map_or("-".into(), |k| format!("{:.1} MB", mb(k))),
        r.file
            .map_or("-".into(), |b| format!("{:.1} MB", b as f64 / 1e6)),
        r.load
    );
    rows.push(r);
}

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| nodes | relationships | step | wall (s) | entities/s | peak RSS (MB) | file (MB) | load |\n\
         | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let rels = r.entities - r.size as u64;
        t += &format!(
            "| {} | {} | {} | {:.2} | {:.0} | {} | {} | {} |\n",
            r.size,
            rels,
            r.what,
            r.wall.as_secs_f64(),
            r.rate(),
            r.rss_kb.map_or("-".into(), |k| format!("{:.1}", mb(k))),
            r.file
                .map_or("-".into(), |b| format!("{:.1}", b as f64 / 1e6)),
            r.load,
        );
    }
    t
}

fn find<'a>(rows: &'a [Row], size: usize, what: &str) -> Option<&'a Row> {
    rows.iter().find(|r| r.size == size && r.what == what)
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**not met**"
    }
}

/// The targets, each against the figures of this run.
fn ratios(rows: &[Row], sizes: &[usize], pe: &Row) -> String {
    let mut t = String::from("| measure | value | target | |\n| --- | ---: | ---: | --- |\n");
    let secs = |r: &Row| r.wall.as_secs_f64();
    for &n in sizes {
        if let (Some(b), Some(rf)) = (find(rows, n, BACKUP), find(rows, n, READ_FLOOR)) {
            let x = secs(b) / secs(rf);
            t += &format!(
                "| backup / read floor, N={n} | {x:.2}× | ≤ 1.2× | {} |\n",
                verdict(x <= 1.2)
            );
        }
        if let (Some(r), Some(wf)) = (find(rows, n, RESTORE), find(rows, n, WRITE_FLOOR)) {
            let x = secs(r) / secs(wf);
            t += &format!(
                "| restore / write floor, N={n} | {x:.2}× | ≤ 1.3× | {} |\n",
                verdict(x <= 1.3)
            );
        }
        if let (Some(b), Some(e)) = (find(rows, n, BACKUP), find(rows, n, APOC_EXPORT)) {
            let x = secs(b) / secs(e);
            t += &format!(
                "| backup / apoc.export.json.all, N={n} | {x:.2}× | < 1× | {} |\n",
                verdict(x < 1.0)
            );
        }
        if let (Some(r), Some(i)) = (find(rows, n, RESTORE), find(rows, n, APOC_IMPORT)) {
            let x = secs(r) / secs(i);
            t += &format!(
                "| restore / apoc.import.json, N={n} | {x:.2}× | < 1× | {} |\n",
                verdict(x < 1.0)
            );
        }
        if let Some(r) = find(rows, n, RESTORE) {
            let x = r.rate() / pe.rate();
            t += &format!(
                "| restore rate / per-entity rate, N={n} | {x:.1}× | ≥ 30× | {} |\n",
                verdict(x >= 30.0)
            );
        }
        for what in [BACKUP, RESTORE] {
            if let Some(run) = find(rows, n, what) {
                let m = mb(run.rss_kb.unwrap_or(0));
                t += &format!(
                    "| {what} peak RSS, N={n} | {m:.1} MB | ≤ 64 MB | {} |\n",
                    verdict(m <= 64.0)
                );
            }
        }
    }
    if let (Some(&lo), Some(&hi)) = (sizes.iter().min(), sizes.iter().max()) {
        if lo != hi {
            for what in [BACKUP, RESTORE] {
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

fn write_doc(path: &Path, block: &str, body: &str) -> Res<()> {
    let begin = format!("<!-- bench:begin {block} (written by scripts/bench) -->");
    let end = format!("<!-- bench:end {block} -->");
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let text = format!("{begin}\n{body}{end}\n");
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{text}{}",
                &old[..b],
                old[e + end.len()..].trim_start_matches('\n')
            )
        }
        _ if old.is_empty() => format!("# Performance\n\n{text}"),
        _ => format!("{}\n{text}", old.trim_end()),
    };
    std::fs::write(path, new)?;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Res<()> {
    let a = parse_args()?;
    std::fs::create_dir_all(&a.work)?;
    let g = connect(a.parallel).await?;
    match a.mode {
        Mode::FloorWrite(n) => {
            let t = ingest(&g, n, a.batch, a.parallel).await?;
            println!("{{\"secs\": {}}}", t.as_secs_f64());
            return Ok(());
        }
        Mode::FloorRead => {
            let (_, seen) = stream_all(&g).await?;
            println!("{seen}");
            return Ok(());
        }
        Mode::Bench => {}
    }
    let server = server(&g).await;
    let load_start = load_average();
    let started = Instant::now();
    // A cold server (JIT, caches) is slower by a factor; warm it first.
    eprintln!("bench: warming the server up");
    clear(&g).await?;
    ingest(&g, 5_000, a.batch, a.parallel).await?;
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
    let load = load_average();
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
        load,
    };
    drop((nodes, rels));
    let mut rows = Vec::new();
    keep(&mut rows, pe.clone());
    let mut sizes = a.sizes.clone();
    sizes.sort_unstable();
    for &n in &sizes {
        bench_size(&g, &a, n, &mut rows).await?;
    }
    clear(&g).await?;

    let body = format!(
        "Measured {} on {}; server {}; load average {} at the start, {} at the end; \
         the whole run took {:.0} s.\n\n\
         Reproduce with `{}`.\n\n{}\n{}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine(),
        server,
        load_start,
        load_average(),
        started.elapsed().as_secs_f64(),
        a.command,
        table(&rows),
        ratios(&rows, &sizes, &pe),
    );
    println!("{body}");
    if let Some(out) = &a.out {
        write_doc(out, &a.block, &body)?;
        eprintln!("bench: wrote {}", out.display());
    }
    Ok(())
}
