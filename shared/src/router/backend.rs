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

/// Why a request was not let in (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The credential is missing or wrong, or the service's keys are unusable: 401.
    Unauthorized(String),
    /// The service's keys have not been read yet: it is not ready (503), the caller's key may be fine.
    KeysPending(String),
}

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

    /// Whether a key-auth service is still waiting for its keys Secret's first read.
    pub fn keys_pending(&self) -> bool {
        self.config().settings.auth == AuthMode::Key
            && *self.keys.read().unwrap_or_else(|e| e.into_inner()) == KeyState::Pending
    }

    /// Sets the keys (or why there are none); true if that changed.
    pub fn set_keys(&self, keys: KeyState) -> bool {
        let mut current = self.keys.write().unwrap_or_else(|e| e.into_inner());
        let changed = *current != keys;
        *current = keys;
        changed
    }

    /// Closes the pool's load window (the meter keeps it to fill the sliding second).
    pub fn close_window(&self) {
        self.pool.take_window();
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
        let credential =
            || bearer(headers).ok_or_else(|| Denied::Unauthorized("no bearer credential".into()));
        match settings.auth {
            AuthMode::None => Ok(()),
            AuthMode::Key => {
                let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
                match &*keys {
                    KeyState::Loaded(keys) => match keys.accepts(credential()?) {
                        true => Ok(()),
                        false => Err(Denied::Unauthorized(
                            "the key is not the primary or secondary key".into(),
                        )),
                    },
                    KeyState::Pending => Err(Denied::KeysPending(format!(
                        "the keys Secret `{}` has not been read yet",
                        settings.keys_secret
                    ))),
                    KeyState::Unusable(why) => Err(Denied::Unauthorized(why.clone())),
                }
            }
            AuthMode::Token => {
                let keys = token_keys.filter(|k| !k.is_empty()).ok_or_else(|| {
                    Denied::Unauthorized(
                        "token auth, but no token keys are loaded (--token-keys-secret)".into(),
                    )
                })?;
                let audience = settings
                    .token_audience
                    .as_deref()
                    .unwrap_or_else(|| self.public_name());
                keys.verify(credential()?, audience, now)
                    .map_err(|e| Denied::Unauthorized(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::metrics::Metrics;

    fn backend(auth: AuthMode) -> (Arc<Backend>, Settings) {
        let key = BackendKey {
            namespace: "ws1".into(),
            app: App::Service("s".into()),
        };
        let mut settings = Settings::defaults("s", &key.app);
        settings.auth = auth;
        let config = Config {
            deployment: "s".into(),
            settings: settings.clone(),
        };
        let metrics = Metrics::new().backend(&key);
        (Backend::new(key, config, metrics), settings)
    }

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn key_auth_waits_for_its_keys_then_checks_them() {
        let (b, s) = backend(AuthMode::Key);
        let ok = headers("Bearer p");
        assert!(b.keys_pending());
        assert!(matches!(
            b.authenticate(&s, &ok, None, 0),
            Err(Denied::KeysPending(_))
        ));
        b.set_keys(KeyState::Loaded(Keys::new("p", "q")));
        assert!(!b.keys_pending());
        assert_eq!(b.authenticate(&s, &ok, None, 0), Ok(()));
        assert_eq!(b.authenticate(&s, &headers("Bearer q"), None, 0), Ok(()));
        assert!(matches!(
            b.authenticate(&s, &headers("Bearer x"), None, 0),
            Err(Denied::Unauthorized(_))
        ));
        assert!(matches!(
            b.authenticate(&s, &HeaderMap::new(), None, 0),
            Err(Denied::Unauthorized(_))
        ));
        b.set_keys(KeyState::Unusable("gone".into()));
        assert_eq!(
            b.authenticate(&s, &ok, None, 0),
            Err(Denied::Unauthorized("gone".into()))
        );
    }

    #[test]
    fn no_auth_lets_all_in_and_token_auth_without_keys_lets_none_in() {
        let (open, s) = backend(AuthMode::None);
        assert!(!open.keys_pending());
        assert_eq!(open.authenticate(&s, &HeaderMap::new(), None, 0), Ok(()));
        let (token, s) = backend(AuthMode::Token);
        let empty = TokenKeys::default();
        for keys in [None, Some(&empty)] {
            assert!(matches!(
                token.authenticate(&s, &headers("Bearer a.b.c"), keys, 0),
                Err(Denied::Unauthorized(_))
            ));
        }
    }
}
