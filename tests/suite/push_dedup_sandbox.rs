//! The sandbox re-pushes the same event and retries as WeChat does (issue 18, item 3); two
//! callback servers behind one address, sharing a Redis de-duplication store, handle each push
//! exactly once. Against a real `redis-server`; HTTP on 127.0.0.1 only.
#![cfg(all(feature = "redis", feature = "sandbox"))]

use crate::redis_support;
use crate::sandbox_support;

use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use redis_support::{Redis, unique_prefix};
use sandbox_support::{gift_card, http_json};
use wechat_card::ConsumeCodeRequest;
use wechat_card::events::{Callback, CallbackQuery, Dedup, RedisDedup};
use wechat_card::sandbox::Sandbox;
use wechat_card::store::RedisStore;

const TOKEN: &str = "two-instances-token";

/// What the instances saw: every arrival, and the pushes each handled (with and without the
/// de-duplication step).
#[derive(Default)]
struct Seen {
    /// (instance, push) per arrival.
    arrivals: Vec<(usize, String)>,
    /// Pushes handled with `receive_once` and the shared store, per instance.
    handled: Vec<(usize, String)>,
}

/// A description of a push for the assertions: event, from, CreateTime.
fn describe(message: &wechat_card::events::Message) -> String {
    format!(
        "{} from {} at {}",
        message.event.name(),
        message.from_user_name,
        message.create_time
    )
}

/// One instance of the merchant's server: one request per connection, verified with
/// `Callback`, de-duplicated through its own `RedisDedup` on the shared Redis. When `slow` is
/// set it handles the next push, then answers only after `delay` (WeChat's timeout passes).
fn instance(
    n: usize,
    redis_url: &str,
    prefix: &str,
    seen: Arc<Mutex<Seen>>,
    arrived: mpsc::Sender<()>,
    slow: Arc<AtomicBool>,
) -> String {
    let store = RedisStore::builder(redis_url)
        .prefix(prefix)
        .build()
        .unwrap();
    let callback = Callback::new(TOKEN).deduplicate(Dedup::new(RedisDedup::new(store)));
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in socket.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let Some((target, body)) = sandbox_support::read_request(&mut reader) else {
                continue;
            };
            // Decided before the arrival is reported, so that a flag set after an arrival
            // applies to the next push only.
            let answer_late = slow.swap(false, Ordering::SeqCst);
            let query = CallbackQuery::parse(target.split_once('?').map_or("", |(_, q)| q));
            let message = callback.receive(&query, &body).expect("a valid push");
            let once = callback.receive_once(&query, &body).expect("a valid push");
            {
                let mut seen = seen.lock().unwrap();
                seen.arrivals.push((n, describe(&message)));
                if let Some(message) = once {
                    seen.handled.push((n, describe(&message)));
                }
            }
            let _ = arrived.send(());
            if answer_late {
                std::thread::sleep(Duration::from_millis(1500));
            }
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nConnection: close\r\n\r\nsuccess",
            );
        }
    });
    addr
}

