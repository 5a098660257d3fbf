//! Where a training server is, as a designer writes it after `--host`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use super::RemoteError;

/// A training server's address: the URL of a WebSocket server, or an Iroh server's id with,
/// for direct connections without relays (a LAN, loopback), the address it listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostAddress {
    /// `ws://host:port`: unencrypted, for trusted networks.
    WebSocket(String),
    /// `ID` (found through n0's public relays) or `ID@ip:port` (dialled directly, no relays).
    Iroh {
        id: String,
        direct: Option<SocketAddr>,
    },
}

impl HostAddress {
    /// The transport's name, for messages.
    #[must_use]
    pub fn transport(&self) -> &'static str {
        match self {
            Self::WebSocket(_) => "WebSocket",
            Self::Iroh { .. } => "Iroh",
        }
    }
}

impl FromStr for HostAddress {
    type Err = RemoteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let bad = |why: &str| RemoteError::BadHost {
            host: text.to_string(),
            why: why.to_string(),
        };
        if text.is_empty() {
            return Err(bad("it is empty"));
        }
        if let Some(rest) = text
            .strip_prefix("ws://")
            .or_else(|| text.strip_prefix("wss://"))
        {
            if rest.is_empty() || rest.starts_with(':') || rest.contains(char::is_whitespace) {
                return Err(bad("a WebSocket URL needs a host, as ws://gpu-box:3000"));
            }
            return Ok(Self::WebSocket(text.to_string()));
        }
        if text.contains("://") {
            return Err(bad(
                "use ws://HOST:PORT for WebSocket, or an Iroh server id (ID or ID@IP:PORT)",
            ));
        }
        let (id, direct) = match text.split_once('@') {
            Some((id, address)) => {
                let address = address.parse::<SocketAddr>().map_err(|_| {
                    bad("after '@' comes the address the server listens on, as 192.168.1.20:4433")
                })?;
                (id, Some(address))
            }
            None => (text, None),
        };
        if id.len() < 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(bad(
                "an Iroh server id is the long word `atelier serve` prints (letters and digits)",
            ));
        }
        Ok(Self::Iroh {
            id: id.to_string(),
            direct,
        })
    }
}

impl fmt::Display for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebSocket(url) => f.write_str(url),
            Self::Iroh { id, direct: None } => f.write_str(id),
            Self::Iroh {
                id,
                direct: Some(address),
            } => write!(f, "{id}@{address}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "ae58ff8833241ac82d6ff7611046ed67b5072d142c588d0063e942d9a75502b6";

    #[test]
    fn each_written_form_parses_and_prints_back() {
        for text in [
            "ws://127.0.0.1:3000",
            "wss://gpu.example.com:443",
            ID,
            &format!("{ID}@127.0.0.1:4433"),
            &format!("{ID}@[::1]:4433"),
        ] {
            let host: HostAddress = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(host.to_string(), text);
        }
        assert!(matches!(
            format!("{ID}@10.0.0.2:9").parse::<HostAddress>(),
            Ok(HostAddress::Iroh {
                direct: Some(_),
                ..
            })
        ));
    }

    #[test]
    fn a_wrong_host_says_what_is_wrong() {
        for (text, says) in [
            ("", "empty"),
            ("http://gpu:3000", "ws://HOST:PORT"),
            ("ws://", "needs a host"),
            ("gpu-box", "Iroh server id"),
            (&format!("{ID}@gpu-box"), "after '@'"),
        ] {
            let Err(e) = text.parse::<HostAddress>() else {
                panic!("{text:?} parsed");
            };
            assert!(e.to_string().contains(says), "{text:?}: {e}");
        }
    }
}
