//! A real 3-master Redis Cluster on loopback, for one test: each node's port P and its
//! bus port P+10000 are free and at most 55535; `redis-cli --cluster create` joins
//! them; the nodes are killed and reaped on drop.

use std::net::TcpListener;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct RedisCluster {
    nodes: Vec<Child>,
    pub ports: Vec<u16>,
    _dirs: Vec<tempfile::TempDir>,
}

fn free_pair(seed: u64) -> u16 {
    // Walk the 20000-30000 range from a per-process start until P and P+10000 are free.
    for i in 0..10_000u64 {
        let p = 20_000 + ((seed + i * 7919) % 10_000) as u16;
        let free = |port: u16| TcpListener::bind(("127.0.0.1", port)).is_ok();
        if free(p) && free(p + 10_000) {
            return p;
        }
    }
    panic!("no free port pair for a cluster node");
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        let seed = u64::from(std::process::id()) * 31 + Instant::now().elapsed().subsec_nanos() as u64;
        let mut ports: Vec<u16> = Vec::new();
        let (mut nodes, mut dirs) = (Vec::new(), Vec::new());
        for i in 0..3u64 {
            let mut p = free_pair(seed + i * 104_729);
            while ports.contains(&p) {
                p = free_pair(u64::from(p) + 1);
            }
            let dir = tempfile::tempdir().unwrap();
            let child = super::redis::command(p, dir.path())
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                ])
                .spawn()
                .expect("redis-server starts");
            ports.push(p);
            nodes.push(child);
            dirs.push(dir);
        }
        let cluster = RedisCluster { nodes, ports, _dirs: dirs };
        for p in &cluster.ports {
            cluster.wait_for(*p, "PING", "PONG");
        }
        let addrs: Vec<String> = cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(out.status.success(), "cluster create failed: {}", String::from_utf8_lossy(&out.stdout));
        for p in &cluster.ports {
            cluster.wait_for(*p, "CLUSTER INFO", "cluster_state:ok");
        }
        cluster
    }

    fn wait_for(&self, port: u16, command: &str, expect: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("redis-cli").args(["-p", &port.to_string()]).args(command.split(' ')).output();
            if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(expect)) {
                return;
            }
            assert!(Instant::now() < deadline, "node {port} never answered {command} with {expect}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Seed nodes, comma-separated, as `--redis-url` takes them with `--redis-cluster`.
    pub fn urls(&self) -> String {
        self.ports.iter().map(|p| format!("redis://127.0.0.1:{p}")).collect::<Vec<_>>().join(",")
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.kill();
            let _ = n.wait();
        }
    }
}
