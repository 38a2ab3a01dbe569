//! The container setup: docker-compose.yml.

use yaml_rust2::{Yaml, YamlLoader};

use crate::docs::{env_vars, read};

/// What compose must set for lobbylog.
const FIXED_BY_COMPOSE: [&str; 5] = [
    "DATABASE_URL",
    "LOBBYLOG_LISTEN",
    "LOBBYLOG_ADMIN_LISTEN",
    "DAILY_WEBHOOK_SECRET",
    "LOBBYLOG_SPOOL_DIR",
];

fn compose_services() -> Yaml {
    let docs = YamlLoader::load_from_str(&read("docker-compose.yml"))
        .expect("docker-compose.yml is not YAML");
    docs[0]["services"].clone()
}

/// The host address and port of a published port, short (`[IP:]HOST:CONTAINER`) or long syntax;
/// no address means every interface.
fn published(port: &Yaml) -> (Option<String>, String) {
    match port {
        Yaml::Hash(_) => (
            port["host_ip"].as_str().map(String::from),
            match &port["published"] {
                Yaml::Integer(n) => n.to_string(),
                other => other.as_str().unwrap_or("").to_string(),
            },
        ),
        Yaml::Integer(n) => (None, n.to_string()),
        _ => {
            let spec = port
                .as_str()
                .expect("a port is a string, a number or a map");
            let parts: Vec<&str> = spec.split(':').collect();
            match parts.as_slice() {
                [ip, host, _] => (Some(ip.to_string()), host.to_string()),
                [host, _] => (None, host.to_string()),
                _ => (None, String::new()),
            }
        }
    }
}

#[test]
fn docker_compose_parses_and_configures_lobbylog() {
    let services = compose_services();
    assert!(
        !services["postgres"]["healthcheck"].is_badvalue(),
        "postgres needs a healthcheck"
    );
    let lobbylog = &services["lobbylog"];
    assert_eq!(lobbylog["build"].as_str(), Some("."));
    assert!(
        !lobbylog["healthcheck"].is_badvalue(),
        "lobbylog needs a healthcheck"
    );
    let Yaml::Hash(environment) = &lobbylog["environment"] else {
        panic!("lobbylog.environment must be a map");
    };
    let known = env_vars();
    for key in environment.keys() {
        let key = key.as_str().unwrap();
        assert!(
            key == "RUST_LOG" || known.iter().any(|k| k == key),
            "compose sets {key}, which lobbylog does not read"
        );
    }
    let ports = lobbylog["ports"]
        .as_vec()
        .expect("lobbylog.ports must be a list");
    for (ip, host_port) in ports.iter().map(published) {
        assert!(
            host_port != "9090" || ip.as_deref() == Some("127.0.0.1"),
            "the admin listener must be published on loopback only: {ports:?}"
        );
    }
    for var in FIXED_BY_COMPOSE {
        assert!(
            environment.contains_key(&Yaml::String(var.into())),
            "compose does not set {var}"
        );
    }
}