/// The load balancer: one address, each request forwarded to the next backend in turn, its
/// answer relayed.
fn balancer(backends: Vec<String>) -> String {
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/wechat", socket.local_addr().unwrap());
    let next = Arc::new(AtomicUsize::new(0));
    let backends = Arc::new(backends);
    std::thread::spawn(move || {
        for stream in socket.incoming() {
            let Ok(mut stream) = stream else { return };
            let (next, backends) = (next.clone(), backends.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                while let Some((target, body)) = sandbox_support::read_request(&mut reader) {
                    let backend = &backends[next.fetch_add(1, Ordering::SeqCst) % backends.len()];
                    let Ok(mut up) = TcpStream::connect(backend) else {
                        return;
                    };
                    let head = format!(
                        "POST {target} HTTP/1.1\r\nHost: {backend}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if up.write_all(head.as_bytes()).is_err() || up.write_all(&body).is_err() {
                        return;
                    }
                    let mut answer = Vec::new();
                    if up.read_to_end(&mut answer).is_err() || stream.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

fn wait_for(arrived: &mpsc::Receiver<()>, n: usize) {
    for i in 0..n {
        arrived
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("arrival {} of {n} within 20 s", i + 1));
    }
}

#[test]
fn two_instances_behind_one_address_handle_each_retried_push_once() {
    let redis = Redis::shared();
    let prefix = unique_prefix("two_instances");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let slow = Arc::new(AtomicBool::new(false));
    let (tx, arrived) = mpsc::channel();
    let a = instance(
        0,
        redis.url(),
        &prefix,
        seen.clone(),
        tx.clone(),
        slow.clone(),
    );
    let b = instance(1, redis.url(), &prefix, seen.clone(), tx, slow.clone());
    let url = balancer(vec![a, b]);
    // WeChat waits 5 s for an answer; the test's sandbox 500 ms.
    let sandbox = Sandbox::builder()
        .callback_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    sandbox.register_callback(&url, TOKEN, None).unwrap();

    // 1. A review passes; the callback's answers come too late three times: WeChat's retries.
    sandbox.delay_callback_answers(3);
    let card_id = sandbox.add_card(&gift_card(10)).unwrap();
    sandbox.approve_card(&card_id).unwrap();
    wait_for(&arrived, 4);
    // 2. A user receives a code (answered in time), then the same push comes again.
    let code = sandbox.receive_card("o-user", &card_id).unwrap();
    wait_for(&arrived, 1);
    sandbox.repush_last_event().unwrap();
    wait_for(&arrived, 1);
    // 3. The code is consumed; the instance handling it answers after the timeout (really:
    //    it sleeps), so the sandbox sends it again.
    slow.store(true, Ordering::SeqCst);
    sandbox
        .client()
        .unwrap()
        .consume_code(&ConsumeCodeRequest::new(code.as_str()))
        .unwrap();
    wait_for(&arrived, 2);
    // Nothing else comes (the last push was answered in time at its second arrival).
    let extra = arrived.recv_timeout(Duration::from_millis(2000)).is_ok();
    let seen = seen.lock().unwrap();
    assert!(
        !extra,
        "one arrival more than expected: {:#?}",
        seen.arrivals
    );
    let pushes = |list: &[(usize, String)]| {
        let mut names: Vec<String> = list.iter().map(|(_, p)| p.clone()).collect();
        names.sort();
        names
    };
    let arrivals = pushes(&seen.arrivals);
    let mut distinct = arrivals.clone();
    distinct.dedup();
    assert_eq!(arrivals.len(), 8, "{arrivals:#?}");
    assert_eq!(distinct.len(), 3, "{distinct:#?}");
    // Both instances got pushes, and handled some: the retries went to the other one.
    for n in 0..2 {
        assert!(seen.arrivals.iter().any(|(i, _)| *i == n), "instance {n}");
    }
    // Each push handled exactly once across both instances.
    assert_eq!(pushes(&seen.handled), distinct, "{:#?}", seen.handled);
    // The review's push, retried 3 times: at both instances, handled once.
    let review = |list: &[(usize, String)]| {
        list.iter()
            .filter(|(_, p)| p.starts_with("card_pass_check"))
            .map(|(i, _)| *i)
            .collect::<Vec<_>>()
    };
    let review_arrivals = review(&seen.arrivals);
    assert_eq!(review_arrivals.len(), 4);
    assert!(review_arrivals.contains(&0) && review_arrivals.contains(&1));
    assert_eq!(review(&seen.handled).len(), 1);
    println!(
        "sandbox, 2 instances behind one address: {} arrivals of {} pushes, handled {} times without de-duplication and {} with the shared Redis store; the push retried 3 times: handled {} times before, {} after",
        arrivals.len(),
        distinct.len(),
        arrivals.len(),
        seen.handled.len(),
        review_arrivals.len(),
        review(&seen.handled).len()
    );
}

#[test]
fn the_repush_and_delay_controls_over_http() {
    let sandbox = Sandbox::start().unwrap();
    // Without a callback (or before any push) a re-push is refused.
    let answer = http_json(sandbox.addr(), "POST", "/sandbox/callback/repush", b"{}");
    assert_eq!(answer["errcode"], 40097, "{answer}");
    assert!(
        answer["errmsg"].as_str().unwrap().contains("no callback"),
        "{answer}"
    );
    assert!(sandbox.repush_last_event().is_err());
    let socket = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", socket.local_addr().unwrap());
    sandbox.register_callback(&url, TOKEN, None).unwrap();
    let answer = http_json(sandbox.addr(), "POST", "/sandbox/callback/repush", b"{}");
    assert_eq!(answer["errcode"], 40097, "{answer}");
    assert!(
        answer["errmsg"]
            .as_str()
            .unwrap()
            .contains("no event was pushed"),
        "{answer}"
    );
    // The fault's input is checked.
    for (body, what) in [
        (&b"{\"times\": -1}"[..], "times"),
        (b"{\"times\": 1001}", "times"),
        (b"{\"times\": \"3\"}", "times"),
        (b"{\"count\": 3}", "unknown key `count`"),
    ] {
        let answer = http_json(
            sandbox.addr(),
            "POST",
            "/sandbox/callback/delay_answers",
            body,
        );
        assert_eq!(answer["errcode"], 40097, "{answer}");
        assert!(
            answer["errmsg"].as_str().unwrap().contains(what),
            "{answer}"
        );
    }
    for body in [&b"{\"times\": 2}"[..], b"{}", b"{\"times\": 0}"] {
        let answer = http_json(
            sandbox.addr(),
            "POST",
            "/sandbox/callback/delay_answers",
            body,
        );
        assert_eq!(answer["errcode"], 0, "{answer}");
    }
    let answer = http_json(
        sandbox.addr(),
        "POST",
        "/sandbox/callback/repush",
        b"{\"x\": 1}",
    );
    assert_eq!(answer["errcode"], 40097, "{answer}");
}
