//! The native limit for the postgres benchmark: the same statement through tokio-postgres with
//! no MCP and no sandbox. Sequential latency on one connection, then throughput with IN_FLIGHT
//! connections each running its share. Prints JSON; asserts nothing.
//!
//! usage: pg_native URL SQL CALLS IN_FLIGHT

use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, sql, calls, in_flight] = args.as_slice() else {
        return Err("usage: pg_native URL SQL CALLS IN_FLIGHT".into());
    };
    let (calls, in_flight): (usize, usize) = (calls.parse()?, in_flight.parse()?);
    let connect = || async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok::<_, tokio_postgres::Error>(client)
    };
    let client = connect().await?;
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        client.query(sql.as_str(), &[]).await?;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let mut clients = Vec::new();
    for _ in 0..in_flight {
        clients.push(connect().await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in clients {
        let sql = sql.clone();
        let share = calls / in_flight;
        tasks.push(tokio::spawn(async move {
            for _ in 0..share {
                client.query(sql.as_str(), &[]).await?;
            }
            Ok::<_, tokio_postgres::Error>(share)
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await??;
    }
    let rate = done as f64 / started.elapsed().as_secs_f64();
    println!(
        "{{\"p50_ms\": {:.4}, \"p95_ms\": {:.4}, \"calls_per_s\": {:.1}}}",
        pct(0.5),
        pct(0.95),
        rate
    );
    Ok(())
}
