//! `[network]` as written -> [`NetPolicy`]: every entry parsed, `rules`
//! merged into `allow`. Problems come out as an [`Issue`] naming the key,
//! which the loader locates in the file.

use super::{parse, AllowRule, DenyRule, NetPolicy, Ports, Protocol};
use crate::issue::{Issue, Seg};
use crate::model::Network;

/// The checks of `[network]`, in file order: `allow`, `deny`, `resolve`,
/// `rules`; the first problem wins.
pub(crate) fn compile(net: &Network) -> Result<NetPolicy, Issue> {
    let key = |k: &'static str| vec![Seg::Key("network"), Seg::Key(k)];
    let issue = |path: Vec<Seg>, p: parse::Problem| Issue {
        expected: Some(p.expected),
        ..Issue::new(path, p.problem)
    };
    let mut allow = Vec::with_capacity(net.allow.len() + net.rules.len());
    for (i, text) in net.allow.iter().enumerate() {
        let endpoint = parse::endpoint(text, Ports::Web)
            .map_err(|p| issue([key("allow"), vec![Seg::Index(i)]].concat(), p))?;
        allow.push(AllowRule {
            endpoint,
            protocols: Protocol::DEFAULT.to_vec(),
            text: text.clone(),
        });
    }
    let mut deny = Vec::with_capacity(net.deny.len());
    for (i, entry) in net.deny.iter().enumerate() {
        let path = |k| [key("deny"), vec![Seg::Index(i), Seg::Key(k)]].concat();
        let endpoint =
            parse::endpoint(&entry.host, Ports::Every).map_err(|p| issue(path("host"), p))?;
        if let Some(reason) = &entry.reason {
            parse::reason(reason).map_err(|p| issue(path("reason"), p))?;
        }
        deny.push(DenyRule {
            endpoint,
            reason: entry.reason.clone(),
            text: entry.host.clone(),
        });
    }
    let mut pins = Vec::with_capacity(net.resolve.len());
    for (i, text) in net.resolve.iter().enumerate() {
        pins.push(
            parse::pin(text)
                .map_err(|p| issue([key("resolve"), vec![Seg::Index(i)]].concat(), p))?,
        );
    }
    for (text, options) in &net.rules {
        let path = [key("rules"), vec![Seg::Quoted(text.clone())]].concat();
        let endpoint = parse::endpoint(text, Ports::Web).map_err(|p| Issue {
            at_key: true,
            ..issue(path.clone(), p)
        })?;
        let protocols = match &options.protocols {
            None => Protocol::DEFAULT.to_vec(),
            Some(list) => parse::protocols(list)
                .map_err(|p| issue([path, vec![Seg::Key("protocols")]].concat(), p))?,
        };
        let mut merged = false;
        for rule in allow.iter_mut().filter(|r| r.endpoint == endpoint) {
            rule.protocols.clone_from(&protocols);
            merged = true;
        }
        if !merged {
            allow.push(AllowRule {
                endpoint,
                protocols,
                text: text.clone(),
            });
        }
    }
    Ok(NetPolicy { allow, deny, pins })
}
