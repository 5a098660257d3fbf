//! Connecting a device of a training server, and measuring the connection.

use std::time::{Duration, Instant};

use burn::remote::{ConnectError, EndpointId, IrohHost, IrohRelays, RemoteHost};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

use super::{HostAddress, RemoteError};

/// Connects device 0 of the server at `address`, presenting `token`. The device then works
/// like a local one; its operations run on the server.
pub fn connect(address: &HostAddress, token: &str) -> Result<Device, RemoteError> {
    let failed = |why: String| RemoteError::Connect {
        transport: address.transport(),
        host: address.to_string(),
        why,
    };
    let host = match address {
        HostAddress::WebSocket(url) => RemoteHost::websocket(url),
        HostAddress::Iroh { id, direct } => {
            let id: EndpointId = id
                .parse()
                .map_err(|e| failed(format!("'{id}' is not an Iroh server id ({e})")))?;
            let mut host = IrohHost::new(id);
            if let Some(address) = direct {
                host = host
                    .with_relays(IrohRelays::Disabled)
                    .with_address(*address);
            }
            RemoteHost::iroh(host)
        }
    };
    Device::remote_options(&host.with_credential(token))
        .init()
        .map_err(|e| match e {
            ConnectError::Unauthorized => RemoteError::Refused {
                host: address.to_string(),
            },
            other => failed(other.to_string()),
        })
}

/// The side of the probe's square matrices.
const SIDE: usize = 512;

/// What a connection test found.
#[derive(Clone, Debug)]
pub struct ConnectionReport {
    /// Median time for a tiny operation to go to the server and its result to come back.
    pub round_trip: Duration,
    /// The server device's speed on a 512×512 matrix product, in GFLOP/s (through the
    /// connection, so a slow link lowers it): what a designer wants to know of a device.
    pub matmul_gflops: f64,
}

/// Round trips and a matrix product on `device`, as the studio's Test connection shows them.
pub fn probe(device: &Device) -> Result<ConnectionReport, RemoteError> {
    let lost = |e: String| RemoteError::Lost {
        host: format!("{device:?}"),
        why: e,
    };
    let mut trips = Vec::with_capacity(5);
    for k in 0..5u8 {
        let started = Instant::now();
        let one = Tensor::<1>::from_data(TensorData::from([f32::from(k)]), device) + 1.0;
        one.try_into_data().map_err(|e| lost(format!("{e:?}")))?;
        trips.push(started.elapsed());
    }
    trips.sort();
    let a = Tensor::<2>::random([SIDE, SIDE], Distribution::Default, device);
    let b = Tensor::<2>::random([SIDE, SIDE], Distribution::Default, device);
    // A first product warms kernels and allocations up; the second is timed.
    (a.clone().matmul(b.clone()).sum())
        .try_into_data()
        .map_err(|e| lost(format!("{e:?}")))?;
    let started = Instant::now();
    (a.matmul(b).sum())
        .try_into_data()
        .map_err(|e| lost(format!("{e:?}")))?;
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let flops = 2.0 * 512.0f64.powi(3);
    Ok(ConnectionReport {
        round_trip: trips[trips.len() / 2],
        matmul_gflops: flops / seconds / 1e9,
    })
}
