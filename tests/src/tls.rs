//! A throw-away certificate authority and server certificate for the fakes' HTTPS listeners.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

/// TLS material for a loopback server: trust `ca_pem` to reach it.
pub struct TestTls {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// rustls configuration serving a certificate for `localhost` and `127.0.0.1`, HTTP/1.1 only.
    pub server_config: Arc<rustls::ServerConfig>,
}

impl TestTls {
    /// Makes a new CA and a server certificate signed by it.
    pub fn new() -> Self {
        aml_core::init_crypto();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kubectl-aml test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
            .expect("CA certificate");
        let server_key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .expect("server params");
        params
            .distinguished_name
            .push(DnType::CommonName, "fake-kube");
        let server_cert = params
            .signed_by(&server_key, &ca)
            .expect("server certificate");
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let mut config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
            .expect("server TLS config");
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Self {
            ca_pem: ca.pem(),
            server_config: Arc::new(config),
        }
    }
}

impl Default for TestTls {
    fn default() -> Self {
        Self::new()
    }
}

/// A self-signed certificate for `names` valid from yesterday for `valid_days` more days, and its
/// key (PKCS#8), both PEM: for tests that need a certificate near expiry.
pub fn self_signed_pair(names: &[&str], valid_days: i64) -> (String, String) {
    let day = |offset: i64| {
        let date = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * offset))
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        rcgen::date_time_ymd(i32::from(date.year()), date.month() as u8, date.day() as u8)
    };
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, names.first().copied().unwrap_or("test"));
    params.not_before = day(-1);
    params.not_after = day(valid_days);
    let key = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("certificate");
    (cert.pem(), key.serialize_pem())
}
