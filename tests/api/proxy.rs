//! A TCP proxy in front of Postgres that a test can cut and restore, leaving the server alone.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use lobbylog::config::DatabaseUrl;
use sqlx::postgres::PgConnectOptions;
use tokio::{
    net::{TcpListener, TcpStream},
    task::AbortHandle,
};

pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    /// A proxy to the server of `url`.
    pub async fn in_front_of(url: &DatabaseUrl) -> Self {
        Self::on_port_in_front_of(0, url).await
    }

    /// A proxy to the server of `url`, listening on `port`.
    pub async fn on_port_in_front_of(port: u16, url: &DatabaseUrl) -> Self {
        let options: PgConnectOptions = url.expose().parse().unwrap();
        let upstream = tokio::net::lookup_host((options.get_host(), options.get_port()))
            .await
            .unwrap()
            .next()
            .unwrap();
        Self::listen(port, upstream).await
    }

    async fn listen(port: u16, upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let (up2, connections2) = (up.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client); // refused: the database "is down"
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                connections2.lock().unwrap().push(task.abort_handle());
            }
        })
        .abort_handle();
        Self {
            port,
            up,
            connections,
            accept,
        }
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for connection in self.connections.lock().unwrap().drain(..) {
            connection.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}
