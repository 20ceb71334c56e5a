//! One model Deployment as the router serves it: its settings, its keys, its replicas' pool and its
//! metric handles. It lives as long as the Deployment does, so queues and in-flight slots survive
//! routing-table rebuilds and annotation changes.

use std::sync::{Arc, RwLock};

use http::HeaderMap;

use super::auth::{Keys, bearer};
use super::contract::{App, AuthMode, BackendKey, Settings};
use super::jwt::TokenKeys;
use super::metrics::BackendMetrics;
use super::slots::Pool;

/// The settings in force and the Deployment they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The Deployment's name.
    pub deployment: String,
    /// Its settings.
    pub settings: Settings,
}

/// Where a service's keys stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyState {
    /// The Secret has not been read yet.
    Pending,
    /// Both keys, ready to compare.
    Loaded(Keys),
    /// The Secret is missing or malformed; every request gets 401 until it is fixed.
    Unusable(String),
}

/// A model Deployment being served.
#[derive(Debug)]
pub struct Backend {
    /// Namespace and app.
    pub key: BackendKey,
    config: RwLock<Arc<Config>>,
    keys: RwLock<KeyState>,
    /// Its replicas and the requests waiting for them.
    pub pool: Arc<Pool>,
    /// Its metric handles.
    pub metrics: BackendMetrics,
}

/// Why a request was not let in (for the log; the client sees 401).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied(pub String);

impl Backend {
    /// A backend with no replicas yet.
    pub fn new(key: BackendKey, config: Config, metrics: BackendMetrics) -> Arc<Self> {
        Arc::new(Self {
            pool: Pool::new(config.settings.max_concurrent),
            key,
            config: RwLock::new(Arc::new(config)),
            keys: RwLock::new(KeyState::Pending),
            metrics,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Applies changed settings (capacity changes reach the pool at once); true if anything changed.
    pub fn set_config(&self, config: Config) -> bool {
        let mut current = self.config.write().unwrap_or_else(|e| e.into_inner());
        if **current == config {
            return false;
        }
        if current.settings.max_concurrent != config.settings.max_concurrent {
            self.pool.set_capacity(config.settings.max_concurrent);
        }
        *current = Arc::new(config);
        true
    }

    /// Sets the keys (or why there are none); true if that changed.
    pub fn set_keys(&self, keys: KeyState) -> bool {
        let mut current = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let changed = *current != keys;
        *current = keys;
        changed
    }

    /// Name of the service or endpoint, as URLs and token audiences name it.
    pub fn public_name(&self) -> &str {
        match &self.key.app {
            App::Service(name) => name,
            App::Endpoint { endpoint, .. } => endpoint,
        }
    }

    /// Checks the caller's credential against the service's auth mode.
    pub fn authenticate(
        &self,
        settings: &Settings,
        headers: &HeaderMap,
        token_keys: Option<&TokenKeys>,
        now: i64,
    ) -> Result<(), Denied> {
        let credential = || bearer(headers).ok_or_else(|| Denied("no bearer credential".into()));
        match settings.auth {
            AuthMode::None => Ok(()),
            AuthMode::Key => {
                let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
                match &*keys {
                    KeyState::Loaded(keys) => match keys.accepts(credential()?) {
                        true => Ok(()),
                        false => Err(Denied("the key is not the primary or secondary key".into())),
                    },
                    KeyState::Pending => Err(Denied(format!(
                        "the keys Secret `{}` has not been read yet",
                        settings.keys_secret
                    ))),
                    KeyState::Unusable(why) => Err(Denied(why.clone())),
                }
            }
            AuthMode::Token => {
                let keys = token_keys.filter(|k| !k.is_empty()).ok_or_else(|| {
                    Denied("token auth, but no token keys are loaded (--token-keys-secret)".into())
                })?;
                let audience = settings
                    .token_audience
                    .as_deref()
                    .unwrap_or_else(|| self.public_name());
                keys.verify(credential()?, audience, now)
                    .map_err(|e| Denied(e.to_string()))
            }
        }
    }
}
