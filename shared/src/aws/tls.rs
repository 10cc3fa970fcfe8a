//! The functions' HTTPS client: rustls (aws-lc) trusting the roots AWS's own endpoints chain to.
//!
//! The SDK's default client trusts the system's root store, and loads it when a client is
//! built (`validate_base_client_config`), so every cold start read and parsed every file of
//! `/etc/ssl/certs` (146 of them here) before serving its first event. A Lambda function talks
//! to AWS service endpoints only — DynamoDB, SQS, SNS, S3, Secrets Manager and the WebSocket
//! API's management endpoint — and every one of them, their FIPS and VPC interface endpoints
//! included, serves a certificate issued under Amazon Trust Services
//! (<https://www.amazontrust.com/repository/>). Trusting those five roots instead is faster
//! to start and narrower: a certificate from any other CA is refused.
//!
//! The local gateway keeps the SDK's default (system roots): it may be pointed at any
//! DynamoDB-compatible endpoint.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, HttpClientError};

/// Amazon Root CA 1–4 and the Starfield Services root that cross-signs them (PEM, as published
/// by Amazon Trust Services and shipped in Mozilla's root program).
pub const AMAZON_TRUST_SERVICES_ROOTS: [(&str, &str); 5] = [
    (
        "Amazon Root CA 1",
        include_str!("roots/Amazon_Root_CA_1.pem"),
    ),
    (
        "Amazon Root CA 2",
        include_str!("roots/Amazon_Root_CA_2.pem"),
    ),
    (
        "Amazon Root CA 3",
        include_str!("roots/Amazon_Root_CA_3.pem"),
    ),
    (
        "Amazon Root CA 4",
        include_str!("roots/Amazon_Root_CA_4.pem"),
    ),
    (
        "Starfield Services Root Certificate Authority - G2",
        include_str!("roots/Starfield_Services_Root_Certificate_Authority_-_G2.pem"),
    ),
];

/// A trust store of [`AMAZON_TRUST_SERVICES_ROOTS`] only.
pub fn aws_trust_store() -> TrustStore {
    AMAZON_TRUST_SERVICES_ROOTS
        .iter()
        .fold(TrustStore::empty(), |store, (_, pem)| {
            store.with_pem_certificate(pem.as_bytes())
        })
}

/// The HTTPS client for a Lambda function's SDK clients: the SDK's own hyper + rustls (aws-lc)
/// stack, with [`aws_trust_store`].
pub fn lambda_https_client() -> Result<SharedHttpClient, HttpClientError> {
    let context = TlsContext::builder()
        .with_trust_store(aws_trust_store())
        .build()?;
    Ok(Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .tls_context(context)
        .build_https())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    #[test]
    fn each_bundled_root_is_one_self_issued_certificate_of_that_name() {
        for (name, pem) in AMAZON_TRUST_SERVICES_ROOTS {
            let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap_or_else(|e| panic!("{name}: not PEM: {e:?}"));
            assert_eq!(certs.len(), 1, "{name}: one certificate per file");
            // A root is its own issuer: its common name is in the DER twice (issuer, subject).
            let der = certs[0].as_ref();
            let named = der
                .windows(name.len())
                .filter(|w| *w == name.as_bytes())
                .count();
            assert_eq!(named, 2, "{name}: issuer and subject name it");
        }
    }

    #[tokio::test]
    async fn an_sdk_client_builds_on_the_lambda_https_client() {
        // Building a client makes the HTTP client build its connector (the SDK validates the
        // base configuration), which parses every trusted root and panics on a bad one.
        let http = lambda_https_client().expect("TLS context");
        let sdk = aws_config::SdkConfig::builder()
            .http_client(http)
            .region(aws_config::Region::new("eu-west-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        assert_eq!(
            client.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
    }
}
