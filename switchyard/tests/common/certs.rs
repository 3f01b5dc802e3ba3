//! Test certificates, made fresh for each test with rcgen: a CA, and leaves it signs.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, date_time_ymd,
};

/// A certificate authority that exists only for one test.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key, as PEM (the key PKCS#8) and DER.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: Vec<u8>,
    pub key_der: Vec<u8>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        TestCa { issuer }
    }

    /// The CA's certificate, as PEM: what a client trusts.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA's certificate, as DER.
    pub fn issuer_der(&self) -> Vec<u8> {
        self.issuer.der().to_vec()
    }

    /// A certificate for `names` (DNS names or IP addresses), valid from 1975 to 4096.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.sign(names, |_| {})
    }

    /// A certificate for `names` and the key in `key_pem` (PKCS#8, e.g. an RSA key from
    /// openssl).
    pub fn leaf_for_key(&self, names: &[&str], key_pem: &str) -> Leaf {
        let key = KeyPair::from_pem(key_pem).unwrap();
        self.sign_with(names, key, |_| {})
    }

    /// A certificate for `names` that expired at the start of 2020.
    pub fn expired_leaf(&self, names: &[&str]) -> Leaf {
        self.sign(names, |params| {
            params.not_before = date_time_ymd(2019, 1, 1);
            params.not_after = date_time_ymd(2020, 1, 1);
        })
    }

    fn sign(&self, names: &[&str], adjust: impl FnOnce(&mut CertificateParams)) -> Leaf {
        self.sign_with(names, KeyPair::generate().unwrap(), adjust)
    }

    fn sign_with(
        &self,
        names: &[&str],
        key: KeyPair,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> Leaf {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "switchyard test");
        adjust(&mut params);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}
