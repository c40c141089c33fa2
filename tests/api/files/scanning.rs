//! The virus scan (`SAMVAD_CLAMD_ADDR`): every upload is streamed to clamd
//! before it is accepted; infected is 422 and nothing is kept; clamd out
//! of reach is 503, never a silent pass.

use super::{random_bytes, stored_files, try_upload};
use crate::{
    helpers::{
        TestApp,
        clamd::{EICAR, FakeClamd},
    },
    world::World,
};

/// The cast, in an app that scans uploads with clamd at `addr`.
async fn scanned_by(addr: String) -> World {
    World::in_app(
        TestApp::spawn_with(|c| c.clamd_addr = Some(addr)).await,
        "acme",
    )
    .await
}

#[tokio::test]
async fn an_infected_upload_is_refused_and_nothing_is_kept_while_a_clean_one_passes() {
    let clamd = FakeClamd::start().await;
    let world = scanned_by(clamd.addr.clone()).await;

    let mut infected = EICAR.as_bytes().to_vec();
    infected.extend_from_slice(b"\n");
    try_upload(&world, &world.user, "eicar.txt", infected)
        .await
        .assert_error(422, "file_infected");
    assert_eq!(stored_files(&world).await, 0);

    try_upload(&world, &world.user, "ok.bin", random_bytes(5000))
        .await
        .data();
    assert_eq!(clamd.scans(), 2);
    assert_eq!(stored_files(&world).await, 1);
}

#[tokio::test]
async fn with_clamd_out_of_reach_an_upload_is_503_not_a_silent_pass() {
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let world = scanned_by(addr).await;

    try_upload(&world, &world.user, "ok.bin", random_bytes(5000))
        .await
        .assert_error(503, "unavailable");
    assert_eq!(stored_files(&world).await, 0);
}
