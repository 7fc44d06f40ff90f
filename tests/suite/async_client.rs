//! What only the async client can get wrong: blocking the runtime, or making tasks wait for each
//! other. Everything both clients must do alike runs against both from `crate::clients`.
//!
//! Each test runs on a current-thread runtime, where a single blocked call stalls everything:
//! ordering between tasks proves that nothing blocks, without measuring time.

#![cfg(all(feature = "async", feature = "sandbox"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wechat_card::sandbox::Sandbox;
use wechat_card::{
    AsyncClient, AsyncTokenProvider, BatchGetCardsRequest, BoxFuture, Client, Error, Secret,
    TokenProvider,
};

use crate::clients::runtime;

fn batch() -> BatchGetCardsRequest {
    BatchGetCardsRequest::new(0, 10)
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[test]
fn two_hundred_concurrent_calls_on_one_thread_share_one_token_fetch() {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = sandbox.client_builder().build_async().expect("client");
    let rt = runtime();
    let answers = rt.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|_| {
                let client = client.clone();
                // The futures are `Send`: they can go to `tokio::spawn` on any runtime.
                tokio::spawn(assert_send(async move {
                    client.batch_get_cards(&batch()).await
                }))
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("task"));
        }
        answers
    });
    assert!(
        answers.iter().all(Result::is_ok),
        "{:?}",
        answers.iter().find(|a| a.is_err())
    );
    assert_eq!(sandbox.calls("card/batchget"), 200);
    assert_eq!(
        sandbox.calls("cgi-bin/stable_token"),
        1,
        "one fetch for 200 tasks"
    );
}

#[test]
fn a_slow_token_fetch_does_not_hold_up_a_task_that_needs_no_token() {
    let sandbox = Sandbox::start().expect("sandbox");
    let fetching = sandbox.client_builder().build_async().expect("client");
    // A second client with its token given: it never fetches.
    let token = sandbox
        .client()
        .expect("client")
        .access_token()
        .expect("token");
    let fixed = Client::builder()
        .base_url(sandbox.base_url())
        .fixed_token(token)
        .build_async()
        .expect("client");
    sandbox.delay_next("cgi-bin/stable_token", Duration::from_secs(1), 1);
    let rt = runtime();
    rt.block_on(async {
        let slow = tokio::spawn(async move { fetching.batch_get_cards(&batch()).await });
        // Let the slow task start its fetch.
        tokio::task::yield_now().await;
        for _ in 0..5 {
            fixed.batch_get_cards(&batch()).await.expect("call");
        }
        assert!(
            !slow.is_finished(),
            "the task without a token fetch finished five calls while the fetch was delayed"
        );
        slow.await
            .expect("task")
            .expect("the delayed call succeeds");
    });
    assert_eq!(sandbox.calls("card/batchget"), 6);
}

#[test]
fn a_cancelled_fetch_leaves_the_cache_usable() {
    let sandbox = Sandbox::start().expect("sandbox");
    let client = sandbox.client_builder().build_async().expect("client");
    sandbox.delay_next("cgi-bin/stable_token", Duration::from_secs(1), 1);
    let rt = runtime();
    rt.block_on(async {
        // The task leading the fetch goes away (a timeout drops its future) …
        let cut = tokio::time::timeout(Duration::from_millis(50), client.access_token()).await;
        assert!(cut.is_err(), "the delayed fetch should still be under way");
        // … and the next caller fetches itself instead of waiting forever.
        client.access_token().await.expect("token");
    });
}

/// Counts the fetches; the tokens it hands out are rejected until `good` is reached.
struct Counting {
    asked: AtomicUsize,
    invalidated: AtomicUsize,
    good: Secret,
}

impl AsyncTokenProvider for Counting {
    fn token(&self) -> BoxFuture<'_, Result<Secret, Error>> {
        Box::pin(async move {
            let n = self.asked.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            if n == 0 {
                Ok(Secret::new("STALE-TOKEN"))
            } else {
                Ok(self.good.clone())
            }
        })
    }

    fn invalidate(&self, rejected: &Secret) {
        assert_eq!(rejected.expose(), "STALE-TOKEN");
        self.invalidated.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_async_token_provider_is_asked_and_told_of_a_rejection() {
    let sandbox = Sandbox::start().expect("sandbox");
    let good = sandbox
        .client()
        .expect("client")
        .access_token()
        .expect("token");
    let provider = Arc::new(Counting {
        asked: AtomicUsize::new(0),
        invalidated: AtomicUsize::new(0),
        good,
    });
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .async_token_provider(provider.clone())
        .build_async()
        .expect("client");
    runtime().block_on(async {
        client
            .batch_get_cards(&batch())
            .await
            .expect("renewed once, then sent again");
    });
    assert_eq!(provider.asked.load(Ordering::SeqCst), 2);
    assert_eq!(provider.invalidated.load(Ordering::SeqCst), 1);
    assert_eq!(sandbox.calls("card/batchget"), 2);
    // The blocking client cannot use it.
    let err = Client::builder()
        .base_url(sandbox.base_url())
        .async_token_provider(provider)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("build_async"), "{err}");
}

/// A blocking provider that blocks its thread while it "asks a service".
struct Blocking(Secret);

impl TokenProvider for Blocking {
    fn token(&self) -> Result<Secret, Error> {
        std::thread::sleep(Duration::from_millis(200));
        Ok(self.0.clone())
    }

    fn invalidate(&self, _: &Secret) {}
}

#[test]
fn a_blocking_token_provider_runs_off_the_runtime_thread() {
    let sandbox = Sandbox::start().expect("sandbox");
    let good = sandbox
        .client()
        .expect("client")
        .access_token()
        .expect("token");
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .token_provider(Arc::new(Blocking(good)))
        .build_async()
        .expect("client");
    let ticks = Arc::new(AtomicUsize::new(0));
    runtime().block_on(async {
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        client.batch_get_cards(&batch()).await.expect("call");
        ticker.abort();
    });
    // The ticker ran while the provider slept: the runtime thread was free.
    assert!(ticks.load(Ordering::SeqCst) > 1, "the runtime was blocked");
}

#[test]
fn proxies_from_the_environment_are_refused_not_ignored() {
    let err = AsyncClient::builder()
        .fixed_token("T")
        .env_proxy(true)
        .build_async()
        .unwrap_err();
    assert!(err.to_string().contains("env_proxy"), "{err}");
}
