//! What both client benchmarks share: the loopback server (a child process running the bench
//! binary with `--serve`), the answer it sends and the hand-written side's types, the process's
//! CPU clock and the percentile of a sorted sample.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub const TOKEN: &str = "BENCH-TOKEN";
pub const ANSWER: &str = r#"{"errcode":0,"errmsg":"ok","card":{"card_id":"pbLatjk4T4Hx-QFQGL4zGQy27_Qg","begin_time":1457452800,"end_time":1463155199},"openid":"obLatjm43RA5C6QfMO5szKYnT3dM","can_consume":true,"user_card_status":"NORMAL"}"#;

/// The hand-written side: the same answer, decoded with serde derive.
#[derive(Deserialize)]
#[allow(dead_code)]
pub struct HandAnswer {
    #[serde(default)]
    pub errcode: i64,
    #[serde(default)]
    pub errmsg: String,
    pub card: HandCard,
    pub openid: String,
    pub can_consume: Option<bool>,
    pub user_card_status: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
pub struct HandCard {
    pub card_id: Option<String>,
    pub begin_time: Option<i64>,
    pub end_time: Option<i64>,
}

#[derive(Serialize)]
pub struct HandRequest<'a> {
    pub code: &'a str,
    pub check_consume: bool,
}

/// `--serve`: answers every request on 127.0.0.1 with [`ANSWER`], keeping connections alive;
/// prints the port, exits when stdin closes.
pub fn serve() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    println!("{}", listener.local_addr().expect("addr").port());
    std::io::stdout().flush().expect("stdout");
    std::thread::spawn(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        std::process::exit(0);
    });
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || serve_connection(stream));
    }
}

fn serve_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{ANSWER}",
        ANSWER.len()
    );
    let mut line = String::new();
    loop {
        let mut length = 0usize;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() || writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// User + system CPU time of this process so far (all threads, exited ones included), from
/// `/proc/self/stat` in clock ticks of 10 ms (Linux's USER_HZ).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
