//! Bolt connection URIs, validated once. The displayed form never carries
//! credentials, so a URI can appear in any message or log line.

use std::fmt;

use super::ConfigError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bolt,
    BoltS,
    BoltSsc,
    Neo4j,
    Neo4jS,
    Neo4jSsc,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Bolt => "bolt",
            Scheme::BoltS => "bolt+s",
            Scheme::BoltSsc => "bolt+ssc",
            Scheme::Neo4j => "neo4j",
            Scheme::Neo4jS => "neo4j+s",
            Scheme::Neo4jSsc => "neo4j+ssc",
        }
    }

    pub fn is_routing(self) -> bool {
        matches!(self, Scheme::Neo4j | Scheme::Neo4jS | Scheme::Neo4jSsc)
    }

    pub fn is_tls(self) -> bool {
        !matches!(self, Scheme::Bolt | Scheme::Neo4j)
    }
}

/// `scheme://host[:port][?routing-context]`, without user info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoltUri {
    scheme: Scheme,
    host: String,
    port: u16,
    query: Option<String>,
}

impl BoltUri {
    pub fn parse(text: &str) -> Result<BoltUri, ConfigError> {
        let invalid = |reason: &str| ConfigError::Invalid {
            what: "URI",
            value: redact(text),
            reason: reason.to_owned(),
        };
        let (scheme_text, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://host[:port], e.g. bolt://localhost:7687"))?;
        let scheme =
            match scheme_text.to_ascii_lowercase().as_str() {
                "bolt" => Scheme::Bolt,
                "bolt+s" => Scheme::BoltS,
                "bolt+ssc" => Scheme::BoltSsc,
                "neo4j" => Scheme::Neo4j,
                "neo4j+s" => Scheme::Neo4jS,
                "neo4j+ssc" => Scheme::Neo4jSsc,
                _ => return Err(invalid(
                    "unsupported scheme; use bolt, bolt+s, bolt+ssc, neo4j, neo4j+s or neo4j+ssc",
                )),
            };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q.to_owned())),
            None => (rest, None),
        };
        let authority = authority.trim_end_matches('/');
        if authority.contains('@') {
            return Err(invalid(
                "credentials in the URI are not accepted; use --user and NEO4J_PASSWORD or --password-file",
            ));
        }
        if authority.contains('/') {
            return Err(invalid(
                "a path is not allowed; choose the database with --database",
            ));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| invalid("unterminated IPv6 address"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(invalid("unexpected text after the IPv6 address")),
            };
            (format!("[{h}]"), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (authority.to_owned(), None),
            }
        };
        if host.is_empty() || host == "[]" {
            return Err(invalid("the host is missing"));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| invalid("the port must be a number from 1 to 65535"))?,
            None => 7687,
        };
        Ok(BoltUri {
            scheme,
            host,
            port,
            query,
        })
    }

    /// The same server addressed directly (no routing): `neo4j+s://h:p`
    /// becomes `bolt+s://h:p`.
    pub fn direct(&self) -> BoltUri {
        let scheme = match self.scheme {
            Scheme::Neo4j => Scheme::Bolt,
            Scheme::Neo4jS => Scheme::BoltS,
            Scheme::Neo4jSsc => Scheme::BoltSsc,
            other => other,
        };
        BoltUri {
            scheme,
            host: self.host.clone(),
            port: self.port,
            query: None,
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// `host:port`, for messages.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

impl fmt::Display for BoltUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)?;
        if let Some(q) = &self.query {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// A URI as typed may hold `user:password@`; strip it before it reaches a message.
fn redact(text: &str) -> String {
    match (text.find("://"), text.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***@{}", &text[..s], &text[at + 1..]),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        for s in [
            "bolt",
            "bolt+s",
            "bolt+ssc",
            "neo4j",
            "neo4j+s",
            "neo4j+ssc",
        ] {
            let u = BoltUri::parse(&format!("{s}://db.example.com:7688")).unwrap();
            assert_eq!(u.to_string(), format!("{s}://db.example.com:7688"));
        }
        assert_eq!(
            BoltUri::parse("bolt://h").unwrap().to_string(),
            "bolt://h:7687"
        );
        assert_eq!(
            BoltUri::parse("neo4j://h:1?policy=eu").unwrap().to_string(),
            "neo4j://h:1?policy=eu"
        );
        assert_eq!(
            BoltUri::parse("bolt://[::1]:7687").unwrap().address(),
            "[::1]:7687"
        );
        assert!(BoltUri::parse("neo4j+s://x.databases.neo4j.io")
            .unwrap()
            .scheme()
            .is_routing());
    }

    #[test]
    fn refuses_bad_uris_without_echoing_credentials() {
        for bad in [
            "http://h:7687",
            "h:7687",
            "bolt://",
            "bolt://h:0",
            "bolt://h:99999",
            "bolt://h/db",
        ] {
            assert!(BoltUri::parse(bad).is_err(), "{bad}");
        }
        let err = BoltUri::parse("bolt://neo4j:s3cret@h:7687").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
