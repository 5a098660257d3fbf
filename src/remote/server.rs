//! `atelier serve`: this machine's device, served to training clients over Iroh or WebSocket.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;

use burn::server::{
    AuthorizationRequest, IrohIdentity, IrohRelays, IrohTransport, PeerAuthorizer, RemoteServer,
    TokenAuthorizer, WebSocketTransport,
};
use burn::tensor::Device;

use super::RemoteError;

/// The WebSocket port when none is given.
pub const DEFAULT_WEBSOCKET_PORT: u16 = 3000;

/// How clients reach the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ServeTransport {
    /// Authenticated and encrypted, across any network (n0's relays find the server by id).
    #[default]
    Iroh,
    /// Unencrypted: the same machine, a LAN, containers.
    Websocket,
}

/// Everything `atelier serve` needs.
pub struct ServeOptions {
    pub device: Device,
    pub device_description: String,
    pub transport: ServeTransport,
    /// UDP port (Iroh) or TCP port (WebSocket; 0 lets the system pick one).
    pub port: Option<u16>,
    /// WebSocket: the address to listen on (127.0.0.1 unless given).
    pub listen: Option<IpAddr>,
    /// Iroh: `public`, `disabled` (direct connections only) or a private relay's URL.
    pub relays: String,
    pub token: String,
    /// Iroh: where the server's identity (its secret key) is kept, so its id survives restarts.
    pub key_file: PathBuf,
}

/// Serves until Ctrl-C or SIGTERM, printing on `out` where clients connect. Refused sessions
/// are reported on stderr (and in burn's server log).
pub fn serve(options: ServeOptions, out: &mut dyn Write) -> Result<(), RemoteError> {
    let serve_err = |e: String| RemoteError::Serve(e);
    let tokens =
        TokenAuthorizer::new(options.token.as_str()).map_err(|e| serve_err(e.to_string()))?;
    let authorizer = move |request: AuthorizationRequest<'_>| {
        let client = request.client;
        let answer = tokens.authorize(request);
        match &answer {
            Ok(()) => eprintln!("session opened for {client}"),
            Err(why) => eprintln!("refused a session: {why}"),
        }
        answer
    };
    let server = RemoteServer::new([options.device.clone()]).with_authorizer(authorizer);
    let say = |out: &mut dyn Write, line: String| {
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    };
    say(out, format!("serving {}", options.device_description));
    match options.transport {
        ServeTransport::Websocket => {
            let ip = options.listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let at = SocketAddr::new(ip, options.port.unwrap_or(DEFAULT_WEBSOCKET_PORT));
            let listener = TcpListener::bind(at)
                .map_err(|e| serve_err(format!("cannot listen on {at}: {e}")))?;
            let bound = listener
                .local_addr()
                .map_err(|e| serve_err(e.to_string()))?;
            say(out, format!("listening on ws://{bound}"));
            eprintln!(
                "warning: WebSocket is unencrypted: the token and the training data cross the network in the clear; use it on a trusted network only (Iroh is the encrypted default)"
            );
            if !ip.is_loopback() {
                eprintln!("warning: listening on {ip}, not only this machine");
            }
            say(out, connect_hint(&format!("ws://{bound}")));
            server
                .serve(WebSocketTransport::from_listener(listener))
                .map_err(|e| serve_err(e.to_string()))
        }
        ServeTransport::Iroh => {
            let relays: IrohRelays = options
                .relays
                .parse()
                .map_err(|e: burn::server::InvalidRelays| serve_err(e.to_string()))?;
            if relays == IrohRelays::Disabled && options.port.is_none() {
                return Err(serve_err(
                    "with --relays disabled, give --port: clients must dial it directly".into(),
                ));
            }
            let identity = IrohIdentity::load_or_create(&options.key_file).map_err(|e| {
                serve_err(format!(
                    "cannot keep the server's identity in {}: {e}",
                    options.key_file.display()
                ))
            })?;
            let mut transport = IrohTransport::new(identity).with_relays(relays.clone());
            if let Some(port) = options.port {
                transport = transport.with_port(port);
            }
            let id = transport.id().to_string();
            say(out, format!("server id {id}"));
            let host = match (relays, options.port) {
                (IrohRelays::Disabled, Some(port)) => format!("{id}@THIS-MACHINE'S-IP:{port}"),
                _ => id,
            };
            say(out, connect_hint(&host));
            server
                .serve(transport)
                .map_err(|e| serve_err(e.to_string()))
        }
    }
}

fn connect_hint(host: &str) -> String {
    format!(
        "connect with: atelier train --data DIR --preset P --out RUN --device remote --host {host} --token-file COPY-OF-THE-TOKEN-FILE"
    )
}
