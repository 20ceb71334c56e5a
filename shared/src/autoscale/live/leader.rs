//! The election's I/O: read the Lease, write what [`Elector`] plans (creates, renewals and
//! takeovers, each only if the Lease is still the version read), and publish whether this process
//! may act. Every call is bounded by the renewal period, so a hanging API server cannot stretch a
//! leadership; on shutdown a leader releases the Lease so another takes over at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Api;
use kube::api::PostParams;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::autoscale::lease::{Elector, Plan, Record, Timing};

/// Where the Lease is and who we are.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Namespace of the Lease (the fe namespace).
    pub namespace: String,
    /// Its name (`--lease-name`).
    pub name: String,
    /// Our identity.
    pub identity: String,
    /// The election's timing.
    pub timing: Timing,
}

#[derive(Debug, Default)]
struct Known {
    /// Until when we may act as leader.
    until: Option<Instant>,
    /// Who holds the Lease, as last read.
    holder: Option<String>,
}

/// Whether this process leads, shared with the code that acts only when it does.
#[derive(Debug, Clone, Default)]
pub struct Leadership(Arc<Mutex<Known>>);

impl Leadership {
    /// Whether we may act now.
    pub fn leading(&self) -> bool {
        let known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        known.until.is_some_and(|until| Instant::now() < until)
    }

    /// Who holds the Lease, as last read.
    pub fn holder(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .holder
            .clone()
    }

    fn set(&self, until: Option<Instant>, holder: Option<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Known { until, holder };
    }
}

fn record_of(lease: &Lease) -> Record {
    let spec = lease.spec.clone().unwrap_or_default();
    Record {
        holder: spec.holder_identity,
        duration: Duration::from_secs(spec.lease_duration_seconds.unwrap_or(15).max(1) as u64),
        acquired: spec.acquire_time.map(|t| t.0),
        renewed: spec.renew_time.map(|t| t.0),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

fn lease_of(config: &LeaseConfig, record: &Record, resource_version: Option<String>) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            namespace: Some(config.namespace.clone()),
            resource_version,
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: record.holder.clone(),
            lease_duration_seconds: Some(record.duration.as_secs() as i32),
            acquire_time: record.acquired.map(MicroTime),
            renew_time: record.renewed.map(MicroTime),
            lease_transitions: Some(record.transitions),
            ..Default::default()
        }),
    }
}

/// One look at the Lease, and the write the election plans.
async fn round(
    api: &Api<Lease>,
    config: &LeaseConfig,
    elector: &mut Elector,
) -> Result<Option<String>, kube::Error> {
    let lease = api.get_opt(&config.name).await?;
    let record = lease.as_ref().map(record_of);
    let version = lease
        .as_ref()
        .and_then(|l| l.metadata.resource_version.clone());
    let (write, record) =
        match elector.plan(record.as_ref(), Instant::now(), jiff::Timestamp::now()) {
            Plan::Follow { holder } => return Ok(Some(holder)),
            Plan::Create(record) => (
                api.create(&PostParams::default(), &lease_of(config, &record, None))
                    .await,
                record,
            ),
            Plan::Update(record) => {
                let object = lease_of(config, &record, version);
                (
                    api.replace(&config.name, &PostParams::default(), &object)
                        .await,
                    record,
                )
            }
        };
    match write {
        Ok(_) => {
            elector.written(record, Instant::now());
            Ok(Some(config.identity.clone()))
        }
        // Someone else wrote first: read again next round.
        Err(kube::Error::Api(status)) if status.code == 409 => {
            elector.write_failed();
            Ok(None)
        }
        Err(e) => {
            elector.write_failed();
            Err(e)
        }
    }
}

/// Takes part in the election until `stop`; then, if leading, releases the Lease.
pub async fn run(
    client: kube::Client,
    config: LeaseConfig,
    leadership: Leadership,
    mut stop: watch::Receiver<bool>,
) {
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    let mut elector = Elector::new(config.identity.clone(), config.timing);
    let timing = config.timing;
    // Followers look more often than leaders renew, so a dead leader is noticed soon.
    let follower_period = timing.renew_every.min(Duration::from_secs(2));
    let mut failing = false;
    let mut was_leading = false;
    loop {
        let outcome =
            tokio::time::timeout(timing.renew_every, round(&api, &config, &mut elector)).await;
        let holder = match outcome {
            Ok(Ok(holder)) => {
                if failing {
                    tracing::info!(
                        "the Lease {}/{} can be read and written again",
                        config.namespace,
                        config.name
                    );
                }
                failing = false;
                holder
            }
            Ok(Err(e)) => {
                if !failing {
                    let hint = if matches!(&e, kube::Error::Api(s) if s.code == 403) {
                        "; the router needs get, create and update on leases (coordination.k8s.io)"
                    } else {
                        ""
                    };
                    tracing::warn!(error = %e, "cannot renew or take the Lease {}/{}{hint}", config.namespace, config.name);
                }
                failing = true;
                leadership.holder()
            }
            Err(_) => {
                if !failing {
                    tracing::warn!(
                        "the API server did not answer about the Lease within {:?}",
                        timing.renew_every
                    );
                }
                failing = true;
                leadership.holder()
            }
        };
        let now = Instant::now();
        let until = elector.leading(now).then(|| now + elector.leading_for(now));
        leadership.set(until, holder.clone());
        let leading = until.is_some();
        if leading != was_leading {
            match leading {
                true => {
                    tracing::info!(identity = %config.identity, "leading the autoscaler (Lease {}/{})", config.namespace, config.name)
                }
                false => tracing::warn!(
                    holder = holder.as_deref().unwrap_or("nobody"),
                    "no longer leading the autoscaler"
                ),
            }
            was_leading = leading;
        }
        let period = if leading {
            timing.renew_every
        } else {
            follower_period
        };
        let stopping = tokio::select! {
            _ = tokio::time::sleep(period) => false,
            _ = stop.wait_for(|s| *s) => true,
        };
        if stopping {
            if leadership.leading() {
                release(&api, &config).await;
            }
            leadership.set(None, None);
            return;
        }
    }
}

/// Gives the Lease up (holder emptied), so a follower need not wait out its duration.
async fn release(api: &Api<Lease>, config: &LeaseConfig) {
    let released = async {
        let mut lease = api.get(&config.name).await?;
        if let Some(spec) = lease.spec.as_mut()
            && spec.holder_identity.as_deref() == Some(config.identity.as_str())
        {
            spec.holder_identity = None;
            api.replace(&config.name, &PostParams::default(), &lease)
                .await?;
        }
        Ok::<_, kube::Error>(())
    };
    match tokio::time::timeout(Duration::from_secs(2), released).await {
        Ok(Ok(())) => tracing::info!("released the Lease {}/{}", config.namespace, config.name),
        _ => tracing::warn!(
            "could not release the Lease {}/{}; another router takes over when it expires",
            config.namespace,
            config.name
        ),
    }
}
