//! A TCP proxy on loopback whose connections a test can cut, the way a load balancer or a network blip drops a
//! client's long-lived watches. While paused it holds new connections until it resumes.

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A proxy to `127.0.0.1:upstream`, stopped when dropped (its connections end with it).
pub struct TcpProxy {
    /// The port it listens on.
    pub port: u16,
    cuts: watch::Sender<u64>,
    paused: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let (cuts, _) = watch::channel(0u64);
        let (paused, _) = watch::channel(false);
        let (cut_source, pause_source) = (cuts.clone(), paused.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else { continue };
                let (mut cut, mut pause) = (cut_source.subscribe(), pause_source.subscribe());
                tokio::spawn(async move {
                    while *pause.borrow_and_update() {
                        if pause.changed().await.is_err() {
                            return;
                        }
                    }
                    cut.borrow_and_update();
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                    let mut inbound = inbound;
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        TcpProxy { port, cuts, paused, task }
    }

    /// Drops every open connection and holds new ones until [`TcpProxy::resume`].
    pub fn cut_and_pause(&self) {
        self.paused.send_replace(true);
        self.cuts.send_modify(|generation| *generation += 1);
    }

    /// Lets connections through again.
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        // Ends the connections too: their `changed()` fails once the senders are gone.
        self.cuts.send_modify(|generation| *generation += 1);
    }
}
