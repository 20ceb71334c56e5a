//! `kubectl aml deploy show`, `list` (tables, names, JSON), dry runs, and `delete` of one
//! deployment or a whole service.

use serde_json::Value;

use crate::common::Deploy;
use crate::deploy::{create, create_as, ctx};

#[tokio::test]
async fn show_list_and_dry_runs() {
    let ctx = ctx();
    let dry = create(&ctx, &["--dry-run"]).await;
    assert_eq!(dry.code, 0, "{dry}");
    assert_eq!(dry.stdout.matches("PUT http://").count(), 3, "{dry}");
    assert!(ctx.arm().writes().is_empty());
    assert_eq!(create(&ctx, &[]).await.code, 0);
    let json: Value = serde_json::from_str(
        &ctx.run::<Deploy>(&["show", "svc", "-o", "json"])
            .await
            .stdout,
    )
    .unwrap();
    assert_eq!(json["deployments"][0]["name"], "blue");
    let names = ctx.run::<Deploy>(&["list", "-o", "name"]).await;
    assert_eq!(names.stdout, "service/svc\n");
    let other = create_as(
        &ctx,
        "svc2",
        "k8s",
        "sentiment:2",
        "sklearn-env:3",
        &["--num-replicas", "2"],
    )
    .await;
    assert_eq!(other.code, 0, "{other}");
    let table = ctx.run::<Deploy>(&["list"]).await;
    let rows: Vec<Vec<&str>> = table
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().take(5).collect())
        .collect();
    assert_eq!(
        rows,
        [
            ["svc", "blue", "k8s", "Succeeded", "1"],
            ["svc2", "blue", "k8s", "Succeeded", "2"]
        ],
        "{table}"
    );
    let missing = ctx.run::<Deploy>(&["show", "nope"]).await;
    assert_eq!(missing.code, 4, "{missing}");
}

#[tokio::test]
async fn delete_removes_a_deployment_without_traffic_or_the_whole_service() {
    let ctx = ctx();
    assert_eq!(create(&ctx, &[]).await.code, 0);
    assert_eq!(create(&ctx, &["--deployment", "green"]).await.code, 0);
    let refused = ctx
        .run::<Deploy>(&["delete", "svc", "--deployment", "blue", "--yes"])
        .await;
    assert_eq!(refused.code, 1, "{refused}");
    assert!(
        refused
            .stderr
            .contains("deployment `blue` takes 100% of `svc` traffic"),
        "{refused}"
    );
    let out = ctx
        .run::<Deploy>(&["delete", "svc", "--deployment", "green", "--yes"])
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert_eq!(out.stdout, "deployment/green deleted\n");
    assert!(ctx.arm().endpoint("svc", Some("green")).is_none());
    let no_terminal = ctx.run::<Deploy>(&["delete", "svc"]).await;
    assert_eq!(no_terminal.code, 2, "{no_terminal}");
    let out = ctx
        .run_answering::<Deploy>(&["delete", "svc"], Some("y\n"))
        .await;
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr
            .contains("Delete service `svc` and its 1 deployment (blue)? [y/N]"),
        "{out}"
    );
    assert!(ctx.arm().endpoint("svc", None).is_none());
    let delete = ctx
        .arm()
        .writes()
        .into_iter()
        .rfind(|r| r.method == "DELETE")
        .unwrap();
    assert!(delete.path.ends_with("/onlineEndpoints/svc"));
}
