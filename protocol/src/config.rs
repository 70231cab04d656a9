//! Connection settings, from code or from a URL such as
//! `kvsql://user:password@127.0.0.1:7878`.

use std::str::FromStr;
use std::time::Duration;

use crate::DEFAULT_PORT;
use crate::client::Client;
use crate::error::Error;

/// How to reach a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// For authentication, once servers require it.
    pub user: Option<String>,
    pub password: Option<String>,
    /// How long connecting and the handshake may take together.
    pub connect_timeout: Duration,
    /// Shown in server logs.
    pub client_name: String,
    /// Connect with TLS, trusting the certificates in this PEM file; the server's
    /// certificate must be for `host`.
    pub tls_ca: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: DEFAULT_PORT,
            user: None,
            password: None,
            connect_timeout: Duration::from_secs(10),
            client_name: concat!("kvsql-protocol ", env!("CARGO_PKG_VERSION")).into(),
            tls_ca: None,
        }
    }
}

impl Config {
    /// Connects with these settings.
    pub async fn connect(&self) -> Result<Client, Error> {
        let address = if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port) // an IPv6 address
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let login = self
            .user
            .as_deref()
            .map(|user| (user, self.password.as_deref().unwrap_or("")));
        let tls = match &self.tls_ca {
            Some(ca) => Some(crate::TlsConfig::from_ca_file(ca, &self.host)?),
            None => None,
        };
        Client::connect_login(
            address.as_str(),
            &self.client_name,
            self.connect_timeout,
            login,
            tls.as_ref(),
        )
        .await
    }
}

fn bad(url: &str, why: &str) -> Error {
    Error::InvalidConfig(format!("{url:?}: {why}"))
}

/// Decodes `%XX` escapes (for user names and passwords with reserved characters).
fn percent_decode(text: &str, url: &str) -> Result<String, Error> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(url, "a '%' must be followed by two hex digits"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(url, "escapes do not decode to UTF-8"))
}

impl FromStr for Config {
    type Err = Error;

    /// Parses `kvsql://[user[:password]@]host[:port]`; host may be `[IPv6]`.
    fn from_str(url: &str) -> Result<Config, Error> {
        let rest = url
            .strip_prefix("kvsql://")
            .ok_or_else(|| bad(url, "expected a URL starting with kvsql://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#']) {
            return Err(bad(url, "paths and query strings are not supported"));
        }
        let mut config = Config::default();
        let host_port = match rest.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                let (user, password) = match userinfo.split_once(':') {
                    Some((user, password)) => (user, Some(password)),
                    None => (userinfo, None),
                };
                if user.is_empty() {
                    return Err(bad(url, "empty user name"));
                }
                config.user = Some(percent_decode(user, url)?);
                config.password = password.map(|p| percent_decode(p, url)).transpose()?;
                host_port
            }
            None => rest,
        };
        let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad(url, "unclosed '[' in the host"))?;
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| bad(url, "expected ':' after ']'"))?,
                ),
            };
            (host, port)
        } else {
            match host_port.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return Err(bad(url, "no host"));
        }
        config.host = host.to_string();
        if let Some(port) = port {
            config.port = port
                .parse()
                .map_err(|_| bad(url, "the port must be a number from 0 to 65535"))?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_settings() {
        let c: Config = "kvsql://ann:s%40cret@db.example:7000".parse().unwrap();
        assert_eq!(
            (
                c.host.as_str(),
                c.port,
                c.user.as_deref(),
                c.password.as_deref()
            ),
            ("db.example", 7000, Some("ann"), Some("s@cret"))
        );
        let c: Config = "kvsql://localhost".parse().unwrap();
        assert_eq!((c.host.as_str(), c.port, c.user), ("localhost", 7878, None));
        let c: Config = "kvsql://bob@[::1]:9/".parse().unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_deref()),
            ("::1", 9, Some("bob"))
        );
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (url, why) in [
            ("postgres://x", "kvsql://"),
            ("kvsql://", "no host"),
            ("kvsql://h:99999", "port"),
            ("kvsql://h/db", "paths"),
            ("kvsql://@h", "empty user"),
            ("kvsql://u:%zz@h", "hex digits"),
            ("kvsql://[::1", "unclosed"),
        ] {
            let err = url.parse::<Config>().unwrap_err();
            assert!(err.to_string().contains(why), "{url}: {err}");
        }
    }
}
