//! The load generator against an in-process local gateway (memory stores) for a second,
//! over REST and over the socket: every message arrives once, in order. Not a timed test:
//! latencies are printed, not asserted.

use std::time::Duration;
use whatspe_loadgen::setup::Api;
use whatspe_loadgen::{Report, Rig, Via};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_delivers_every_message_once() {
    let config = whatspe::config::Config::local_from_lookup(|k| match k {
        "WHATSPE_SEND_BURST" | "WHATSPE_SEND_RATE_PER_SECOND" => Some("100000".into()),
        _ => None,
    })
    .expect("config");
    let gateway = whatspe_local::build(config, whatspe_local::Backend::memory())
        .await
        .expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    gateway.management_api.point_at(&addr.to_string());
    tokio::spawn(whatspe_local::serve(
        listener,
        gateway.router,
        std::future::pending(),
    ));

    let rig = Rig::new(
        Api::new(&format!("http://{addr}")),
        &format!("ws://{addr}/ws"),
        3,
        None,
    )
    .await
    .expect("three pairs signed up, befriended and connected");
    println!("{}", Report::HEADER);
    for (step, via) in [(1, Via::Rest), (2, Via::Socket)] {
        let me = Some(std::process::id());
        let r = rig
            .step(
                step,
                100.0,
                Duration::from_secs(1),
                Duration::from_secs(20),
                via,
                me,
            )
            .await;
        println!("{}", r.line());
        assert_eq!(r.sent, 100, "{via:?}");
        assert_eq!(
            (r.refused, r.lost),
            (0, 0),
            "{via:?}: every message accepted and delivered"
        );
        assert_eq!(r.duplicated, 0, "{via:?}: once each");
        if via == Via::Socket {
            // One socket's frames are handled in order; REST sends of a pair may overlap.
            assert_eq!(r.out_of_order, 0, "in the order sent");
        }
        assert_eq!(r.received, 100, "{via:?}");
        assert!(r.server_peak_rss.is_some(), "the pid's memory is read");
    }
}

/// The limits the loadgen's own gateway lifts are the gateway's own settings (a renamed
/// variable would otherwise leave a limit in place and fail sign-ups mid-run).
#[test]
fn the_lifted_limits_are_the_gateways_settings() {
    use whatspe::config;
    assert_eq!(
        whatspe_loadgen::LIFTED_LIMITS,
        [
            config::ENV_SEND_BURST,
            config::ENV_SEND_RATE_PER_SECOND,
            config::ENV_OTP_IP_SENDS_PER_HOUR,
            config::ENV_OTP_IP_VERIFIES_PER_HOUR,
            config::ENV_OTP_COUNTRY_SENDS_PER_HOUR,
            config::ENV_OTP_GLOBAL_SENDS_PER_HOUR,
            config::ENV_LOOKUPS_PER_MINUTE,
            config::ENV_LOOKUPS_PER_DAY,
        ]
    );
}
