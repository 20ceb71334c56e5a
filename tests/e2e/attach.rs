//! `kubectl aml attach` end to end against the fake ARM (and the fake cluster for in-cluster
//! checks), through the real Azure CLI credential path (a stand-in `az`).

use aml_tests::{FakeArm, TestContext};

use crate::common::Attach;

fn ctx() -> TestContext {
    TestContext::new().with_arm(FakeArm::start())
}

#[tokio::test]
async fn attach_aks_smoke() {
    let ctx = ctx();
    let out = ctx.run::<Attach>(&["aks", "aks-prod", "--cluster", "aks1"]).await;
    println!("{out}");
    for r in ctx.arm().journal() {
        println!("{} {} {:?} -> {}", r.method, r.path, r.query, r.status);
    }
    assert_eq!(out.code, 0);
}
