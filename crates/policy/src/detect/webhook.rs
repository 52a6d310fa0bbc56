//! `detect.webhook`: the URL findings are POSTed to.

/// A webhook's `http://HOST[:PORT][/PATH]`, split: what corral's command
/// line connects to and posts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl {
    /// A name or an address (an IPv6 one without its brackets).
    pub host: String,
    /// 80 when the URL names none.
    pub port: u16,
    /// `/` when the URL names none.
    pub path: String,
}

impl WebhookUrl {
    /// Parses and checks `http://HOST[:PORT][/PATH]` (HOST a name, an IPv4
    /// address or a bracketed IPv6 one).
    pub fn parse(url: &str) -> Result<WebhookUrl, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url:?} is an https:// URL: corral posts alerts over plain HTTP only"
            ));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "{url:?} contains whitespace or a control character"
            ));
        }
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.contains(['@', '?', '#']) {
            return Err(format!(
                "{url:?} has user info, a query or a fragment before the path"
            ));
        }
        // `host`, `host:port`, `[v6]`, `[v6]:port`.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => {
                match port.parse::<u16>() {
                    Ok(p) if p > 0 => (host, p),
                    _ => return Err(format!("{url:?} has the port {port:?}, not 1 to 65535")),
                }
            }
            _ => (authority, 80),
        };
        if host.is_empty() || host == "[]" {
            return Err(format!("{url:?} has no host"));
        }
        Ok(WebhookUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            path: path.to_owned(),
        })
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_split_into_host_port_and_path() {
        let u = WebhookUrl::parse("http://127.0.0.1:9000/hook").expect("ok");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 9000, "/hook")
        );
        let u = WebhookUrl::parse("http://example.test").expect("ok");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.test", 80, "/")
        );
        let u = WebhookUrl::parse("http://[::1]:8080/a/b").expect("ok");
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 8080, "/a/b")
        );
        assert!(WebhookUrl::parse("https://example.test/").is_err());
        assert!(WebhookUrl::parse("http://:80/").is_err());
    }
}
